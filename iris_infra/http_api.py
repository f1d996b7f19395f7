"""The public HTTP API: API Gateway in front of the function, with CORS, throttling, access logs
and, when API keys are configured, an X-API-Key authorizer on the /api/iris/* routes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from iris_infra.function import allow_invoke

# API Gateway answers CORS preflights itself from these; the local run mirrors them.
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("content-type", "x-api-key")
# Retry-After: when a browser may try again after a 429 llm_budget_exhausted.
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")
CORS_MAX_AGE_SECONDS = 600

# Open routes: the liveness probe, and $default so unknown paths and wrong methods reach the
# app's JSON 404/405. Browser preflights never reach a route: API Gateway answers them.
OPEN_ROUTES = ("GET /health", "$default")
# Routes behind the authorizer when API keys are configured: the IRIS routes, and every other
# path under /api/iris/ for each method a client may send, so none falls to the open $default
# (API Gateway picks an exact route first, then a greedy {proxy+} one, then $default). Explicit
# methods, never ANY or OPTIONS: an authorizer on those would refuse browser preflights.
GUARDED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
GUARDED_ROUTES = (
    "GET /api/iris/health",
    "POST /api/iris/analyze",
    *(f"{method} /api/iris/{{proxy+}}" for method in GUARDED_METHODS),
)

API_KEY_HEADER = "x-api-key"
INTEGRATION_TIMEOUT_MS = 30_000

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    }
)


@dataclass(frozen=True)
class ApiKeyAuthorizerArgs:
    function_name: pulumi.Input[str]
    # The invoke ARN of what the authorizer calls: the authorizer function's `live` alias in
    # the stack.
    invoke_arn: pulumi.Input[str]
    cache_ttl_seconds: int
    # The alias (or version) that invoke_arn names: the invoke permission must too.
    function_qualifier: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class HttpApiArgs:
    api_name: str
    function_name: pulumi.Input[str]
    # The invoke ARN of what the API calls: the function's `live` alias in the stack.
    function_invoke_arn: pulumi.Input[str]
    cors_origins: Sequence[str]
    throttle_burst_limit: int
    throttle_rate_limit: int
    log_retention_days: int
    authorizer: ApiKeyAuthorizerArgs | None = None
    # The alias (or version) that function_invoke_arn names: the invoke permission must too.
    function_qualifier: pulumi.Input[str] | None = None
    # Only with a custom domain: the execute-api endpoint then answers 404 to every request.
    disable_execute_api_endpoint: bool = False


class HttpApi(pulumi.ComponentResource):
    api_id: pulumi.Output[str]
    url: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    authorizer_id: pulumi.Output[str] | None
    # The $default stage's name, as an output of the stage: an API mapping made from it waits
    # for the stage to exist.
    stage_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: HttpApiArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:HttpApi", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The API; its CORS configuration is the only CORS the deployed service has.
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=args.api_name,
            protocol_type="HTTP",
            # Left out unless set, so a stack without a custom domain declares the API as before.
            disable_execute_api_endpoint=args.disable_execute_api_endpoint or None,
            cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=list(args.cors_origins),
                allow_methods=list(CORS_ALLOW_METHODS),
                allow_headers=list(CORS_ALLOW_HEADERS),
                expose_headers=list(CORS_EXPOSE_HEADERS),
                max_age=CORS_MAX_AGE_SECONDS,
                allow_credentials=False,
            ),
            opts=child,
        )

        # A line per request; the vendedlogs prefix keeps the account's log resource policy small.
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=access_log_group_name_of(args.api_name),
            retention_in_days=args.log_retention_days,
            opts=child,
        )

        # $default: no stage prefix in the path, so the app's routes match as written.
        stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=args.throttle_burst_limit,
                throttling_rate_limit=args.throttle_rate_limit,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn,
                format=ACCESS_LOG_FORMAT,
            ),
            opts=child,
        )

        # Hands every routed request to the function as a payload 2.0 event.
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=args.function_invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
            opts=child,
        )

        # Lets this API, and no other, invoke the function (the alias it calls).
        allow_invoke(
            f"{name}-invoke-permission",
            args.function_name,
            "apigateway.amazonaws.com",
            pulumi.Output.concat(api.execution_arn, "/*/*"),
            child,
            qualifier=args.function_qualifier,
        )

        self.authorizer_id = None
        if args.authorizer is not None:
            authorizer = self._api_key_authorizer(name, api, args.authorizer)
            self.authorizer_id = authorizer.id

        target = pulumi.Output.concat("integrations/", integration.id)
        routes = [(key, False) for key in OPEN_ROUTES] + [(key, True) for key in GUARDED_ROUTES]
        for route_key, guarded in routes:
            protected = guarded and self.authorizer_id is not None
            # Open routes need no credentials; the IRIS routes sit behind the X-API-Key
            # authorizer when one is configured.
            aws.apigatewayv2.Route(
                f"{name}-route-{_slug(route_key)}",
                api_id=api.id,
                route_key=route_key,
                target=target,
                authorization_type="CUSTOM" if protected else "NONE",
                authorizer_id=self.authorizer_id if protected else None,
                opts=child,
            )

        self.api_id = api.id
        self.execution_arn = api.execution_arn
        self.stage_name = stage.name
        self.url = api.api_endpoint.apply(lambda endpoint: endpoint.rstrip("/"))
        self.register_outputs(
            {
                "api_id": self.api_id,
                "url": self.url,
                "execution_arn": self.execution_arn,
                "authorizer_id": self.authorizer_id,
                "stage_name": self.stage_name,
            }
        )

    def _api_key_authorizer(
        self, name: str, api: aws.apigatewayv2.Api, args: ApiKeyAuthorizerArgs
    ) -> aws.apigatewayv2.Authorizer:
        child = pulumi.ResourceOptions(parent=self)

        # Checks X-API-Key with the authorizer function; decisions are cached per key.
        authorizer = aws.apigatewayv2.Authorizer(
            f"{name}-authorizer",
            api_id=api.id,
            name="x-api-key",
            authorizer_type="REQUEST",
            authorizer_uri=args.invoke_arn,
            authorizer_payload_format_version="2.0",
            enable_simple_responses=True,
            identity_sources=[f"$request.header.{API_KEY_HEADER}"],
            authorizer_result_ttl_in_seconds=args.cache_ttl_seconds,
            opts=child,
        )

        # Lets this API's authorizer, and nothing else, invoke the authorizer function (the
        # alias it calls).
        allow_invoke(
            f"{name}-authorizer-permission",
            args.function_name,
            "apigateway.amazonaws.com",
            pulumi.Output.concat(api.execution_arn, "/authorizers/", authorizer.id),
            child,
            qualifier=args.function_qualifier,
        )
        return authorizer


def access_log_group_name_of(api_name: str) -> str:
    return f"/aws/vendedlogs/apigateway/{api_name}"


def _slug(route_key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", route_key.lower()).strip("-")
