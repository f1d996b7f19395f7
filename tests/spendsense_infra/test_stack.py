"""Both SpendSense shapes, each built once: every route reaches its function's `live` alias, each
function has its own memory, command and role, the roles read that one object and nothing
more, the bucket is private, no secret or data is in any input, and the outputs are the
documented ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from iris_infra.apps.spendsense import routes as spendsense_routes
from iris_infra.apps.spendsense import stack as spendsense_stack
from iris_infra.apps.spendsense.config import PROGRAM_DIR
from iris_infra.apps.spendsense.routes import API_FUNCTION, INSIGHT_PATHS, function_names, routes
from iris_infra.apps.spendsense.stack import DATABASE_KEY, function_name_of
from iris_infra.components.release import LIVE_ALIAS
from iris_infra.config.checks import PLATFORMS
from stack_check.plan import SECRET_SIGNATURE
from tests.infra.conftest import API_KEYS_SENTINEL, REGION, Recorded
from tests.spendsense_infra.conftest import (
    DATA_SENTINEL,
    OUTPUT_NAMES,
    BuiltStack,
    build_spendsense,
)

FUNCTION = "aws:lambda/function:Function"
ALIAS = "aws:lambda/alias:Alias"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
PERMISSION = "aws:lambda/permission:Permission"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PARAMETER = "aws:ssm/parameter:Parameter"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET = "aws:s3/bucket:Bucket"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
DIGEST_URI = re.compile(r"[^:@]+/[a-z0-9-]+@sha256:[0-9a-f]{64}")


def only(found: list[Recorded], what: str) -> Recorded:
    assert len(found) == 1, f"expected one {what}, found {len(found)}"
    return found[0]


def function_named(built: BuiltStack, name: str) -> Recorded:
    functions = built.records.of_type(FUNCTION)
    return only([f for f in functions if f.inputs["name"] == name], f"function {name}")


def data_functions(built: BuiltStack) -> dict[str, Recorded]:
    """The API function and the insights' by their stack key: those that read the database."""
    return {
        key: function_named(built, function_name_of(built.config, key))
        for key in function_names(built.config.deployment)
    }


def function_reached_by(built: BuiltStack, route_key: str) -> Recorded:
    """Route -> its integration -> the invoke ARN it calls -> that alias -> its function."""
    records = built.records
    route = only(
        [r for r in records.of_type(ROUTE) if r.inputs["routeKey"] == route_key], route_key
    )
    integration_id = route.inputs["target"].removeprefix("integrations/")
    integration = only(
        [i for i in records.of_type(INTEGRATION) if i.id == integration_id], "integration"
    )
    alias = only(
        [
            a
            for a in records.of_type(ALIAS)
            if a.outputs["invokeArn"] == integration.inputs["integrationUri"]
        ],
        f"alias called by {route_key}",
    )
    function = only(
        [f for f in records.of_type(FUNCTION) if f.outputs["name"] == alias.inputs["functionName"]],
        f"function of {route_key}",
    )
    assert alias.inputs["name"] == LIVE_ALIAS
    assert alias.inputs["functionVersion"] == function.outputs["version"] != "$LATEST"
    return function


def policy_of(built: BuiltStack, function: Recorded) -> list[dict]:
    """The statements of the one policy on the function's own role."""
    records = built.records
    role = only(
        [r for r in records.of_type(ROLE) if r.outputs["arn"] == function.inputs["role"]], "role"
    )
    policy = only(
        [p for p in records.of_type(ROLE_POLICY) if p.inputs["role"] == role.id], "role policy"
    )
    return json.loads(policy.inputs["policy"])["Statement"]


def assert_reads_exactly_the_database(built: BuiltStack, function: Recorded) -> None:
    database = only(built.records.of_type(OBJECT), "database object")
    reads = [s for s in policy_of(built, function) if any(a.startswith("s3:") for a in s["Action"])]
    assert len(reads) == 1, f"{function.inputs['name']} has {len(reads)} S3 statements"
    assert reads[0]["Effect"] == "Allow"
    assert sorted(reads[0]["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert reads[0]["Resource"] == [database.outputs["arn"]]
    assert "Condition" not in reads[0]


def test_every_route_reaches_its_functions_live_alias(built):
    table = routes(built.config.deployment)
    assert {r.inputs["routeKey"] for r in built.records.of_type(ROUTE)} == {r.key for r in table}
    for route in table:
        function = function_reached_by(built, route.key)
        assert function.inputs["name"] == function_name_of(built.config, route.function)
    split = built.config.deployment == "split"
    for name, path in INSIGHT_PATHS.items():
        reached = function_reached_by(built, f"GET {path}").inputs["name"]
        assert reached == (
            f"spendsense-dev-{name.replace('_', '-')}" if split else "spendsense-dev-api"
        )
    for key in ("GET /health", "$default", "GET /api/stats", "POST /api/{proxy+}"):
        assert function_reached_by(built, key).inputs["name"] == "spendsense-dev-api"


def test_api_gateway_may_invoke_each_alias_it_calls_and_nothing_else(built):
    api = only(built.records.of_type("aws:apigatewayv2/api:Api"), "API")
    invoked = {
        (p.inputs["function"], p.inputs.get("qualifier"), p.inputs["sourceArn"])
        for p in built.records.of_type(PERMISSION)
        if p.inputs["sourceArn"].endswith("/*/*")
    }
    execution = api.outputs["executionArn"] + "/*/*"
    assert invoked == {
        (function_name_of(built.config, key), LIVE_ALIAS, execution)
        for key in function_names(built.config.deployment)
    }


def test_the_routes_are_guarded_exactly_with_api_keys(built):
    with_keys = built.config.api_keys is not None
    for route in routes(built.config.deployment):
        recorded = only(
            [r for r in built.records.of_type(ROUTE) if r.inputs["routeKey"] == route.key],
            route.key,
        )
        guarded = route.guarded and with_keys
        assert recorded.inputs["authorizationType"] == ("CUSTOM" if guarded else "NONE"), route.key
        assert ("authorizerId" in recorded.inputs) is guarded


def test_each_function_has_its_own_memory_command_storage_and_role(built):
    config = built.config
    functions = data_functions(built)
    image_uri = only(built.records.of_type("docker:index/image:Image"), "image")
    for key, function in functions.items():
        expected_command = "handler.handler" if key == API_FUNCTION else f"insights.{key}.handler"
        expected_memory = config.api_memory_mb if key == API_FUNCTION else config.insight_memory_mb
        assert function.inputs["imageConfig"] == {"commands": [expected_command]}
        assert function.inputs["memorySize"] == expected_memory
        assert function.inputs["ephemeralStorage"] == {"size": config.ephemeral_storage_mb}
        assert function.inputs["timeout"] == config.timeout_seconds
        assert function.inputs["architectures"] == [config.architecture]
        assert function.inputs["publish"] is True
        assert DIGEST_URI.fullmatch(function.inputs["imageUri"])
    assert image_uri.inputs["build"]["platform"] == PLATFORMS[config.architecture]
    roles = [f.inputs["role"] for f in built.records.of_type(FUNCTION)]
    assert len(set(roles)) == len(roles) == len(built.records.of_type(ROLE))


def test_the_image_is_built_from_the_repository_root_with_spendsenses_dockerfile(built):
    image = only(built.records.of_type("docker:index/image:Image"), "image")
    build = image.inputs["build"]
    # Relative to the program's directory, where Pulumi runs it.
    assert (PROGRAM_DIR / build["context"]).resolve() == PROGRAM_DIR.parent
    assert (PROGRAM_DIR / build["dockerfile"]) == PROGRAM_DIR / "backend" / "Dockerfile"
    assert (PROGRAM_DIR / build["dockerfile"]).is_file()


def test_the_api_answers_cors_with_spendsenses_lists(built):
    """The lists local_api answers preflights with (local_api.apps): the stack's own."""
    api = only(built.records.of_type("aws:apigatewayv2/api:Api"), "API")
    cors = api.inputs["corsConfiguration"]
    assert cors["allowMethods"] == list(spendsense_routes.CORS_ALLOW_METHODS)
    assert cors["allowHeaders"] == list(spendsense_routes.CORS_ALLOW_HEADERS)
    assert cors["exposeHeaders"] == list(spendsense_routes.CORS_EXPOSE_HEADERS)
    assert cors["maxAge"] == spendsense_routes.CORS_MAX_AGE_SECONDS
    assert cors["allowOrigins"] == list(built.config.cors_origins)


def test_each_role_reads_that_one_object_its_own_logs_and_nothing_else(built):
    for function in data_functions(built).values():
        assert_reads_exactly_the_database(built, function)
        statements = policy_of(built, function)
        assert [s["Sid"] for s in statements] == ["WriteOwnLogs", "ReadOwnObjects"]
        group = built.records.resource(
            "aws:cloudwatch/logGroup:LogGroup",
            function.name.removesuffix("-function") + "-logs",
        )
        assert statements[0]["Resource"][0] == group.outputs["arn"]
        assert group.inputs["name"] == f"/aws/lambda/{function.inputs['name']}"


def test_the_functions_get_the_database_version_and_never_its_content(built):
    bucket = only(built.records.of_type(BUCKET), "bucket")
    database = only(built.records.of_type(OBJECT), "database object")
    guard = {"SPENDSENSE_REQUIRE_AUTHORIZER": "true"} if built.config.api_keys else {}
    for function in data_functions(built).values():
        assert function.inputs["environment"]["variables"] == {
            "SPENDSENSE_DB_BUCKET": bucket.outputs["bucket"],
            "SPENDSENSE_DB_KEY": DATABASE_KEY,
            "SPENDSENSE_DB_VERSION": database.outputs["versionId"],
            **guard,
        }
    assert database.inputs["bucket"] == bucket.outputs["bucket"]
    assert database.inputs["key"] == DATABASE_KEY
    assert Path(database.inputs["source"].path) == built.config.database_path


def test_the_bucket_is_private_encrypted_versioned_and_tls_only(built):
    records = built.records
    bucket = only(records.of_type(BUCKET), "bucket")

    def setting(kind: str) -> Recorded:
        found = only(records.of_type(kind), kind)
        assert found.inputs["bucket"] == bucket.id
        return found

    ownership = setting("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    block = setting("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag
    encryption = setting(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert encryption.inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    ]
    versioning = setting("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    (statement,) = json.loads(setting("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])[
        "Statement"
    ]
    assert statement == {
        "Sid": "DenyRequestsWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert not any("acl" in key.lower() for key in bucket.inputs)
    assert bucket.inputs["forceDestroy"] is True  # a dev stack


def test_the_database_is_uploaded_once_versioning_is_on(built):
    """An object put before versioning has the version id "null", which no function can pin."""
    waits_for = built.records.waits_for["spendsense-data-object"]
    assert {"spendsense-data-versioning", "spendsense-data-encryption"} <= waits_for
    assert "spendsense-data-public-access" in built.records.waits_for["spendsense-data-policy"]


def test_old_database_versions_are_kept_for_rollbacks_and_then_expire(built):
    lifecycle = only(
        built.records.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"),
        "lifecycle",
    )
    (rule,) = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert rule["noncurrentVersionExpiration"] == {
        "noncurrentDays": 30,
        "newerNoncurrentVersions": 10,
    }
    assert "expiration" not in rule  # the current version never expires
    assert "spendsense-data-versioning" in built.records.waits_for["spendsense-data-lifecycle"]


def test_no_secret_or_data_is_in_any_input_but_its_own(built):
    everything = built.records.inputs_json()
    outside_ssm = built.records.inputs_json(exclude_type=PARAMETER)
    for key in API_KEYS_SENTINEL.split(","):
        assert key not in outside_ssm
    assert DATA_SENTINEL not in everything
    assert "SQLite format 3" not in everything
    assert DATA_SENTINEL not in json.dumps(built.outputs)
    parameters = built.records.of_type(PARAMETER)
    if built.config.api_keys is None:
        assert not parameters
        assert not any(k in everything for k in API_KEYS_SENTINEL.split(","))
    else:
        (parameter,) = parameters
        assert parameter.inputs["type"] == "SecureString"
        assert parameter.inputs["value"][SECRET_SIGNATURE[0]] == SECRET_SIGNATURE[1]
        assert built.records.plain(parameter.inputs["value"]) == API_KEYS_SENTINEL


def test_the_authorizer_exists_exactly_with_api_keys_and_alone_reads_them(built):
    authorizers = built.records.of_type(AUTHORIZER)
    name = function_name_of(built.config, "authorizer")
    named = [f for f in built.records.of_type(FUNCTION) if f.inputs["name"] == name]
    if built.config.api_keys is None:
        assert not authorizers and not named
        assert not any(
            s["Sid"] == "ReadOwnParameters"
            for f in data_functions(built).values()
            for s in policy_of(built, f)
        )
        return
    (authorizer,) = authorizers
    (function,) = named
    parameter = only(built.records.of_type(PARAMETER), "parameter")
    alias = built.records.resource(ALIAS, "spendsense-authorizer-release-alias")
    assert authorizer.inputs["authorizerUri"] == alias.outputs["invokeArn"]
    assert function.inputs["imageConfig"] == {"commands": ["authorizer.handler"]}
    assert function.inputs["environment"]["variables"] == {
        "SPENDSENSE_API_KEYS_PARAM": parameter.inputs["name"],
        "SPENDSENSE_API_KEYS_PARAM_VERSION": str(parameter.outputs["version"]),
    }
    assert parameter.inputs["name"] == "/spendsense/dev/api-keys"
    assert "SpendSense authorizer" in parameter.inputs["description"]
    statements = policy_of(built, function)
    assert [s["Sid"] for s in statements] == ["WriteOwnLogs", "ReadOwnParameters"]
    assert statements[1]["Resource"] == [parameter.outputs["arn"]]
    for data_function in data_functions(built).values():
        assert not any(s["Sid"] == "ReadOwnParameters" for s in policy_of(built, data_function))


def test_provisioned_concurrency_is_the_api_functions_alone(built):
    configs = built.records.of_type(
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
    )
    wanted = built.config.provisioned_concurrency
    assert [
        (
            c.inputs["functionName"],
            c.inputs["qualifier"],
            c.inputs["provisionedConcurrentExecutions"],
        )
        for c in configs
    ] == ([("spendsense-dev-api", LIVE_ALIAS, wanted)] if wanted else [])


def test_every_function_is_on_the_dashboard_and_alarmed_with_an_email(built):
    dashboard = only(built.records.of_type("aws:cloudwatch/dashboard:Dashboard"), "dashboard")
    functions = [f.inputs["name"] for f in built.records.of_type(FUNCTION)]
    for name in functions:
        assert f'"FunctionName", "{name}"' in dashboard.inputs["dashboardBody"], name
    alarms = {alarm.inputs["name"] for alarm in built.records.of_type(ALARM)}
    if built.config.alarm_email is None:
        assert not alarms and not built.records.of_type("aws:sns/topic:Topic")
        return
    keys = [*function_names(built.config.deployment), "authorizer"]
    assert alarms == {"spendsense-dev-api-5xx"} | {
        f"spendsense-dev-{key.replace('_', '-')}-function-{what}"
        for key in keys
        for what in ("errors", "throttles", "duration")
    }
    subscription = only(
        built.records.of_type("aws:sns/topicSubscription:TopicSubscription"), "subscription"
    )
    assert subscription.inputs["endpoint"] == built.config.alarm_email


def test_the_outputs_are_the_contracts(built):
    outputs = built.outputs
    api = only(built.records.of_type("aws:apigatewayv2/api:Api"), "API")
    bucket = only(built.records.of_type(BUCKET), "bucket")
    database = only(built.records.of_type(OBJECT), "database object")
    assert set(outputs) == OUTPUT_NAMES
    assert outputs["apiUrl"] == api.outputs["apiEndpoint"] and not outputs["apiUrl"].endswith("/")
    assert outputs["apiUrl"].endswith(f".execute-api.{REGION}.amazonaws.com")
    assert outputs["healthUrl"] == outputs["apiUrl"] + "/health"
    assert outputs["functionNames"] == {
        key: function_name_of(built.config, key) for key in function_names(built.config.deployment)
    }
    expected_keys = {"api", *INSIGHT_PATHS} if built.config.deployment == "split" else {"api"}
    assert set(outputs["functionNames"]) == expected_keys
    assert outputs["databaseBucket"] == bucket.outputs["bucket"]
    assert outputs["databaseKey"] == DATABASE_KEY
    assert outputs["databaseVersion"] == database.outputs["versionId"]


def test_a_function_without_its_s3_permission_fails_the_wiring_check(config_of, monkeypatch):
    """The check above is not vacuous: cut the API function's read of the object and it fails."""
    original = spendsense_stack.FunctionArgs

    def without_object_read(**args):
        if args["function_name"].endswith("-api"):
            args["readable_object_arns"] = ()
        return original(**args)

    monkeypatch.setattr(spendsense_stack, "FunctionArgs", without_object_read)
    cut = build_spendsense(config_of(deployment="single"))
    with pytest.raises(AssertionError, match="spendsense-dev-api has 0 S3 statements"):
        assert_reads_exactly_the_database(cut, function_named(cut, "spendsense-dev-api"))
