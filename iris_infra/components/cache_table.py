"""A cache every container of a stack shares: one on-demand DynamoDB table whose items expire
by TTL."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

HASH_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class CacheTableArgs:
    # Its physical name (StackNames.cache_table), which the functions' policies name.
    table_name: str
    # Point-in-time recovery costs storage; only production stacks pay for it.
    point_in_time_recovery: bool = False


class CacheTable(pulumi.ComponentResource):
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CacheTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:CacheTable", name, {}, opts)

        # Shared by every container; on-demand billing costs nothing while idle.
        table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=HASH_KEY, type="S")],
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
                enabled=args.point_in_time_recovery
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.table_name = table.name
        self.table_arn = table.arn
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})
