"""Releases: the `live` alias on the function's newest published version, and the provisioned
concurrency that keeps instances of it initialized.

Everything that calls a released function calls its `live`, so a rollback is one alias update
(`aws lambda update-alias --name live --function-version N`), with no deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

LIVE_ALIAS = "live"


@dataclass(frozen=True)
class ReleaseArgs:
    function_name: pulumi.Input[str]
    # The version to serve: the function's newest published one.
    function_version: pulumi.Input[str]
    # Instances kept initialized on the alias; 0 for none (validated by StackConfig).
    provisioned_concurrency: int = 0
    description: str = "The version this function serves; everything that calls it calls this"


class Release(pulumi.ComponentResource):
    alias_name: pulumi.Output[str]
    alias_arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(
        self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:Release", name, {}, opts)

        # What callers invoke: moving it to another version releases or rolls back at once.
        alias = aws.lambda_.Alias(
            f"{name}-alias",
            name=LIVE_ALIAS,
            function_name=args.function_name,
            function_version=args.function_version,
            description=args.description,
            opts=pulumi.ResourceOptions(parent=self),
        )

        if args.provisioned_concurrency > 0:
            # Initialized instances of whatever version `live` serves: no cold start up to this
            # many concurrent requests. Billed while idle; Lambda needs an alias or version.
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-provisioned-concurrency",
                function_name=args.function_name,
                qualifier=alias.name,
                provisioned_concurrent_executions=args.provisioned_concurrency,
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.alias_name = alias.name
        self.alias_arn = alias.arn
        self.invoke_arn = alias.invoke_arn
        self.version = alias.function_version
        self.register_outputs(
            {
                "alias_name": self.alias_name,
                "alias_arn": self.alias_arn,
                "invoke_arn": self.invoke_arn,
                "version": self.version,
            }
        )
