"""IRIS's whole stack, declared from one validated StackConfig (so tests can build several):
the shared components wired with IRIS's functions (`functions`), route table (`routes`) and
signals (`observability`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from iris_infra.apps.iris import functions, observability, routes
from iris_infra.apps.iris.config import StackConfig
from iris_infra.components.alarms import Alarms, AlarmsArgs
from iris_infra.components.cache_table import CacheTable, CacheTableArgs
from iris_infra.components.container_image import ContainerImage, ContainerImageArgs
from iris_infra.components.dashboard import Dashboard, DashboardArgs, DashboardFunction
from iris_infra.components.domain import CustomDomain, CustomDomainArgs
from iris_infra.components.function import Function, permissions_boundary_of
from iris_infra.components.http_api import ApiKeyAuthorizerArgs, ApiTarget, HttpApi, HttpApiArgs
from iris_infra.components.log_metrics import LogMetrics, LogMetricsArgs
from iris_infra.components.release import Release, ReleaseArgs
from iris_infra.components.secrets import Secrets, SecretsArgs
from iris_infra.components.warmup import WarmupSchedule, WarmupScheduleArgs

HEALTH_PATH = "/health"
ANALYZE_PATH = "/api/iris/analyze"


@dataclass(frozen=True)
class StackOutputs:
    """What the frontend and operators read with `pulumi stack output --json`."""

    api_url: pulumi.Output[str]
    health_url: pulumi.Output[str]
    analyze_url: pulumi.Output[str]
    function_name: pulumi.Output[str]
    image_uri: pulumi.Output[str]
    cors_origins: list[str]
    live_version: pulumi.Output[str]
    dashboard_url: pulumi.Output[str]
    # The default execute-api endpoint, whether or not api_url is a custom domain.
    execute_api_url: pulumi.Output[str]
    # With a custom domain: the regional host name its DNS record must point at.
    dns_target: pulumi.Output[str] | None = None

    def exports(self) -> dict[str, Any]:
        """The stack outputs by the names docs/configuration.md gives them."""
        exported = {
            "apiUrl": self.api_url,
            "healthUrl": self.health_url,
            "analyzeUrl": self.analyze_url,
            "functionName": self.function_name,
            "imageUri": self.image_uri,
            "corsOrigins": self.cors_origins,
            "liveVersion": self.live_version,
            "dashboardUrl": self.dashboard_url,
            "executeApiUrl": self.execute_api_url,
        }
        if self.dns_target is not None:
            exported["dnsTarget"] = self.dns_target
        return exported


def build_stack(config: StackConfig) -> StackOutputs:
    names = config.names
    prefix = names.prefix
    boundary = permissions_boundary_of(names)

    image = ContainerImage(
        "iris-image",
        ContainerImageArgs(
            repository_name=names.repository,
            platform=config.platform,
            context=functions.IMAGE_CONTEXT,
            dockerfile=functions.IMAGE_DOCKERFILE,
            force_delete=not config.is_production,
            pinned_image_uri=config.image_uri,
        ),
    )
    secrets = Secrets(
        "iris-secrets",
        SecretsArgs(parameter_prefix=config.parameter_prefix, secrets=functions.secrets_of(config)),
    )
    cache = CacheTable(
        "iris-cache",
        CacheTableArgs(table_name=names.cache_table, point_in_time_recovery=config.is_production),
    )
    api_function = Function(
        "iris-api-function",
        functions.api_function_args(config, image.image_uri, secrets, cache, boundary),
    )
    release = Release(
        "iris-api-release",
        ReleaseArgs(
            function_name=api_function.function_name,
            function_version=api_function.version,
            provisioned_concurrency=config.provisioned_concurrency,
            description="The version serving the IRIS API; everything that calls it calls this",
        ),
    )

    api = HttpApi(
        "iris-http-api",
        HttpApiArgs(
            api_name=prefix,
            targets={
                routes.API_FUNCTION: ApiTarget(
                    function_name=api_function.function_name,
                    invoke_arn=release.invoke_arn,
                    qualifier=release.alias_name,
                )
            },
            routes=routes.ROUTES,
            cors_origins=config.cors_origins,
            cors_allow_methods=routes.CORS_ALLOW_METHODS,
            cors_allow_headers=routes.CORS_ALLOW_HEADERS,
            cors_expose_headers=routes.CORS_EXPOSE_HEADERS,
            cors_max_age_seconds=routes.CORS_MAX_AGE_SECONDS,
            throttle_burst_limit=config.throttle_burst_limit,
            throttle_rate_limit=config.throttle_rate_limit,
            log_retention_days=config.log_retention_days,
            tags=names.tags,
            authorizer=_authorizer(config, image.image_uri, secrets, boundary),
            disable_execute_api_endpoint=config.disable_execute_api_endpoint,
        ),
    )

    domain = None
    if config.custom_domain is not None:
        domain = CustomDomain(
            "iris-domain",
            CustomDomainArgs(
                domain_name=config.custom_domain,
                api_id=api.api_id,
                stage_name=api.stage_name,
                tags=names.tags,
                hosted_zone_id=config.hosted_zone_id,
                certificate_arn=config.certificate_arn,
            ),
        )
    api_url = domain.url if domain is not None else api.url

    if config.warmup_interval_minutes:
        WarmupSchedule(
            "iris-warmup",
            WarmupScheduleArgs(
                rule_name=names.rule("warmup"),
                function_name=api_function.function_name,
                function_arn=release.alias_arn,
                function_qualifier=release.alias_name,
                interval_minutes=config.warmup_interval_minutes,
                description="Keeps a warm container for the IRIS API",
            ),
        )

    log_metrics = LogMetrics(
        "iris-log-metrics",
        LogMetricsArgs(
            log_group_name=api_function.log_group_name,
            namespace=f"IRIS/{config.stack}",
            metrics=observability.LOG_METRICS,
        ),
    )
    dashboard = Dashboard(
        "iris-dashboard",
        DashboardArgs(
            dashboard_name=prefix,
            api_id=api.api_id,
            functions=[DashboardFunction(api_function.function_name, api_function.log_group_name)],
            app_widgets=observability.dashboard_widgets(
                log_metrics.namespace, config.llm_daily_token_budget
            ),
        ),
    )
    if config.alarm_email is not None:
        Alarms(
            "iris-alarms",
            AlarmsArgs(
                email=config.alarm_email,
                name_prefix=prefix,
                specs=observability.alarm_specs(config, api.api_id, log_metrics.namespace),
            ),
        )

    return StackOutputs(
        api_url=api_url,
        health_url=pulumi.Output.concat(api_url, HEALTH_PATH),
        analyze_url=pulumi.Output.concat(api_url, ANALYZE_PATH),
        function_name=api_function.function_name,
        image_uri=image.image_uri,
        cors_origins=list(config.cors_origins),
        live_version=release.version,
        dashboard_url=dashboard.url,
        execute_api_url=api.url,
        dns_target=domain.dns_target if domain is not None else None,
    )


def _authorizer(
    config: StackConfig,
    image_uri: pulumi.Input[str],
    secrets: Secrets,
    permissions_boundary: pulumi.Input[str],
) -> ApiKeyAuthorizerArgs | None:
    """With apiKeys, the authorizer function and its release; None without."""
    keys_parameter = secrets.parameters.get(functions.API_KEYS)
    if keys_parameter is None:
        return None
    function = Function(
        "iris-authorizer-function",
        functions.authorizer_function_args(config, image_uri, keys_parameter, permissions_boundary),
    )
    # Released like the API (it runs the same image): a bad image reaches it only through a new
    # version, and a rollback moves its `live` too.
    release = Release(
        "iris-authorizer-release",
        ReleaseArgs(
            function_name=function.function_name,
            function_version=function.version,
            description="The version checking X-API-Key for the IRIS API",
        ),
    )
    return ApiKeyAuthorizerArgs(
        function_name=function.function_name,
        invoke_arn=release.invoke_arn,
        cache_ttl_seconds=config.authorizer_cache_ttl_seconds,
        function_qualifier=release.alias_name,
    )
