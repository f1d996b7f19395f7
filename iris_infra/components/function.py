"""A Lambda function from the container image, with its own role, policy and log group."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from iris_infra.components.names import StackNames


@dataclass(frozen=True)
class FunctionArgs:
    function_name: str
    image_uri: pulumi.Input[str]
    architecture: str
    memory_mb: int
    timeout_seconds: int
    log_retention_days: int
    # The role's IAM path, the stack's own (`/iris/dev/`): its name is the function's.
    role_path: str
    # The managed policy the role carries as its permissions boundary (StackNames.boundary_arn):
    # whatever its own policy says, it can do no more than a function of its stack may.
    permissions_boundary: pulumi.Input[str]
    # Settings and parameter names only: a secret value here would be readable by anyone who can
    # read the function's configuration.
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The SSM parameters this function may read, and nothing else.
    parameter_arns: Sequence[pulumi.Input[str]] = ()
    # The DynamoDB table it may read and write, if any.
    table_arn: pulumi.Input[str] | None = None
    # Partition keys (IAM wildcards allowed) of the items of that table it may also update in
    # place, e.g. a counter; none gets no UpdateItem at all.
    table_update_keys: Sequence[str] = ()
    # The S3 objects (their ARNs) it may read, every version of each, and nothing else.
    readable_object_arns: Sequence[pulumi.Input[str]] = ()
    # Its /tmp in MB (Lambda allows 512-10240); None leaves Lambda's 512.
    ephemeral_storage_mb: int | None = None
    # Replaces the image's CMD, so one image serves several handlers.
    command: str | None = None
    reserved_concurrency: int | None = None
    # Publish a numbered version on every change of code or configuration, for an alias to serve.
    publish: bool = False
    description: str = ""


class Function(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    version: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:Function", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Exists before the function so its logs get a retention instead of "never expire".
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name_of(args.function_name),
            retention_in_days=args.log_retention_days,
            opts=child,
        )

        # The identity the function runs as; only the Lambda service may assume it, and its
        # boundary caps it at what a function of its stack may do.
        role = aws.iam.Role(
            f"{name}-role",
            name=args.function_name,
            path=args.role_path,
            permissions_boundary=args.permissions_boundary,
            assume_role_policy=json.dumps(_assume_role_policy("lambda.amazonaws.com")),
            description=f"Runs {args.function_name}",
            opts=child,
        )

        # Least privilege: its own log group, its own parameters, its own table, its own objects.
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                _execution_policy(
                    log_group.arn,
                    args.parameter_arns,
                    args.table_arn,
                    args.table_update_keys,
                    args.readable_object_arns,
                )
            ),
            opts=child,
        )

        # The function itself, pinned to the image digest so every new build updates it; when
        # publishing, each change is also a new immutable version an alias can point at.
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=args.description,
            package_type="Image",
            image_uri=args.image_uri,
            image_config=(
                aws.lambda_.FunctionImageConfigArgs(commands=[args.command])
                if args.command
                else None
            ),
            architectures=[args.architecture],
            memory_size=args.memory_mb,
            ephemeral_storage=(
                aws.lambda_.FunctionEphemeralStorageArgs(size=args.ephemeral_storage_mb)
                if args.ephemeral_storage_mb is not None
                else None
            ),
            timeout=args.timeout_seconds,
            role=role.arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=log_group.name
            ),
            reserved_concurrent_executions=args.reserved_concurrency,
            publish=args.publish,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        self.function_name = function.name
        self.arn = function.arn
        self.invoke_arn = function.invoke_arn
        self.version = function.version
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "arn": self.arn,
                "invoke_arn": self.invoke_arn,
                "version": self.version,
                "role_arn": self.role_arn,
                "log_group_name": self.log_group_name,
            }
        )


def permissions_boundary_of(names: StackNames) -> pulumi.Output[str]:
    """The ARN of the stack's permissions boundary, in the account the program deploys to. An
    administrator creates the policy (`make boundary-policy`); the deployer can neither create
    nor change it, and may create roles only with it."""
    return aws.get_caller_identity_output().account_id.apply(names.boundary_arn)


def log_group_name_of(function_name: str) -> str:
    """The log group Lambda's own tools (`aws logs tail`, the console) expect for a function."""
    return f"/aws/lambda/{function_name}"


def allow_invoke(
    resource_name: str,
    function_name: pulumi.Input[str],
    principal: str,
    source_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    qualifier: pulumi.Input[str] | None = None,
) -> aws.lambda_.Permission:
    """Lets `principal`, calling from `source_arn` and nowhere else, invoke the function, or
    only its alias or version `qualifier`: a caller of an alias needs the permission on it."""
    return aws.lambda_.Permission(
        resource_name,
        action="lambda:InvokeFunction",
        function=function_name,
        qualifier=qualifier,
        principal=principal,
        source_arn=source_arn,
        opts=opts,
    )


def _assume_role_policy(service: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _statement(
    sid: str,
    actions: list[str],
    resources: list[pulumi.Input[str]],
    condition: dict | None = None,
) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _execution_policy(
    log_group_arn: pulumi.Input[str],
    parameter_arns: Sequence[pulumi.Input[str]],
    table_arn: pulumi.Input[str] | None,
    table_update_keys: Sequence[str] = (),
    object_arns: Sequence[pulumi.Input[str]] = (),
) -> dict:
    statements = [
        _statement(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group_arn, pulumi.Output.concat(log_group_arn, ":*")],
        )
    ]
    if parameter_arns:
        statements.append(
            _statement("ReadOwnParameters", ["ssm:GetParameter"], list(parameter_arns))
        )
    if table_arn is not None:
        statements.append(
            _statement("UseCacheTable", ["dynamodb:GetItem", "dynamodb:PutItem"], [table_arn])
        )
        if table_update_keys:
            # Every key the request touches must match (ForAllValues), so an UpdateItem can
            # never rewrite a cached analysis.
            statements.append(
                _statement(
                    "UpdateCountersInTable",
                    ["dynamodb:UpdateItem"],
                    [table_arn],
                    {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(table_update_keys)}},
                )
            )
    if object_arns:
        # GetObjectVersion too: the function reads the one version its configuration names.
        statements.append(
            _statement("ReadOwnObjects", ["s3:GetObject", "s3:GetObjectVersion"], list(object_arns))
        )
    return {"Version": "2012-10-17", "Statement": statements}
