"""Config secrets as SSM SecureStrings: functions get parameter names, never the values.

Each parameter's `version` (SSM counts every change of the value) is an output too: a function
that carries it in its configuration gets fresh containers whenever the secret changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class SecretsArgs:
    parameter_prefix: str
    # None for a stack whose functions call no model.
    openai_api_key: pulumi.Input[str] | None = None
    api_keys: pulumi.Input[str] | None = None
    # Whose secrets these are, as the parameters' descriptions name it.
    owner: str = "IRIS"


class Secrets(pulumi.ComponentResource):
    openai_api_key_parameter_name: pulumi.Output[str] | None
    openai_api_key_parameter_arn: pulumi.Output[str] | None
    openai_api_key_parameter_version: pulumi.Output[int] | None
    api_keys_parameter_name: pulumi.Output[str] | None
    api_keys_parameter_arn: pulumi.Output[str] | None
    api_keys_parameter_version: pulumi.Output[int] | None

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:Secrets", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.openai_api_key_parameter_name = None
        self.openai_api_key_parameter_arn = None
        self.openai_api_key_parameter_version = None
        if args.openai_api_key is not None:
            # The OpenAI key, read by the API function once per container.
            openai_api_key = _secure_string(
                f"{name}-openai-api-key",
                f"{args.parameter_prefix}/openai-api-key",
                args.openai_api_key,
                f"OpenAI API key of the {args.owner} analysis function",
                child,
            )
            self.openai_api_key_parameter_name = openai_api_key.name
            self.openai_api_key_parameter_arn = openai_api_key.arn
            self.openai_api_key_parameter_version = openai_api_key.version

        self.api_keys_parameter_name = None
        self.api_keys_parameter_arn = None
        self.api_keys_parameter_version = None
        if args.api_keys is not None:
            # The accepted X-API-Key values, read only by the authorizer function.
            api_keys = _secure_string(
                f"{name}-api-keys",
                f"{args.parameter_prefix}/api-keys",
                args.api_keys,
                f"Comma-separated X-API-Key values accepted by the {args.owner} authorizer",
                child,
            )
            self.api_keys_parameter_name = api_keys.name
            self.api_keys_parameter_arn = api_keys.arn
            self.api_keys_parameter_version = api_keys.version

        self.register_outputs(
            {
                "openai_api_key_parameter_name": self.openai_api_key_parameter_name,
                "openai_api_key_parameter_arn": self.openai_api_key_parameter_arn,
                "openai_api_key_parameter_version": self.openai_api_key_parameter_version,
                "api_keys_parameter_name": self.api_keys_parameter_name,
                "api_keys_parameter_arn": self.api_keys_parameter_arn,
                "api_keys_parameter_version": self.api_keys_parameter_version,
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
