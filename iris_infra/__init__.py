"""The shared Lambda components, IRIS's typed configuration and its stack.

Loaded on first use (PEP 562): `iris_infra.routes` and `iris_infra.iris_routes` are plain data
that the local stand-in reads without Pulumi installed, and importing them must not load
pulumi_aws.

Every component keeps its type token `iris:index:<Name>`, whichever app uses it: the token is
part of each child's URN, so a new one would make Pulumi replace every resource of IRIS's
deployed stacks.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULE_OF = {
    "AlarmSpec": "alarms",
    "AlarmedFunction": "alarms",
    "Alarms": "alarms",
    "AlarmsArgs": "alarms",
    "ApiKeyAuthorizerArgs": "http_api",
    "ApiTarget": "http_api",
    "CacheTable": "cache_table",
    "CacheTableArgs": "cache_table",
    "ConfigError": "config",
    "ContainerImage": "container_image",
    "ContainerImageArgs": "container_image",
    "CustomDomain": "domain",
    "CustomDomainArgs": "domain",
    "Dashboard": "dashboard",
    "DatabaseBucket": "data_bucket",
    "DatabaseBucketArgs": "data_bucket",
    "DashboardArgs": "dashboard",
    "DashboardFunction": "dashboard",
    "Function": "function",
    "FunctionArgs": "function",
    "HttpApi": "http_api",
    "HttpApiArgs": "http_api",
    "LogMetric": "log_metrics",
    "LogMetrics": "log_metrics",
    "LogMetricsArgs": "log_metrics",
    "LogWidget": "dashboard",
    "MetricWidget": "dashboard",
    "Release": "release",
    "ReleaseArgs": "release",
    "Route": "routes",
    "Secrets": "secrets",
    "SecretsArgs": "secrets",
    "StackConfig": "config",
    "StackOutputs": "stack",
    "WarmupSchedule": "warmup",
    "WarmupScheduleArgs": "warmup",
    "build_stack": "stack",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
