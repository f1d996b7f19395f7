"""HttpApi: CORS in one place, a route table over any number of functions (each reached through
its own alias's integration, guarded routes behind the authorizer when there is one), a
$default stage with throttling and access logs, and invoke permissions scoped to this API."""

from __future__ import annotations

import json
import re

import pytest

from iris_infra.apps.iris import routes as iris_routes
from iris_infra.components.http_api import (
    ApiKeyAuthorizerArgs,
    ApiTarget,
    HttpApi,
    HttpApiArgs,
)
from iris_infra.components.routes import DEFAULT_ROUTE, GUARDED_METHODS, Route, guarded_prefix
from stack_check.plan import invoke_arn
from tests.infra.conftest import ACCOUNT_ID, REGION, build_once

API = "aws:apigatewayv2/api:Api"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
PERMISSION = "aws:lambda/permission:Permission"
AUTHORIZER = "aws:apigatewayv2/authorizer:Authorizer"


def alias_invoke_arn(function_name: str, alias: str | None = "live") -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
    return invoke_arn(f"{arn}:{alias}" if alias else arn, REGION)


def authorizer_args(qualifier: str | None) -> ApiKeyAuthorizerArgs:
    return ApiKeyAuthorizerArgs(
        function_name="app-dev-authorizer",
        invoke_arn=alias_invoke_arn("app-dev-authorizer", qualifier),
        cache_ttl_seconds=300,
        function_qualifier=qualifier,
    )


def target(function_name: str, qualifier: str | None = "live") -> ApiTarget:
    return ApiTarget(function_name, alias_invoke_arn(function_name, qualifier), qualifier)


def iris_args(**overrides) -> HttpApiArgs:
    """IRIS's table and CORS, one function."""
    return HttpApiArgs(
        **{
            "api_name": "iris-dev",
            "targets": {"api": target("iris-dev", None)},
            "routes": iris_routes.ROUTES,
            "cors_origins": ("https://app.example.com", "http://localhost:5173"),
            "cors_allow_methods": iris_routes.CORS_ALLOW_METHODS,
            "cors_allow_headers": iris_routes.CORS_ALLOW_HEADERS,
            "cors_expose_headers": iris_routes.CORS_EXPOSE_HEADERS,
            "throttle_burst_limit": 10,
            "throttle_rate_limit": 5,
            "log_retention_days": 7,
            "tags": {"stack": "app-dev"},
            **overrides,
        }
    )


# Two functions: an insight function behind its own guarded route, the API function behind
# the rest; default CORS.
TWO_TARGETS = {"api": target("app-dev"), "net_worth": target("app-dev-net-worth")}
TWO_TARGET_ROUTES = (
    Route("GET /health", "api"),
    Route(DEFAULT_ROUTE, "api"),
    Route("GET /api/stats", "api", guarded=True),
    Route("GET /api/insights/net-worth", "net_worth", guarded=True),
    *guarded_prefix("/api", "api"),
)


def two_target_args(**overrides) -> HttpApiArgs:
    return HttpApiArgs(
        **{
            "api_name": "app-dev",
            "targets": TWO_TARGETS,
            "routes": TWO_TARGET_ROUTES,
            "cors_origins": ("https://app.example.com",),
            "throttle_burst_limit": 10,
            "throttle_rate_limit": 5,
            "log_retention_days": 7,
            "tags": {"stack": "app-dev"},
            **overrides,
        }
    )


def build(args: HttpApiArgs):
    def program():
        api = HttpApi("web", args)
        return {
            "url": api.url,
            "api_id": api.api_id,
            "execution_arn": api.execution_arn,
            "authorizer_id": api.authorizer_id,
            "stage_name": api.stage_name,
        }

    return build_once(program)


@pytest.fixture(scope="module")
def iris_open():
    """IRIS's table without API keys: no authorizer, the function itself unqualified."""
    return build(iris_args())


@pytest.fixture(scope="module")
def iris_guarded():
    """IRIS's table with API keys: the function's `live`, an unqualified authorizer."""
    return build(iris_args(targets={"api": target("iris-dev")}, authorizer=authorizer_args(None)))


@pytest.fixture(scope="module")
def two_targets():
    return build(two_target_args(authorizer=authorizer_args("live")))


def routes_of(built):
    return {route.inputs["routeKey"]: route.inputs for route in built.of_type(ROUTE)}


def test_cors_is_configured_on_the_api_from_the_stacks_values(iris_open):
    api = iris_open.resource(API, "web-api")
    assert api.inputs["protocolType"] == "HTTP"
    assert api.inputs["corsConfiguration"] == {
        "allowOrigins": ["https://app.example.com", "http://localhost:5173"],
        "allowMethods": ["GET", "POST", "OPTIONS"],
        "allowHeaders": ["content-type", "x-api-key"],
        "exposeHeaders": ["x-request-id", "retry-after"],
        "maxAge": 600,
        "allowCredentials": False,
    }


def test_the_default_cors_suits_any_json_api(two_targets):
    """Every method a client may send, a JSON body and the API key; the request id exposed."""
    cors = two_targets.resource(API, "web-api").inputs["corsConfiguration"]
    assert cors["allowMethods"] == [*GUARDED_METHODS, "OPTIONS"]
    assert cors["allowHeaders"] == ["content-type", "x-api-key"]
    assert cors["exposeHeaders"] == ["x-request-id"]
    assert cors["maxAge"] == 600
    assert cors["allowCredentials"] is False


def test_the_url_has_no_trailing_slash(iris_open):
    api = iris_open.resource(API, "web-api")
    url = iris_open.outputs["url"]
    assert url == api.outputs["apiEndpoint"]
    assert url.startswith("https://") and not url.endswith("/")


def test_the_default_stage_throttles_and_logs_every_request(iris_open):
    stage = iris_open.resource("aws:apigatewayv2/stage:Stage", "web-stage")
    access_logs = iris_open.resource("aws:cloudwatch/logGroup:LogGroup", "web-access-logs")
    assert stage.inputs["name"] == "$default" == iris_open.outputs["stage_name"]
    assert stage.inputs["autoDeploy"] is True
    assert stage.inputs["defaultRouteSettings"] == {
        "throttlingBurstLimit": 10,
        "throttlingRateLimit": 5,
    }
    assert stage.inputs["accessLogSettings"]["destinationArn"] == access_logs.outputs["arn"]
    log_format = json.loads(stage.inputs["accessLogSettings"]["format"])
    assert log_format["requestId"] == "$context.requestId"
    assert log_format["status"] == "$context.status"
    assert access_logs.inputs["retentionInDays"] == 7
    assert access_logs.inputs["name"] == "/aws/vendedlogs/apigateway/iris-dev"


@pytest.mark.parametrize("built", ["iris_open", "two_targets"])
def test_each_integration_is_a_payload_2_proxy_within_the_30_second_limit(request, built):
    integrations = request.getfixturevalue(built).of_type(INTEGRATION)
    assert integrations
    for integration in integrations:
        assert integration.inputs["integrationType"] == "AWS_PROXY"
        assert integration.inputs["integrationMethod"] == "POST"
        assert integration.inputs["payloadFormatVersion"] == "2.0"
        assert 0 < integration.inputs["timeoutMilliseconds"] <= 30_000


@pytest.mark.parametrize("built", ["iris_open", "iris_guarded"])
def test_every_route_of_the_table_reaches_the_one_function(request, built):
    built = request.getfixturevalue(built)
    (integration,) = built.of_type(INTEGRATION)
    assert integration.name == "web-integration"
    found = routes_of(built)
    assert sorted(found) == sorted(route.key for route in iris_routes.ROUTES)
    for route in found.values():
        assert route["target"] == f"integrations/{integration.id}"


def test_without_an_authorizer_every_route_is_open(iris_open):
    assert iris_open.outputs["authorizer_id"] is None
    assert not iris_open.of_type(AUTHORIZER)
    assert {route["authorizationType"] for route in routes_of(iris_open).values()} == {"NONE"}
    assert not any("authorizerId" in route for route in routes_of(iris_open).values())


@pytest.mark.parametrize(
    ("built", "table"), [("iris_guarded", iris_routes.ROUTES), ("two_targets", TWO_TARGET_ROUTES)]
)
def test_guarded_routes_are_custom_with_the_authorizer_and_open_ones_none(request, built, table):
    built = request.getfixturevalue(built)
    (authorizer,) = built.of_type(AUTHORIZER)
    assert built.outputs["authorizer_id"] == authorizer.id
    found = routes_of(built)
    assert set(found) == {route.key for route in table}
    for route in table:
        if route.guarded:
            assert found[route.key]["authorizationType"] == "CUSTOM", route.key
            assert found[route.key]["authorizerId"] == authorizer.id, route.key
        else:
            assert found[route.key]["authorizationType"] == "NONE", route.key
            assert "authorizerId" not in found[route.key], route.key


def test_no_any_or_options_route_sits_behind_the_authorizer(iris_guarded):
    """API Gateway must keep answering preflights itself from the CORS configuration."""
    guarded = [k for k, r in routes_of(iris_guarded).items() if r["authorizationType"] != "NONE"]
    assert {key.split(" ", 1)[0] for key in guarded} == set(GUARDED_METHODS)
    assert all(key.split(" ", 1)[1].startswith("/api/iris/") for key in guarded), guarded


def test_the_authorizer_checks_the_api_key_header(iris_guarded):
    authorizer = iris_guarded.resource(AUTHORIZER, "web-authorizer")
    api = iris_guarded.resource(API, "web-api")
    assert authorizer.inputs["apiId"] == api.id
    assert authorizer.inputs["authorizerType"] == "REQUEST"
    assert authorizer.inputs["authorizerUri"] == alias_invoke_arn("app-dev-authorizer", None)
    assert authorizer.inputs["authorizerPayloadFormatVersion"] == "2.0"
    assert authorizer.inputs["enableSimpleResponses"] is True
    assert authorizer.inputs["identitySources"] == ["$request.header.x-api-key"]
    assert authorizer.inputs["authorizerResultTtlInSeconds"] == 300


@pytest.mark.parametrize(("built", "qualifier"), [("iris_open", None), ("iris_guarded", "live")])
def test_only_this_api_may_invoke_the_function(request, built, qualifier):
    built = request.getfixturevalue(built)
    permission = built.resource(PERMISSION, "web-invoke-permission")
    execution_arn = built.outputs["execution_arn"]
    assert permission.inputs["function"] == "iris-dev"
    assert permission.inputs.get("qualifier") == qualifier
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == f"{execution_arn}/*/*"
    assert execution_arn.startswith("arn:aws:execute-api:")


@pytest.mark.parametrize(("built", "qualifier"), [("iris_guarded", None), ("two_targets", "live")])
def test_only_this_apis_authorizer_may_invoke_the_authorizer_function(request, built, qualifier):
    built = request.getfixturevalue(built)
    permission = built.resource(PERMISSION, "web-authorizer-permission")
    assert permission.inputs["function"] == "app-dev-authorizer"
    assert permission.inputs.get("qualifier") == qualifier
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == (
        f"{built.outputs['execution_arn']}/authorizers/{built.outputs['authorizer_id']}"
    )


# Several functions behind one API


def test_the_default_routes_target_keeps_the_single_function_names(two_targets):
    """Adding a function to a stack leaves the names, so the URNs, of its API's integration
    and permission as they were; the others carry their key."""
    assert {i.name for i in two_targets.of_type(INTEGRATION)} == {
        "web-integration",
        "web-integration-net-worth",
    }
    assert {p.name for p in two_targets.of_type(PERMISSION)} == {
        "web-invoke-permission",
        "web-invoke-permission-net-worth",
        "web-authorizer-permission",
    }


def test_each_route_reaches_its_own_functions_alias(two_targets):
    integration_of = {
        "api": two_targets.resource(INTEGRATION, "web-integration"),
        "net_worth": two_targets.resource(INTEGRATION, "web-integration-net-worth"),
    }
    for key, integration in integration_of.items():
        assert integration.inputs["integrationUri"] == TWO_TARGETS[key].invoke_arn
        assert integration.inputs["integrationUri"].endswith(":live/invocations")
    found = routes_of(two_targets)
    for route in TWO_TARGET_ROUTES:
        assert found[route.key]["target"] == (
            f"integrations/{integration_of[route.function].id}"
        ), route.key
    # The insight's integration serves its route and nothing else.
    net_worth = f"integrations/{integration_of['net_worth'].id}"
    assert [k for k, r in found.items() if r["target"] == net_worth] == [
        "GET /api/insights/net-worth"
    ]


@pytest.mark.parametrize(
    ("permission", "function_name"),
    [
        ("web-invoke-permission", "app-dev"),
        ("web-invoke-permission-net-worth", "app-dev-net-worth"),
    ],
)
def test_each_permission_names_its_own_alias_and_this_api(two_targets, permission, function_name):
    found = two_targets.resource(PERMISSION, permission).inputs
    assert found["function"] == function_name
    assert found["qualifier"] == "live"
    assert found["principal"] == "apigateway.amazonaws.com"
    assert found["sourceArn"] == f"{two_targets.outputs['execution_arn']}/*/*"


@pytest.mark.parametrize(
    ("routes", "targets", "named"),
    [
        (
            (*TWO_TARGET_ROUTES, Route("GET /api/insights/weekly-recap", "weekly_recap")),
            TWO_TARGETS,
            "'GET /api/insights/weekly-recap' reaches function 'weekly_recap'",
        ),
        (
            (*TWO_TARGET_ROUTES, Route("ANY /api/admin", "api", guarded=True)),
            TWO_TARGETS,
            "'ANY /api/admin' cannot be guarded",
        ),
        (
            (*TWO_TARGET_ROUTES, Route("OPTIONS /api/stats", "api", guarded=True)),
            TWO_TARGETS,
            "'OPTIONS /api/stats' cannot be guarded",
        ),
        (
            (*TWO_TARGET_ROUTES, Route("GET /api/stats", "net_worth")),
            TWO_TARGETS,
            "'GET /api/stats' is declared twice",
        ),
        (
            TWO_TARGET_ROUTES,
            {**TWO_TARGETS, "budget_tracking": target("app-dev-budget-tracking")},
            "function 'budget_tracking' has no route",
        ),
        (
            (*TWO_TARGET_ROUTES, Route("GET /api/a-b", "api"), Route("GET /api/a/b", "api")),
            TWO_TARGETS,
            "routes 'GET /api/a-b' and 'GET /api/a/b' would share the resource name",
        ),
        (
            (*TWO_TARGET_ROUTES, Route("GET /api/insights/net_worth", "net-worth")),
            {**TWO_TARGETS, "net-worth": target("app-dev-net-worth-2")},
            "targets 'net_worth' and 'net-worth' would share the resource name",
        ),
    ],
)
def test_a_table_api_gateway_would_refuse_is_refused_naming_the_route(routes, targets, named):
    with pytest.raises(ValueError, match=re.escape(named)) as refused:
        two_target_args(routes=routes, targets=targets, authorizer=authorizer_args("live"))
    assert "HTTP API 'app-dev'" in str(refused.value)
