"""HttpApi: CORS in one place, open and guarded routes, a $default stage with throttling and
access logs, and invoke permissions scoped to this API."""

from __future__ import annotations

import json

import pytest

from iris_infra.http_api import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    CORS_MAX_AGE_SECONDS,
    ApiKeyAuthorizerArgs,
    HttpApi,
    HttpApiArgs,
)

ROUTE = "aws:apigatewayv2/route:Route"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_INVOKE_ARN = (
    "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:eu-west-1:123456789012:function:iris-dev/invocations"
)
AUTHORIZER_INVOKE_ARN = FUNCTION_INVOKE_ARN.replace("iris-dev", "iris-dev-authorizer")
# Everything under /api/iris/: the two IRIS routes, and a greedy route per method for the rest.
IRIS_ROUTES = {
    "GET /api/iris/health",
    "POST /api/iris/analyze",
    "GET /api/iris/{proxy+}",
    "HEAD /api/iris/{proxy+}",
    "POST /api/iris/{proxy+}",
    "PUT /api/iris/{proxy+}",
    "PATCH /api/iris/{proxy+}",
    "DELETE /api/iris/{proxy+}",
}


def build(
    resolve,
    *,
    with_authorizer=False,
    origins=("https://app.example.com",),
    qualifier=None,
    authorizer_qualifier=None,
):
    authorizer = (
        ApiKeyAuthorizerArgs(
            function_name="iris-dev-authorizer",
            invoke_arn=AUTHORIZER_INVOKE_ARN,
            cache_ttl_seconds=300,
            function_qualifier=authorizer_qualifier,
        )
        if with_authorizer
        else None
    )

    def program():
        api = HttpApi(
            "web",
            HttpApiArgs(
                api_name="iris-dev",
                function_name="iris-dev",
                function_invoke_arn=FUNCTION_INVOKE_ARN,
                cors_origins=origins,
                throttle_burst_limit=10,
                throttle_rate_limit=5,
                log_retention_days=7,
                authorizer=authorizer,
                function_qualifier=qualifier,
            ),
        )
        return {
            "url": api.url,
            "api_id": api.api_id,
            "execution_arn": api.execution_arn,
            "authorizer_id": api.authorizer_id,
        }

    return resolve(program)


def routes(mocks):
    return {route.inputs["routeKey"]: route.inputs for route in mocks.of_type(ROUTE)}


def test_cors_is_configured_on_the_api(mocks, resolve):
    build(resolve, origins=("https://app.example.com", "http://localhost:5173"))
    api = mocks.resource("aws:apigatewayv2/api:Api", "web-api")
    assert api.inputs["protocolType"] == "HTTP"
    assert api.inputs["corsConfiguration"] == {
        "allowOrigins": ["https://app.example.com", "http://localhost:5173"],
        "allowMethods": ["GET", "POST", "OPTIONS"],
        "allowHeaders": ["content-type", "x-api-key"],
        "exposeHeaders": ["x-request-id", "retry-after"],
        "maxAge": 600,
        "allowCredentials": False,
    }


def test_the_cors_constants_are_what_the_local_run_mirrors():
    assert CORS_ALLOW_METHODS == ("GET", "POST", "OPTIONS")
    assert CORS_ALLOW_HEADERS == ("content-type", "x-api-key")
    assert CORS_EXPOSE_HEADERS == ("x-request-id", "retry-after")
    assert CORS_MAX_AGE_SECONDS == 600


def test_the_url_has_no_trailing_slash(mocks, resolve):
    outputs = build(resolve)
    api = mocks.resource("aws:apigatewayv2/api:Api", "web-api")
    assert outputs["url"] == api.outputs["apiEndpoint"]
    assert outputs["url"].startswith("https://") and not outputs["url"].endswith("/")


def test_the_default_stage_throttles_and_logs_every_request(mocks, resolve):
    build(resolve)
    stage = mocks.resource("aws:apigatewayv2/stage:Stage", "web-stage")
    access_logs = mocks.resource("aws:cloudwatch/logGroup:LogGroup", "web-access-logs")
    assert stage.inputs["name"] == "$default"
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


def test_the_integration_is_a_payload_2_proxy_within_the_30_second_limit(mocks, resolve):
    build(resolve)
    integration = mocks.resource("aws:apigatewayv2/integration:Integration", "web-integration")
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["integrationUri"] == FUNCTION_INVOKE_ARN
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert 0 < integration.inputs["timeoutMilliseconds"] <= 30_000


@pytest.mark.parametrize("with_authorizer", [False, True])
def test_the_contract_routes_all_reach_the_function(mocks, resolve, with_authorizer):
    build(resolve, with_authorizer=with_authorizer)
    integration = mocks.resource("aws:apigatewayv2/integration:Integration", "web-integration")
    found = routes(mocks)
    assert set(found) == {"GET /health", "$default", *IRIS_ROUTES}
    for route in found.values():
        assert route["target"] == f"integrations/{integration.id}"


def test_without_api_keys_every_route_is_open(mocks, resolve):
    outputs = build(resolve)
    assert outputs["authorizer_id"] is None
    assert not mocks.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert {route["authorizationType"] for route in routes(mocks).values()} == {"NONE"}


def test_with_api_keys_all_of_api_iris_is_guarded_and_health_stays_open(mocks, resolve):
    outputs = build(resolve, with_authorizer=True)
    found = routes(mocks)
    for key in IRIS_ROUTES:
        assert found[key]["authorizationType"] == "CUSTOM", key
        assert found[key]["authorizerId"] == outputs["authorizer_id"], key
    for key in ("GET /health", "$default"):
        assert found[key]["authorizationType"] == "NONE"
        assert "authorizerId" not in found[key]
    assert set(found) - IRIS_ROUTES == {"GET /health", "$default"}


def test_no_any_or_options_route_sits_behind_the_authorizer(mocks, resolve):
    """API Gateway must keep answering preflights itself from the CORS configuration."""
    build(resolve, with_authorizer=True)
    guarded = [key for key, route in routes(mocks).items() if route["authorizationType"] != "NONE"]
    methods = {key.split(" ", 1)[0] for key in guarded}
    assert methods == {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
    assert all(key.split(" ", 1)[1].startswith("/api/iris/") for key in guarded), guarded


def test_the_authorizer_checks_the_api_key_header(mocks, resolve):
    build(resolve, with_authorizer=True)
    authorizer = mocks.resource("aws:apigatewayv2/authorizer:Authorizer", "web-authorizer")
    api = mocks.resource("aws:apigatewayv2/api:Api", "web-api")
    assert authorizer.inputs["apiId"] == api.id
    assert authorizer.inputs["authorizerType"] == "REQUEST"
    assert authorizer.inputs["authorizerUri"] == AUTHORIZER_INVOKE_ARN
    assert authorizer.inputs["authorizerPayloadFormatVersion"] == "2.0"
    assert authorizer.inputs["enableSimpleResponses"] is True
    assert authorizer.inputs["identitySources"] == ["$request.header.x-api-key"]
    assert authorizer.inputs["authorizerResultTtlInSeconds"] == 300


@pytest.mark.parametrize("qualifier", [None, "live"])
def test_only_this_api_may_invoke_the_function(mocks, resolve, qualifier):
    outputs = build(resolve, qualifier=qualifier)
    (permission,) = mocks.of_type(PERMISSION)
    assert permission.inputs["function"] == "iris-dev"
    assert permission.inputs.get("qualifier") == qualifier
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == f"{outputs['execution_arn']}/*/*"
    assert outputs["execution_arn"].startswith("arn:aws:execute-api:")


@pytest.mark.parametrize("qualifier", [None, "live"])
def test_only_this_apis_authorizer_may_invoke_the_authorizer_function(mocks, resolve, qualifier):
    outputs = build(resolve, with_authorizer=True, authorizer_qualifier=qualifier)
    permission = mocks.resource(PERMISSION, "web-authorizer-permission")
    assert permission.inputs["function"] == "iris-dev-authorizer"
    assert permission.inputs.get("qualifier") == qualifier
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == (
        f"{outputs['execution_arn']}/authorizers/{outputs['authorizer_id']}"
    )
