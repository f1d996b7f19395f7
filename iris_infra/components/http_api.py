"""The public HTTP API: API Gateway in front of a stack's functions, each reached through its
`live` alias by the routes of the stack's route table (iris_infra.components.routes), with CORS,
throttling, access logs and, when an authorizer is given, X-API-Key on the guarded routes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from iris_infra.components.function import allow_invoke
from iris_infra.components.names import slug
from iris_infra.components.routes import DEFAULT_ROUTE, GUARDED_METHODS, Route, route_problems

API_KEY_HEADER = "x-api-key"
# What API Gateway answers CORS preflights with unless the stack says otherwise: any method a
# JSON client may send, a JSON body and the API key, and the request id the functions log.
DEFAULT_CORS_ALLOW_METHODS = (*GUARDED_METHODS, "OPTIONS")
DEFAULT_CORS_ALLOW_HEADERS = ("content-type", API_KEY_HEADER)
DEFAULT_CORS_EXPOSE_HEADERS = ("x-request-id",)
DEFAULT_CORS_MAX_AGE_SECONDS = 600

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
class ApiTarget:
    """One function the API calls."""

    function_name: pulumi.Input[str]
    # The invoke ARN of what the API calls: the function's `live` alias in the stack.
    invoke_arn: pulumi.Input[str]
    # The alias (or version) that invoke_arn names: the invoke permission must too.
    qualifier: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class HttpApiArgs:
    api_name: str
    # The functions the routes reach, by the stack's key for each (a Route's `function`).
    targets: Mapping[str, ApiTarget]
    routes: Sequence[Route]
    cors_origins: Sequence[str]
    throttle_burst_limit: int
    throttle_rate_limit: int
    log_retention_days: int
    # Carried by the API and its stage (StackNames.tags): what the deployer's policy scopes API
    # Gateway by, whose ids AWS generates.
    tags: Mapping[str, str]
    # Guards the routes marked guarded; without it every route is open.
    authorizer: ApiKeyAuthorizerArgs | None = None
    # Only with a custom domain: the execute-api endpoint then answers 404 to every request.
    disable_execute_api_endpoint: bool = False
    # API Gateway answers CORS preflights itself from these.
    cors_allow_methods: Sequence[str] = DEFAULT_CORS_ALLOW_METHODS
    cors_allow_headers: Sequence[str] = DEFAULT_CORS_ALLOW_HEADERS
    cors_expose_headers: Sequence[str] = DEFAULT_CORS_EXPOSE_HEADERS
    cors_max_age_seconds: int = DEFAULT_CORS_MAX_AGE_SECONDS

    def __post_init__(self) -> None:
        problems = [
            *route_problems(self.routes, self.targets),
            *_name_clashes("route", [route.key for route in self.routes]),
            *_name_clashes("target", list(self.targets)),
        ]
        if problems:
            raise ValueError(f"the routes of HTTP API {self.api_name!r}: " + "; ".join(problems))


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
                allow_methods=list(args.cors_allow_methods),
                allow_headers=list(args.cors_allow_headers),
                expose_headers=list(args.cors_expose_headers),
                max_age=args.cors_max_age_seconds,
                allow_credentials=False,
            ),
            tags=dict(args.tags),
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
            tags=dict(args.tags),
            opts=child,
        )

        default_target = next(
            (route.function for route in args.routes if route.key == DEFAULT_ROUTE), None
        )
        integration_targets: dict[str, pulumi.Output[str]] = {}
        for key, target in args.targets.items():
            # The target $default reaches keeps the names of the time when there was only one.
            suffix = "" if key == default_target else f"-{slug(key)}"

            # Hands each request routed to this function to its alias as a payload 2.0 event.
            integration = aws.apigatewayv2.Integration(
                f"{name}-integration{suffix}",
                api_id=api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=target.invoke_arn,
                payload_format_version="2.0",
                timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
                opts=child,
            )
            integration_targets[key] = pulumi.Output.concat("integrations/", integration.id)

            # Lets this API, and no other, invoke the function (the alias it calls).
            allow_invoke(
                f"{name}-invoke-permission{suffix}",
                target.function_name,
                "apigateway.amazonaws.com",
                pulumi.Output.concat(api.execution_arn, "/*/*"),
                child,
                qualifier=target.qualifier,
            )

        self.authorizer_id = None
        if args.authorizer is not None:
            authorizer = self._api_key_authorizer(name, api, args.authorizer)
            self.authorizer_id = authorizer.id

        for route in args.routes:
            protected = route.guarded and self.authorizer_id is not None
            # Open routes need no credentials; guarded ones sit behind the X-API-Key
            # authorizer when there is one.
            aws.apigatewayv2.Route(
                f"{name}-route-{slug(route.key)}",
                api_id=api.id,
                route_key=route.key,
                target=integration_targets[route.function],
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


def _name_clashes(kind: str, keys: Sequence[str]) -> list[str]:
    """Distinct keys that would give two resources one name (their slugs are equal)."""
    by_slug: dict[str, list[str]] = {}
    for key in dict.fromkeys(keys):
        by_slug.setdefault(slug(key), []).append(key)
    return [
        f"{kind}s {' and '.join(map(repr, clashing))} would share the resource name "
        f"{name!r}; rename one"
        for name, clashing in by_slug.items()
        if len(clashing) > 1
    ]
