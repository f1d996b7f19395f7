"""The programs' infrastructure: app-agnostic components (`components`), the config machinery
every program's settings are built on (`config`), and each app's wiring in one place
(`apps.iris`, `apps.spendsense`: its config, routes, functions, observability and stack).

The names below are loaded on first use (PEP 562): `iris_infra.components.routes` and each
app's `routes` are plain data that the local stand-in reads without Pulumi installed, and
importing them must not load pulumi_aws.

Every component keeps its type token `iris:index:<Name>`, whichever app uses it: the token is
part of each child's URN, so a new one would make Pulumi replace every resource of IRIS's
deployed stacks. A component's module path is not part of it.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {
    "AlarmSpec": "components.alarms",
    "AlarmedFunction": "components.alarms",
    "Alarms": "components.alarms",
    "AlarmsArgs": "components.alarms",
    "ApiKeyAuthorizerArgs": "components.http_api",
    "ApiTarget": "components.http_api",
    "CacheTable": "components.cache_table",
    "CacheTableArgs": "components.cache_table",
    "ConfigError": "config.errors",
    "ContainerImage": "components.container_image",
    "ContainerImageArgs": "components.container_image",
    "CustomDomain": "components.domain",
    "CustomDomainArgs": "components.domain",
    "Dashboard": "components.dashboard",
    "DatabaseBucket": "components.data_bucket",
    "DatabaseBucketArgs": "components.data_bucket",
    "DashboardArgs": "components.dashboard",
    "DashboardFunction": "components.dashboard",
    "Function": "components.function",
    "FunctionArgs": "components.function",
    "HttpApi": "components.http_api",
    "HttpApiArgs": "components.http_api",
    "LogMetric": "components.log_metrics",
    "LogMetrics": "components.log_metrics",
    "LogMetricsArgs": "components.log_metrics",
    "LogWidget": "components.dashboard",
    "MetricWidget": "components.dashboard",
    "Release": "components.release",
    "ReleaseArgs": "components.release",
    "Route": "components.routes",
    "Secrets": "components.secrets",
    "SecretParameter": "components.secrets",
    "SecretValue": "components.secrets",
    "SecretsArgs": "components.secrets",
    "StackConfig": "apps.iris.config",
    "StackOutputs": "apps.iris.stack",
    "WarmupSchedule": "components.warmup",
    "WarmupScheduleArgs": "components.warmup",
    "build_stack": "apps.iris.stack",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
