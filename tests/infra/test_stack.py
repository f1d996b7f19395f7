"""Whole stacks, dev and prod, built in one process from the committed stack files; and the
program itself (`__main__.py`) run under the mocks."""

from __future__ import annotations

import json
import re
import runpy

import pulumi
import pytest

from iris_infra import ConfigError, build_stack
from iris_infra.config.checks import PLATFORMS
from tests.infra.conftest import (
    ACCOUNT_ID,
    API_KEYS_SENTINEL,
    REGION,
    build_once,
    repository_url,
    stack_file_config,
)

FUNCTION = "aws:lambda/function:Function"
PARAMETER = "aws:ssm/parameter:Parameter"
ROUTE = "aws:apigatewayv2/route:Route"
ALIAS = "aws:lambda/alias:Alias"
PROVISIONED = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
PERMISSION = "aws:lambda/permission:Permission"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
# What the done-when asks of prod: alarms that mail a person, no cold start.
OPERATED = {"alarmEmail": "oncall@example.com", "provisionedConcurrency": 2}
DIGEST_URI = re.compile(r"[^:@]+/[a-z0-9-]+@sha256:[0-9a-f]{64}")
OUTPUT_NAMES = {
    "apiUrl",
    "healthUrl",
    "analyzeUrl",
    "functionName",
    "imageUri",
    "corsOrigins",
    "liveVersion",
    "dashboardUrl",
    "executeApiUrl",
}


def stack_program(config):
    def program():
        outputs = build_stack(config)
        return {
            "api_url": outputs.api_url,
            "health_url": outputs.health_url,
            "analyze_url": outputs.analyze_url,
            "function_name": outputs.function_name,
            "image_uri": outputs.image_uri,
            "cors_origins": outputs.cors_origins,
            "live_version": outputs.live_version,
            "dashboard_url": outputs.dashboard_url,
        }

    return program


def build(resolve, config):
    return resolve(stack_program(config))


# The stacks most tests look at, each built once for the module.


@pytest.fixture(scope="module")
def dev():
    return build_once(stack_program(stack_file_config("dev")), "dev")


@pytest.fixture(scope="module")
def prod():
    return build_once(stack_program(stack_file_config("prod")), "prod")


@pytest.fixture(scope="module")
def prod_operated():
    """The issue's done-when on prod: alarms that mail a person, no cold start, the warm-up."""
    config = stack_file_config("prod", **OPERATED, warmupIntervalMinutes=5)
    return build_once(stack_program(config), "prod")


def policy_documents(mocks):
    return {
        policy.name: json.loads(policy.inputs["policy"])
        for policy in mocks.of_type("aws:iam/rolePolicy:RolePolicy")
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_exports_the_contract_outputs(request, stack):
    built = request.getfixturevalue(stack)
    outputs = built.outputs

    api = built.resource("aws:apigatewayv2/api:Api", "iris-http-api-api")
    assert outputs["api_url"] == api.outputs["apiEndpoint"]
    assert not outputs["api_url"].endswith("/")
    assert outputs["health_url"] == outputs["api_url"] + "/health"
    assert outputs["analyze_url"] == outputs["api_url"] + "/api/iris/analyze"
    assert outputs["function_name"] == f"iris-{stack}"
    assert DIGEST_URI.fullmatch(outputs["image_uri"]), outputs["image_uri"]
    assert outputs["cors_origins"] == list(stack_file_config(stack).cors_origins)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_api_function_gets_settings_and_parameter_names_only(
    mocks, resolve, stack_config, stack
):
    mocks.use(stack)
    config = stack_config(stack, openaiModel="gpt-test", openaiMaxTokens=700, cacheTtlHours=48)
    build(resolve, config)
    function = mocks.resource(FUNCTION, "iris-api-function-function")
    table = mocks.resource("aws:dynamodb/table:Table", "iris-cache-table")
    key = mocks.resource(PARAMETER, "iris-secrets-openai-api-key")
    assert function.inputs["environment"]["variables"] == {
        "IRIS_LLM_PROVIDER": "openai",
        "OPENAI_MODEL": "gpt-test",
        "OPENAI_MAX_TOKENS": "700",
        "OPENAI_TIMEOUT_S": "14",
        "OPENAI_MAX_RETRIES": "1",
        "OPENAI_API_KEY_PARAM": f"/iris/{stack}/openai-api-key",
        "OPENAI_API_KEY_PARAM_VERSION": str(key.outputs["version"]),
        "IRIS_SECRET_MAX_AGE_S": "300",
        "IRIS_CACHE_TABLE": table.outputs["name"],
        "IRIS_CACHE_TTL_HOURS": "48",
        # The stack fixture sets apiKeys: the function checks that the authorizer ran.
        "IRIS_REQUIRE_AUTHORIZER": "true",
        "IRIS_LLM_DAILY_TOKEN_BUDGET": {"dev": "250000", "prod": "5000000"}[stack],
    }


@pytest.mark.parametrize(("allowance", "variable"), [(0, None), (3, "3")])
def test_the_fail_open_allowance_reaches_the_function_only_when_a_team_opted_in(
    mocks, resolve, stack_config, allowance, variable
):
    build(resolve, stack_config("dev", llmBudgetFailOpenCallsPerContainer=allowance))
    variables = mocks.resource(FUNCTION, "iris-api-function-function").inputs["environment"][
        "variables"
    ]
    assert variables.get("IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER") == variable


@pytest.mark.parametrize(("api_keys", "required"), [(None, None), (API_KEYS_SENTINEL, "true")])
def test_the_api_function_requires_the_authorizer_exactly_when_api_keys_are_set(
    mocks, resolve, stack_config, api_keys, required
):
    build(resolve, stack_config("dev", apiKeys=api_keys))
    variables = mocks.resource(FUNCTION, "iris-api-function-function").inputs["environment"][
        "variables"
    ]
    assert variables.get("IRIS_REQUIRE_AUTHORIZER") == required
    authorizers = mocks.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert bool(authorizers) is (required is not None)


@pytest.mark.parametrize(
    ("timeout", "openai_timeout", "max_retries"),
    [(1, "1", "0"), (2, "1", "0"), (4, "2", "0"), (5, "3", "0"), (7, "5", "0"), (8, "3", "1"),
     (11, "4.5", "1"), (29, "13.5", "1"), (30, "14", "1")],
)  # fmt: skip
def test_the_openai_settings_follow_the_function_timeout(
    mocks, resolve, stack_config, timeout, openai_timeout, max_retries
):
    build(resolve, stack_config("dev", timeoutSeconds=timeout))
    function = mocks.resource(FUNCTION, "iris-api-function-function")
    variables = function.inputs["environment"]["variables"]
    assert function.inputs["timeout"] == timeout
    assert (variables["OPENAI_TIMEOUT_S"], variables["OPENAI_MAX_RETRIES"]) == (
        openai_timeout,
        max_retries,
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_value_leaves_its_ssm_parameter(mocks, resolve, stack_config, sentinels, stack):
    mocks.use(stack)
    # Every optional part declared: alarms, provisioned concurrency, the warm-up.
    outputs = build(resolve, stack_config(stack, **OPERATED, warmupIntervalMinutes=5))
    assert mocks.of_type(ALARM) and mocks.of_type(PROVISIONED) and mocks.of_type(DASHBOARD)

    parameters = json.dumps([p.inputs for p in mocks.of_type(PARAMETER)])
    everything_else = mocks.inputs_json(exclude_type=PARAMETER)
    exported = json.dumps(outputs)
    for value in sentinels.every_value:
        assert value in parameters, "the scan would prove nothing if the secret never arrived"
        assert value not in everything_else, value
        assert value not in exported, value


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_image_platform_is_the_function_architecture(
    mocks, resolve, stack_config, architecture
):
    build(resolve, stack_config("prod", architecture=architecture))
    image = mocks.resource("docker:index/image:Image", "iris-image-image")
    functions = mocks.of_type(FUNCTION)
    assert len(functions) == 2
    for function in functions:
        assert function.inputs["architectures"] == [architecture]
        assert image.inputs["build"]["platform"] == PLATFORMS[architecture]


def test_both_functions_run_the_pushed_digest(prod):
    outputs = prod.outputs
    image = prod.resource("docker:index/image:Image", "iris-image-image")
    for function in prod.of_type(FUNCTION):
        assert function.inputs["packageType"] == "Image"
        assert function.inputs["imageUri"] == outputs["image_uri"] == image.outputs["repoDigest"]
        assert "@sha256:" in function.inputs["imageUri"]
        assert ":latest" not in function.inputs["imageUri"]


def test_the_authorizer_function_runs_the_authorizer_handler(prod):
    authorizer = prod.resource(FUNCTION, "iris-authorizer-function-function")
    parameter = prod.resource(PARAMETER, "iris-secrets-api-keys")
    assert authorizer.inputs["name"] == "iris-prod-authorizer"
    assert authorizer.inputs["imageConfig"] == {"commands": ["authorizer.handler"]}
    assert authorizer.inputs["environment"] == {
        "variables": {
            "IRIS_API_KEYS_PARAM": parameter.inputs["name"],
            "IRIS_API_KEYS_PARAM_VERSION": str(parameter.outputs["version"]),
            "IRIS_SECRET_MAX_AGE_S": "300",
        }
    }
    api_function = prod.resource(FUNCTION, "iris-api-function-function")
    assert "imageConfig" not in api_function.inputs

    authorizer_resource = prod.resource(
        "aws:apigatewayv2/authorizer:Authorizer", "iris-http-api-authorizer"
    )
    assert authorizer_resource.inputs["authorizerResultTtlInSeconds"] == 300


def test_each_role_reads_only_its_own_parameter(prod):
    openai_arn = prod.resource(PARAMETER, "iris-secrets-openai-api-key").outputs["arn"]
    api_keys_arn = prod.resource(PARAMETER, "iris-secrets-api-keys").outputs["arn"]
    table_arn = prod.resource("aws:dynamodb/table:Table", "iris-cache-table").outputs["arn"]
    documents = policy_documents(prod)

    def granted(policy: str, action: str) -> list[str]:
        return [
            resource
            for statement in documents[policy]["Statement"]
            if action in statement["Action"]
            for resource in statement["Resource"]
        ]

    assert granted("iris-api-function-policy", "ssm:GetParameter") == [openai_arn]
    assert granted("iris-authorizer-function-policy", "ssm:GetParameter") == [api_keys_arn]
    assert granted("iris-api-function-policy", "dynamodb:GetItem") == [table_arn]
    assert granted("iris-api-function-policy", "dynamodb:PutItem") == [table_arn]
    assert granted("iris-authorizer-function-policy", "dynamodb:GetItem") == []


def test_the_api_role_may_update_the_token_counters_and_no_other_item(prod):
    table_arn = prod.resource("aws:dynamodb/table:Table", "iris-cache-table").outputs["arn"]
    documents = policy_documents(prod)
    updates = [
        statement
        for document in documents.values()
        for statement in document["Statement"]
        if "dynamodb:UpdateItem" in statement["Action"]
    ]
    assert updates == [
        {
            "Sid": "UpdateCountersInTable",
            "Effect": "Allow",
            "Action": ["dynamodb:UpdateItem"],
            "Resource": [table_arn],
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["llm-tokens#*"]}},
        }
    ]
    assert updates[0] in documents["iris-api-function-policy"]["Statement"]


def test_without_a_budget_nothing_counts_alarms_or_may_update(mocks, resolve, stack_config):
    mocks.use("prod")
    build(resolve, stack_config("prod", **OPERATED, llmDailyTokenBudget=0))
    function = mocks.resource(FUNCTION, "iris-api-function-function")
    assert function.inputs["environment"]["variables"]["IRIS_LLM_DAILY_TOKEN_BUDGET"] == "0"
    actions = {
        action
        for document in policy_documents(mocks).values()
        for statement in document["Statement"]
        for action in statement["Action"]
    }
    assert "dynamodb:UpdateItem" not in actions
    assert not [a for a in mocks.of_type(ALARM) if "llm-budget" in a.inputs["name"]]
    (dashboard,) = mocks.of_type(DASHBOARD)
    (tokens,) = [
        w
        for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]
        if w["properties"]["title"] == "LLM tokens per day"
    ]
    assert "annotations" not in tokens["properties"]


def test_the_budget_alarms_and_dashboard_follow_the_stacks_budget(prod_operated):
    alarms = {a.inputs["name"]: a.inputs for a in prod_operated.of_type(ALARM)}
    assert alarms["iris-prod-llm-budget-80-percent"]["threshold"] == 4_000_000
    assert alarms["iris-prod-llm-budget-80-percent"]["namespace"] == "IRIS/prod"
    (dashboard,) = prod_operated.of_type(DASHBOARD)
    (tokens,) = [
        w
        for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]
        if w["properties"]["title"] == "LLM tokens per day"
    ]
    assert [line["value"] for line in tokens["properties"]["annotations"]["horizontal"]] == [
        5_000_000,
        4_000_000,
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_policy_grants_a_wildcard_action(request, stack):
    built = request.getfixturevalue(stack)
    documents = policy_documents(built)
    assert documents
    for document in documents.values():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all("*" not in action for action in statement["Action"]), statement
            assert "*" not in statement["Resource"], statement


def test_without_api_keys_there_is_no_authorizer(mocks, resolve, stack_config):
    build(resolve, stack_config("dev", apiKeys=None))
    assert [f.name for f in mocks.of_type(FUNCTION)] == ["iris-api-function-function"]
    assert not mocks.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert [p.inputs["name"] for p in mocks.of_type(PARAMETER)] == ["/iris/dev/openai-api-key"]
    assert {r.inputs["authorizationType"] for r in mocks.of_type(ROUTE)} == {"NONE"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_health_stays_open_and_all_of_api_iris_is_guarded(request, stack):
    built = request.getfixturevalue(stack)
    routes = {r.inputs["routeKey"]: r.inputs for r in built.of_type(ROUTE)}
    open_routes = {key for key, route in routes.items() if route["authorizationType"] == "NONE"}
    guarded = {key for key, route in routes.items() if route["authorizationType"] == "CUSTOM"}
    assert open_routes == {"GET /health", "$default"}
    assert guarded == {
        "GET /api/iris/health",
        "POST /api/iris/analyze",
        *(
            f"{method} /api/iris/{{proxy+}}"
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        ),
    }
    assert open_routes | guarded == set(routes)


def test_permissions_are_scoped_to_this_api(prod):
    api = prod.resource("aws:apigatewayv2/api:Api", "iris-http-api-api")
    authorizer = prod.resource("aws:apigatewayv2/authorizer:Authorizer", "iris-http-api-authorizer")
    permissions = {p.name: p.inputs for p in prod.of_type("aws:lambda/permission:Permission")}
    execution_arn = api.outputs["executionArn"]
    assert permissions["iris-http-api-invoke-permission"]["sourceArn"] == f"{execution_arn}/*/*"
    assert permissions["iris-http-api-authorizer-permission"]["sourceArn"] == (
        f"{execution_arn}/authorizers/{authorizer.id}"
    )
    rule = prod.resource("aws:cloudwatch/eventRule:EventRule", "iris-warmup-rule")
    assert permissions["iris-warmup-permission"]["sourceArn"] == rule.outputs["arn"]


def test_prod_keeps_its_data_and_guard_rails(prod):
    table = prod.resource("aws:dynamodb/table:Table", "iris-cache-table")
    repository = prod.resource("aws:ecr/repository:Repository", "iris-image-repository")
    function = prod.resource(FUNCTION, "iris-api-function-function")
    stage = prod.resource("aws:apigatewayv2/stage:Stage", "iris-http-api-stage")
    rule = prod.resource("aws:cloudwatch/eventRule:EventRule", "iris-warmup-rule")
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert repository.inputs["forceDelete"] is False
    assert function.inputs["reservedConcurrentExecutions"] == 20
    assert stage.inputs["defaultRouteSettings"] == {
        "throttlingBurstLimit": 40,
        "throttlingRateLimit": 20,
    }
    assert rule.inputs["scheduleExpression"] == "rate(5 minutes)"


def test_dev_is_cheap_and_disposable(dev):
    table = dev.resource("aws:dynamodb/table:Table", "iris-cache-table")
    repository = dev.resource("aws:ecr/repository:Repository", "iris-image-repository")
    function = dev.resource(FUNCTION, "iris-api-function-function")
    stage = dev.resource("aws:apigatewayv2/stage:Stage", "iris-http-api-stage")
    assert table.inputs["pointInTimeRecovery"] == {"enabled": False}
    assert repository.inputs["forceDelete"] is True
    assert "reservedConcurrentExecutions" not in function.inputs
    assert stage.inputs["defaultRouteSettings"] == {
        "throttlingBurstLimit": 10,
        "throttlingRateLimit": 5,
    }
    assert not dev.of_type("aws:cloudwatch/eventRule:EventRule")


def run_program(project_dir, monkeypatch) -> dict:
    """`__main__.py` as `pulumi up` runs it, with its exports collected."""
    exported: dict = {}
    monkeypatch.setattr(pulumi, "export", exported.__setitem__)
    runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
    return exported


def test_the_program_exports_exactly_the_contract_outputs(
    mocks, resolve, engine_config, sentinels, project_dir, monkeypatch
):
    engine_config(
        {
            "openaiApiKey": sentinels.openai_api_key,
            "apiKeys": sentinels.api_keys,
            "corsOrigins": ["https://app.example.com"],
        },
        secret_keys=("openaiApiKey", "apiKeys"),
    )
    exported = resolve(lambda: run_program(project_dir, monkeypatch))
    assert set(exported) == OUTPUT_NAMES
    assert exported["functionName"] == "iris-dev"
    assert exported["corsOrigins"] == ["https://app.example.com"]
    assert exported["healthUrl"] == exported["apiUrl"] + "/health"
    alias = mocks.resource("aws:lambda/alias:Alias", "iris-api-release-alias")
    assert exported["liveVersion"] == alias.inputs["functionVersion"]
    assert exported["dashboardUrl"].endswith("#dashboards:name=iris-dev")
    text = json.dumps(exported)
    assert not any(value in text for value in sentinels.every_value)
    assert mocks.of_type(FUNCTION)


@pytest.mark.parametrize(
    ("stack", "values", "problem"),
    [
        ("dev", {}, "openaiApiKey is not set"),
        ("dev", {"openaiApiKey": "sk-x", "timeoutSeconds": "45"}, "timeoutSeconds=45"),
        ("prod", {"openaiApiKey": "sk-x", "corsOrigins": ["*"]}, "corsOrigins contains '*'"),
        ("dev", {"openaiApiKey": "sk-x", "architecture": "sparc"}, "architecture='sparc'"),
        ("dev", {"openaiApiKey": "sk-x", "memoryMb": "99999"}, "memoryMb=99999 is out of range"),
    ],
)
def test_a_refused_config_stops_the_program_before_any_resource(
    mocks, engine_config, project_dir, monkeypatch, stack, values, problem
):
    mocks.use(stack)
    engine_config(values, secret_keys=("openaiApiKey",) if "openaiApiKey" in values else ())
    with pytest.raises(ConfigError, match=re.escape(problem)):
        pulumi.runtime.test(lambda: run_program(project_dir, monkeypatch))()
    assert mocks.resources == []


# Releases: everything that calls the API function calls its `live` alias


def test_the_api_function_publishes_versions_and_live_serves_the_newest(prod):
    outputs = prod.outputs
    function = prod.resource(FUNCTION, "iris-api-function-function")
    alias = prod.resource(ALIAS, "iris-api-release-alias")
    assert function.inputs["publish"] is True
    assert alias.inputs["name"] == "live"
    assert alias.inputs["functionName"] == function.outputs["name"]
    assert alias.inputs["functionVersion"] == function.outputs["version"] != "$LATEST"
    assert outputs["live_version"] == alias.inputs["functionVersion"]


def test_the_authorizer_publishes_versions_and_its_own_live_serves_the_newest(prod_operated):
    """It runs the API's image: unversioned, a bad image would break it at once, and rolling
    the API's `live` back would leave it on that image (pitfall 47)."""
    authorizer = prod_operated.resource(FUNCTION, "iris-authorizer-function-function")
    alias = prod_operated.resource(ALIAS, "iris-authorizer-release-alias")
    assert authorizer.inputs["publish"] is True
    assert alias.inputs["name"] == "live"
    assert alias.inputs["functionName"] == authorizer.outputs["name"] == "iris-prod-authorizer"
    assert alias.inputs["functionVersion"] == authorizer.outputs["version"] != "$LATEST"
    # Nothing provisioned for it: it is small, quick to start, and its decisions are cached.
    assert [p.inputs["functionName"] for p in prod_operated.of_type(PROVISIONED)] == ["iris-prod"]


def test_api_gateway_calls_the_authorizers_live_alias(prod):
    alias = prod.resource(ALIAS, "iris-authorizer-release-alias")
    function = prod.resource(FUNCTION, "iris-authorizer-function-function")
    authorizer = prod.resource("aws:apigatewayv2/authorizer:Authorizer", "iris-http-api-authorizer")
    permission = prod.resource(PERMISSION, "iris-http-api-authorizer-permission")
    assert authorizer.inputs["authorizerUri"] == alias.outputs["invokeArn"]
    assert authorizer.inputs["authorizerUri"] != function.outputs["invokeArn"]
    assert alias.outputs["invokeArn"].endswith(":function:iris-prod-authorizer:live/invocations")
    # The permission must be on the alias API Gateway calls, or every guarded request fails.
    assert permission.inputs["function"] == function.outputs["name"]
    assert permission.inputs["qualifier"] == alias.outputs["name"] == "live"


def test_the_http_api_invokes_the_live_alias(prod):
    alias = prod.resource(ALIAS, "iris-api-release-alias")
    function = prod.resource(FUNCTION, "iris-api-function-function")
    integration = prod.resource(
        "aws:apigatewayv2/integration:Integration", "iris-http-api-integration"
    )
    permission = prod.resource(PERMISSION, "iris-http-api-invoke-permission")
    assert integration.inputs["integrationUri"] == alias.outputs["invokeArn"]
    assert integration.inputs["integrationUri"] != function.outputs["invokeArn"]
    # API Gateway's permission must be on the alias it calls, or every request is refused.
    assert permission.inputs["function"] == function.outputs["name"]
    assert permission.inputs["qualifier"] == alias.outputs["name"] == "live"


def test_the_warmup_pings_the_live_alias(prod):
    alias = prod.resource(ALIAS, "iris-api-release-alias")
    target = prod.resource("aws:cloudwatch/eventTarget:EventTarget", "iris-warmup-target")
    permission = prod.resource(PERMISSION, "iris-warmup-permission")
    assert target.inputs["arn"] == alias.outputs["arn"]
    assert permission.inputs["function"] == "iris-prod"
    assert permission.inputs["qualifier"] == "live"


def test_provisioned_concurrency_is_on_the_live_alias(prod_operated):
    (config,) = prod_operated.of_type(PROVISIONED)
    alias = prod_operated.resource(ALIAS, "iris-api-release-alias")
    assert config.inputs["functionName"] == "iris-prod"
    assert config.inputs["qualifier"] == alias.outputs["name"] == "live"
    assert config.inputs["provisionedConcurrentExecutions"] == OPERATED["provisionedConcurrency"]


def test_without_provisioned_concurrency_nothing_is_provisioned(prod):
    assert not prod.of_type(PROVISIONED)


def test_every_invoke_permission_is_on_a_live_alias(prod):
    qualifiers = {p.name: p.inputs.get("qualifier") for p in prod.of_type(PERMISSION)}
    assert qualifiers == {
        "iris-http-api-invoke-permission": "live",
        "iris-warmup-permission": "live",
        "iris-http-api-authorizer-permission": "live",
    }


# A given image: imageUri


def pinned_digest(digest_hex: str = "ab" * 32) -> str:
    return f"{repository_url('iris-prod')}@sha256:{digest_hex}"


def test_a_pinned_digest_is_deployed_as_is_with_no_image_built(mocks, resolve, stack_config):
    pinned = pinned_digest()
    outputs = build(resolve, stack_config("prod", imageUri=pinned))
    assert not mocks.of_type("docker:index/image:Image")
    assert [r.type for r in mocks.resources if r.type.startswith("docker:")] == []
    functions = mocks.of_type(FUNCTION)
    assert len(functions) == 2
    assert {f.inputs["imageUri"] for f in functions} == {pinned}
    assert outputs["image_uri"] == pinned
    # The repository and its lifecycle rule stay: they keep the digests rollbacks need.
    mocks.resource("aws:ecr/repository:Repository", "iris-image-repository")
    mocks.resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", "iris-image-lifecycle")


def test_without_a_pinned_digest_the_image_is_built(prod):
    assert len(prod.of_type("docker:index/image:Image")) == 1


def test_a_digest_of_another_repository_stops_the_deploy_before_any_function(
    mocks, resolve, stack_config
):
    other = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/someone-elses-repo@sha256:{'cd' * 32}"
    config = stack_config("prod", imageUri=other)
    with pytest.raises(ValueError, match="is not in this stack's ECR repository"):
        build(resolve, config)
    assert not mocks.of_type(FUNCTION)
    assert not mocks.of_type("docker:index/image:Image")


@pytest.mark.parametrize(
    "image_uri",
    [
        "iris:latest",
        f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/iris:latest",
        f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/iris:latest@sha256:{'ab' * 32}",
        f"public.ecr.aws/lambda/python@sha256:{'ab' * 32}",
        f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/iris@sha256:123",
    ],
)
def test_a_bad_image_uri_stops_the_program_before_any_resource(
    mocks, engine_config, project_dir, monkeypatch, image_uri
):
    engine_config({"openaiApiKey": "sk-x", "imageUri": image_uri}, secret_keys=("openaiApiKey",))
    with pytest.raises(ConfigError, match=re.escape(f"imageUri={image_uri!r}")):
        pulumi.runtime.test(lambda: run_program(project_dir, monkeypatch))()
    assert mocks.resources == []


# Alarms and the dashboard


def test_prod_fully_operated_declares_releases_alarms_and_dashboard(prod_operated):
    """The issue's done-when: alarmEmail, provisionedConcurrency and the warm-up on prod."""
    outputs = prod_operated.outputs

    alias = prod_operated.resource(ALIAS, "iris-api-release-alias")
    assert (
        prod_operated.resource(PROVISIONED, "iris-api-release-provisioned-concurrency").inputs[
            "qualifier"
        ]
        == alias.outputs["name"]
    )
    assert (
        prod_operated.resource(
            "aws:cloudwatch/eventTarget:EventTarget", "iris-warmup-target"
        ).inputs["arn"]
        == alias.outputs["arn"]
    )

    (topic,) = prod_operated.of_type(TOPIC)
    (subscription,) = prod_operated.of_type(SUBSCRIPTION)
    assert subscription.inputs["topic"] == topic.outputs["arn"]
    assert subscription.inputs["endpoint"] == "oncall@example.com"
    alarms = prod_operated.of_type(ALARM)
    assert {a.inputs["name"] for a in alarms} == {
        "iris-prod-api-5xx",
        "iris-prod-function-errors",
        "iris-prod-function-throttles",
        "iris-prod-function-duration",
        "iris-prod-analysis-failures",
        "iris-prod-llm-budget-80-percent",
        "iris-prod-llm-budget-refusals",
        "iris-prod-llm-budget-counter",
    }
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
        assert alarm.inputs["okActions"] == [topic.outputs["arn"]]

    (dashboard,) = prod_operated.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "iris-prod"
    assert outputs["live_version"] == alias.inputs["functionVersion"]
    assert outputs["dashboard_url"] == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        "#dashboards:name=iris-prod"
    )


def test_the_alarms_watch_this_stacks_api_and_function(prod_operated):
    api = prod_operated.resource("aws:apigatewayv2/api:Api", "iris-http-api-api")
    function = prod_operated.resource(FUNCTION, "iris-api-function-function")
    alarms = {a.inputs["name"]: a.inputs for a in prod_operated.of_type(ALARM)}
    assert alarms["iris-prod-api-5xx"]["dimensions"] == {"ApiId": api.id, "Stage": "$default"}
    for role in ("errors", "throttles", "duration"):
        assert alarms[f"iris-prod-function-{role}"]["dimensions"] == {
            "FunctionName": function.outputs["name"]
        }
    assert alarms["iris-prod-function-duration"]["threshold"] == 29_500
    assert alarms["iris-prod-analysis-failures"]["namespace"] == "IRIS/prod"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_alarm_email_there_is_no_alarm_topic_or_subscription(
    mocks, resolve, stack_config, stack
):
    mocks.use(stack)
    build(resolve, stack_config(stack, provisionedConcurrency=1, warmupIntervalMinutes=5))
    assert not mocks.of_type(ALARM)
    assert not mocks.of_type(TOPIC)
    assert not mocks.of_type(SUBSCRIPTION)
    # The dashboard and the log metrics are there regardless: they cost nothing idle.
    assert len(mocks.of_type(DASHBOARD)) == 1
    assert mocks.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_dashboard_names_this_stacks_resources(request, stack):
    built = request.getfixturevalue(stack)
    (dashboard,) = built.of_type(DASHBOARD)
    body = json.loads(dashboard.inputs["dashboardBody"])
    api = built.resource("aws:apigatewayv2/api:Api", "iris-http-api-api")
    log_group = built.resource("aws:cloudwatch/logGroup:LogGroup", "iris-api-function-logs")
    text = json.dumps(body)
    assert api.id in text
    assert f'"FunctionName", "iris-{stack}"' in text
    assert f"SOURCE '{log_group.outputs['name']}'" in text
    assert f"IRIS/{stack}" in text
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {REGION}


# A secret changed in the stack config reaches every warm container (pitfall 27)


def function_environments(mocks, resolve, config):
    """Each function's environment variables, by function name, for one build of `config`."""
    mocks.use(config.stack)
    build(resolve, config)
    return {
        function.inputs["name"]: mocks.plain(function.inputs["environment"]["variables"])
        for function in mocks.of_type(FUNCTION)
    }


@pytest.mark.parametrize(
    ("secret", "changed_function", "unchanged_function"),
    [
        ("openaiApiKey", "iris-prod", "iris-prod-authorizer"),
        ("apiKeys", "iris-prod-authorizer", "iris-prod"),
    ],
)
def test_a_changed_secret_changes_the_configuration_of_the_function_that_reads_it(
    mocks, resolve, stack_config, sentinels, secret, changed_function, unchanged_function
):
    """Lambda starts fresh containers when a function's configuration changes: a new value,
    through its parameter's version, replaces every warm container that read the old one."""
    rotated = f"rotated-{secret}-5e0b7c"
    before = function_environments(mocks, resolve, stack_config("prod"))
    after = function_environments(mocks, resolve, stack_config("prod", **{secret: rotated}))

    assert after[unchanged_function] == before[unchanged_function]
    changed = {
        name
        for name, value in after[changed_function].items()
        if before[changed_function].get(name) != value
    }
    assert (
        changed
        == {
            "openaiApiKey": {"OPENAI_API_KEY_PARAM_VERSION"},
            "apiKeys": {"IRIS_API_KEYS_PARAM_VERSION"},
        }[secret]
    )
    every_variable = json.dumps([before, after])
    for value in (*sentinels.every_value, rotated):
        assert value not in every_variable


def test_secret_max_age_seconds_reaches_both_functions(mocks, resolve, stack_config):
    environments = function_environments(
        mocks, resolve, stack_config("prod", secretMaxAgeSeconds=120)
    )

    assert {env["IRIS_SECRET_MAX_AGE_S"] for env in environments.values()} == {"120"}
    assert len(environments) == 2
