"""The whole stack, declared from one validated StackConfig (so tests can build several)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from iris_infra.alarms import Alarms, AlarmsArgs
from iris_infra.cache_table import TOKEN_COUNTER_KEY_PREFIX, CacheTable, CacheTableArgs
from iris_infra.config import StackConfig
from iris_infra.container_image import ContainerImage, ContainerImageArgs
from iris_infra.dashboard import Dashboard, DashboardArgs
from iris_infra.domain import CustomDomain, CustomDomainArgs
from iris_infra.function import Function, FunctionArgs, log_group_name_of
from iris_infra.http_api import (
    ApiKeyAuthorizerArgs,
    HttpApi,
    HttpApiArgs,
    access_log_group_name_of,
)
from iris_infra.log_metrics import LogMetrics, LogMetricsArgs
from iris_infra.release import Release, ReleaseArgs
from iris_infra.secrets import Secrets, SecretsArgs
from iris_infra.warmup import WarmupSchedule, WarmupScheduleArgs

HEALTH_PATH = "/health"
ANALYZE_PATH = "/api/iris/analyze"

# The authorizer only compares a header with a cached parameter: small and quick is enough.
AUTHORIZER_MEMORY_MB = 256
AUTHORIZER_TIMEOUT_SECONDS = 10
AUTHORIZER_COMMAND = "authorizer.handler"


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


def api_environment(
    config: StackConfig, secrets: Secrets, cache_table_name: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """The API function's environment: settings and the key's parameter name, never the key.

    The parameter's version is there too: a new openaiApiKey changes the function's
    configuration, so Lambda replaces every warm container holding the old key. With apiKeys,
    IRIS_REQUIRE_AUTHORIZER makes the function itself refuse /api/iris/* to any request the
    authorizer did not pass (a route match is the gateway's only guard).
    """
    guard = {"IRIS_REQUIRE_AUTHORIZER": "true"} if config.api_keys is not None else {}
    return {
        "IRIS_LLM_PROVIDER": "openai",
        "OPENAI_MODEL": config.openai_model,
        "OPENAI_MAX_TOKENS": str(config.openai_max_tokens),
        "OPENAI_TIMEOUT_S": f"{config.openai_timeout_seconds:g}",
        "OPENAI_MAX_RETRIES": str(config.openai_max_retries),
        "OPENAI_API_KEY_PARAM": secrets.openai_api_key_parameter_name,
        "OPENAI_API_KEY_PARAM_VERSION": secrets.openai_api_key_parameter_version.apply(str),
        "IRIS_SECRET_MAX_AGE_S": str(config.secret_max_age_seconds),
        "IRIS_CACHE_TABLE": cache_table_name,
        "IRIS_CACHE_TTL_HOURS": str(config.cache_ttl_hours),
        **guard,
        "IRIS_LLM_DAILY_TOKEN_BUDGET": str(config.llm_daily_token_budget),
    }


def authorizer_environment(
    config: StackConfig, parameter_name: pulumi.Input[str], parameter_version: pulumi.Output[int]
) -> dict[str, pulumi.Input[str]]:
    """The authorizer's: the keys' parameter name and version (a new apiKeys replaces its warm
    containers, so a revoked key stops at once), never the keys."""
    return {
        "IRIS_API_KEYS_PARAM": parameter_name,
        "IRIS_API_KEYS_PARAM_VERSION": parameter_version.apply(str),
        "IRIS_SECRET_MAX_AGE_S": str(config.secret_max_age_seconds),
    }


def build_stack(config: StackConfig) -> StackOutputs:
    prefix = config.name_prefix

    image = ContainerImage(
        "iris-image",
        ContainerImageArgs(
            platform=config.platform,
            force_delete=not config.is_production,
            pinned_image_uri=config.image_uri,
        ),
    )
    secrets = Secrets(
        "iris-secrets",
        SecretsArgs(
            parameter_prefix=config.parameter_prefix,
            openai_api_key=config.openai_api_key,
            api_keys=config.api_keys,
        ),
    )
    cache = CacheTable("iris-cache", CacheTableArgs(point_in_time_recovery=config.is_production))
    api_function = Function(
        "iris-api-function",
        FunctionArgs(
            function_name=prefix,
            description="IRIS analysis API (Flask behind Mangum)",
            image_uri=image.image_uri,
            architecture=config.architecture,
            memory_mb=config.memory_mb,
            timeout_seconds=config.timeout_seconds,
            log_retention_days=config.log_retention_days,
            environment=api_environment(config, secrets, cache.table_name),
            parameter_arns=[secrets.openai_api_key_parameter_arn],
            table_arn=cache.table_arn,
            # The daily token counters, and only when there is a budget to count.
            table_update_keys=(
                (f"{TOKEN_COUNTER_KEY_PREFIX}*",) if config.llm_daily_token_budget else ()
            ),
            reserved_concurrency=config.reserved_concurrency,
            publish=True,
        ),
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

    authorizer = None
    if (
        secrets.api_keys_parameter_name is not None
        and secrets.api_keys_parameter_arn is not None
        and secrets.api_keys_parameter_version is not None
    ):
        authorizer_function = Function(
            "iris-authorizer-function",
            FunctionArgs(
                function_name=f"{prefix}-authorizer",
                description="IRIS X-API-Key authorizer",
                image_uri=image.image_uri,
                command=AUTHORIZER_COMMAND,
                architecture=config.architecture,
                memory_mb=AUTHORIZER_MEMORY_MB,
                timeout_seconds=AUTHORIZER_TIMEOUT_SECONDS,
                log_retention_days=config.log_retention_days,
                environment=authorizer_environment(
                    config, secrets.api_keys_parameter_name, secrets.api_keys_parameter_version
                ),
                parameter_arns=[secrets.api_keys_parameter_arn],
                publish=True,
            ),
        )
        # Released like the API (it runs the same image): a bad image reaches it only through
        # a new version, and a rollback moves its `live` too.
        authorizer_release = Release(
            "iris-authorizer-release",
            ReleaseArgs(
                function_name=authorizer_function.function_name,
                function_version=authorizer_function.version,
                description="The version checking X-API-Key for the IRIS API",
            ),
        )
        authorizer = ApiKeyAuthorizerArgs(
            function_name=authorizer_function.function_name,
            invoke_arn=authorizer_release.invoke_arn,
            cache_ttl_seconds=config.authorizer_cache_ttl_seconds,
            function_qualifier=authorizer_release.alias_name,
        )

    api = HttpApi(
        "iris-http-api",
        HttpApiArgs(
            api_name=prefix,
            function_name=api_function.function_name,
            function_invoke_arn=release.invoke_arn,
            function_qualifier=release.alias_name,
            cors_origins=config.cors_origins,
            throttle_burst_limit=config.throttle_burst_limit,
            throttle_rate_limit=config.throttle_rate_limit,
            log_retention_days=config.log_retention_days,
            authorizer=authorizer,
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
                hosted_zone_id=config.hosted_zone_id,
                certificate_arn=config.certificate_arn,
            ),
        )
    api_url = domain.url if domain is not None else api.url

    if config.warmup_interval_minutes:
        WarmupSchedule(
            "iris-warmup",
            WarmupScheduleArgs(
                function_name=api_function.function_name,
                function_arn=release.alias_arn,
                function_qualifier=release.alias_name,
                interval_minutes=config.warmup_interval_minutes,
            ),
        )

    log_metrics = LogMetrics(
        "iris-log-metrics",
        LogMetricsArgs(
            log_group_name=api_function.log_group_name, namespace=f"IRIS/{config.stack}"
        ),
    )
    dashboard = Dashboard(
        "iris-dashboard",
        DashboardArgs(
            dashboard_name=prefix,
            api_id=api.api_id,
            function_name=api_function.function_name,
            log_group_name=api_function.log_group_name,
            metric_namespace=log_metrics.namespace,
            llm_daily_token_budget=config.llm_daily_token_budget,
        ),
    )
    if config.alarm_email is not None:
        Alarms(
            "iris-alarms",
            AlarmsArgs(
                email=config.alarm_email,
                name_prefix=prefix,
                api_id=api.api_id,
                function_name=prefix,
                function_timeout_seconds=config.timeout_seconds,
                log_group_name=log_group_name_of(prefix),
                access_log_group_name=access_log_group_name_of(prefix),
                metric_namespace=log_metrics.namespace,
                llm_daily_token_budget=config.llm_daily_token_budget,
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
