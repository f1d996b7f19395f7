"""Config secrets as SSM SecureStrings: functions get parameter names, never the values.

Any number of named secrets, one parameter each (`<prefix>/<name>`), each named by the app that
declares it. Each parameter's `version` (SSM counts every change of the value) is an output
too: a function that carries it in its configuration gets fresh containers whenever the secret
changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

SECRET_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class SecretValue:
    value: pulumi.Input[str]
    # The parameter's description: what the secret is and who reads it.
    description: str


@dataclass(frozen=True)
class SecretsArgs:
    parameter_prefix: str
    # A name (lower-case words joined by '-': `openai-api-key`) -> the secret. The name ends
    # both the parameter's name and its resource's logical name (`<component>-<name>`).
    secrets: Mapping[str, SecretValue]


@dataclass(frozen=True)
class SecretParameter:
    """One secret's parameter: its name (what a function is given), its ARN (what a function's
    role may read) and its version (what changes with the value)."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    version: pulumi.Output[int]


class Secrets(pulumi.ComponentResource):
    # The parameter of each secret, by its name.
    parameters: dict[str, SecretParameter]

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        for secret_name in args.secrets:
            if not SECRET_NAME.fullmatch(secret_name):
                raise ValueError(
                    f"secret name {secret_name!r} cannot name a parameter; use lower-case "
                    "letters and digits in words joined by '-', e.g. openai-api-key"
                )
        super().__init__("iris:index:Secrets", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.parameters = {}
        for secret_name, secret in args.secrets.items():
            # Read only by the functions whose roles name its ARN, once per container.
            parameter = _secure_string(
                f"{name}-{secret_name}",
                f"{args.parameter_prefix}/{secret_name}",
                secret.value,
                secret.description,
                child,
            )
            self.parameters[secret_name] = SecretParameter(
                parameter.name, parameter.arn, parameter.version
            )

        self.register_outputs(
            {
                f"{secret_name}-parameter": {
                    "name": outputs.name,
                    "arn": outputs.arn,
                    "version": outputs.version,
                }
                for secret_name, outputs in self.parameters.items()
            }
        )


def _secure_string(
    resource_name: str,
    parameter_name: str,
    value: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.ssm.Parameter:
    # Standard tier: free, and 4 KB is plenty for keys.
    return aws.ssm.Parameter(
        resource_name,
        name=parameter_name,
        type="SecureString",
        tier="Standard",
        value=pulumi.Output.secret(value),
        description=description,
        opts=opts,
    )
