"""Function: the image by digest, its own log group first, and a role that can do only its job."""

from __future__ import annotations

import json

import pytest

from iris_infra.components.function import Function, FunctionArgs

IMAGE_URI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris@sha256:" + "c" * 64
PARAMETER_ARN = "arn:aws:ssm:eu-west-1:123456789012:parameter/iris/dev/openai-api-key"
TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/iris-dev-cache"
BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/iris-dev-function-boundary"


def build(resolve, **overrides):
    args = {
        "function_name": "iris-dev",
        "image_uri": IMAGE_URI,
        "architecture": "arm64",
        "memory_mb": 1024,
        "timeout_seconds": 30,
        "log_retention_days": 7,
        "role_path": "/iris/dev/",
        "permissions_boundary": BOUNDARY_ARN,
        "environment": {"OPENAI_API_KEY_PARAM": "/iris/dev/openai-api-key"},
        "parameter_arns": [PARAMETER_ARN],
        "table_arn": TABLE_ARN,
        **overrides,
    }

    def program():
        function = Function("fn", FunctionArgs(**args))
        return {
            "name": function.function_name,
            "arn": function.arn,
            "invoke_arn": function.invoke_arn,
            "role_arn": function.role_arn,
            "log_group_name": function.log_group_name,
            "version": function.version,
        }

    return resolve(program)


def policy_statements(mocks, name="fn-policy"):
    policy = mocks.resource("aws:iam/rolePolicy:RolePolicy", name)
    return json.loads(policy.inputs["policy"])["Statement"]


def test_the_function_runs_the_image_by_digest(mocks, resolve):
    outputs = build(resolve)
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs["name"] == "iris-dev" == outputs["name"]
    assert function.inputs["packageType"] == "Image"
    assert function.inputs["imageUri"] == IMAGE_URI
    assert function.inputs["architectures"] == ["arm64"]
    assert function.inputs["memorySize"] == 1024
    assert function.inputs["timeout"] == 30
    assert "imageConfig" not in function.inputs
    assert "reservedConcurrentExecutions" not in function.inputs


def test_logs_go_as_json_to_a_log_group_with_retention(mocks, resolve):
    outputs = build(resolve)
    log_group = mocks.resource("aws:cloudwatch/logGroup:LogGroup", "fn-logs")
    assert log_group.inputs["name"] == "/aws/lambda/iris-dev" == outputs["log_group_name"]
    assert log_group.inputs["retentionInDays"] == 7
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    # Naming the group in loggingConfig also orders it before the function.
    assert function.inputs["loggingConfig"] == {
        "logFormat": "JSON",
        "logGroup": "/aws/lambda/iris-dev",
    }


def test_the_environment_is_passed_as_given(mocks, resolve):
    build(resolve)
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs["environment"] == {
        "variables": {"OPENAI_API_KEY_PARAM": "/iris/dev/openai-api-key"}
    }


def test_a_command_overrides_the_images_cmd(mocks, resolve):
    build(resolve, command="authorizer.handler")
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs["imageConfig"] == {"commands": ["authorizer.handler"]}


@pytest.mark.parametrize(("publish", "version"), [(True, "7"), (False, "$LATEST")])
def test_a_published_function_reports_its_newest_version(mocks, resolve, publish, version):
    outputs = build(resolve, publish=publish)
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs.get("publish", False) is publish
    assert outputs["version"] == function.outputs["version"] == version


def test_reserved_concurrency_is_set_when_configured(mocks, resolve):
    build(resolve, reserved_concurrency=20)
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs["reservedConcurrentExecutions"] == 20


def test_only_the_lambda_service_may_assume_the_role(mocks, resolve):
    outputs = build(resolve)
    role = mocks.resource("aws:iam/role:Role", "fn-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs["role"] == role.outputs["arn"] == outputs["role_arn"]
    policy = mocks.resource("aws:iam/rolePolicy:RolePolicy", "fn-policy")
    assert policy.inputs["role"] == role.id


def test_the_policy_grants_only_its_own_logs_parameters_and_table(mocks, resolve):
    build(resolve)
    log_group_arn = mocks.resource("aws:cloudwatch/logGroup:LogGroup", "fn-logs").outputs["arn"]
    statements = {s["Sid"]: s for s in policy_statements(mocks)}
    assert statements["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements["WriteOwnLogs"]["Resource"] == [log_group_arn, f"{log_group_arn}:*"]
    assert statements["ReadOwnParameters"]["Action"] == ["ssm:GetParameter"]
    assert statements["ReadOwnParameters"]["Resource"] == [PARAMETER_ARN]
    assert statements["UseCacheTable"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert statements["UseCacheTable"]["Resource"] == [TABLE_ARN]
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        assert all(resource != "*" for resource in statement["Resource"])


def test_without_a_table_there_is_no_dynamodb_permission(mocks, resolve):
    build(resolve, table_arn=None)
    assert [s["Sid"] for s in policy_statements(mocks)] == ["WriteOwnLogs", "ReadOwnParameters"]


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_architecture_is_passed_through(mocks, resolve, architecture):
    build(resolve, architecture=architecture)
    function = mocks.resource("aws:lambda/function:Function", "fn-function")
    assert function.inputs["architectures"] == [architecture]


def test_counter_keys_get_update_item_on_those_items_only(mocks, resolve):
    build(resolve, table_update_keys=("llm-tokens#*",))
    statements = {s["Sid"]: s for s in policy_statements(mocks)}
    assert statements["UpdateCountersInTable"] == {
        "Sid": "UpdateCountersInTable",
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem"],
        "Resource": [TABLE_ARN],
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["llm-tokens#*"]}},
    }
    # The cache's own access is unchanged.
    assert statements["UseCacheTable"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert "Condition" not in statements["UseCacheTable"]


def test_without_counter_keys_there_is_no_update_item(mocks, resolve):
    build(resolve)
    actions = {action for s in policy_statements(mocks) for action in s["Action"]}
    assert "dynamodb:UpdateItem" not in actions
