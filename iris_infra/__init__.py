"""The IRIS stack's components and its typed configuration."""

from __future__ import annotations

from iris_infra.alarms import Alarms, AlarmsArgs
from iris_infra.cache_table import CacheTable, CacheTableArgs
from iris_infra.config import ConfigError, StackConfig
from iris_infra.container_image import ContainerImage, ContainerImageArgs
from iris_infra.dashboard import Dashboard, DashboardArgs
from iris_infra.domain import CustomDomain, CustomDomainArgs
from iris_infra.function import Function, FunctionArgs
from iris_infra.http_api import ApiKeyAuthorizerArgs, HttpApi, HttpApiArgs
from iris_infra.log_metrics import LogMetrics, LogMetricsArgs
from iris_infra.release import Release, ReleaseArgs
from iris_infra.secrets import Secrets, SecretsArgs
from iris_infra.stack import StackOutputs, build_stack
from iris_infra.warmup import WarmupSchedule, WarmupScheduleArgs

__all__ = [
    "Alarms",
    "AlarmsArgs",
    "ApiKeyAuthorizerArgs",
    "CacheTable",
    "CacheTableArgs",
    "ConfigError",
    "ContainerImage",
    "ContainerImageArgs",
    "Dashboard",
    "DashboardArgs",
    "CustomDomain",
    "CustomDomainArgs",
    "Function",
    "FunctionArgs",
    "HttpApi",
    "HttpApiArgs",
    "LogMetrics",
    "LogMetricsArgs",
    "Release",
    "ReleaseArgs",
    "Secrets",
    "SecretsArgs",
    "StackConfig",
    "StackOutputs",
    "WarmupSchedule",
    "WarmupScheduleArgs",
    "build_stack",
]
