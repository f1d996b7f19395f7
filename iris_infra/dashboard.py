"""The stack's CloudWatch dashboard: traffic, errors and latency at the gateway; duration,
errors, throttles and cold starts of the function; cache hits, LLM failures and LLM tokens
spent (against the daily budget) from the app's logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from iris_infra.alarms import BUDGET_WARNING_SHARE, budget_warning_tokens
from iris_infra.log_metrics import (
    ANALYSIS_FAILURES,
    CACHE_HITS,
    CACHE_MISSES,
    CODE_DIMENSION,
    LLM_DAY_TOKENS,
    LLM_TOKENS,
)

API_STAGE = "$default"
PERIOD_SECONDS = 300
DAY_SECONDS = 86_400
WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6
WIDGETS_PER_ROW = 24 // WIDGET_WIDTH


@dataclass(frozen=True)
class DashboardArgs:
    dashboard_name: str
    api_id: pulumi.Input[str]
    function_name: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    # Where the app's log metrics are (LogMetrics.namespace).
    metric_namespace: str
    # llmDailyTokenBudget, drawn as a line on the tokens widget (0: no cap, no line).
    llm_daily_token_budget: int = 0


class Dashboard(pulumi.ComponentResource):
    dashboard_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:Dashboard", name, {}, opts)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        body = pulumi.Output.all(
            region=region,
            api_id=args.api_id,
            function_name=args.function_name,
            log_group_name=args.log_group_name,
        ).apply(
            lambda names: json.dumps(
                dashboard_body(
                    metric_namespace=args.metric_namespace,
                    llm_daily_token_budget=args.llm_daily_token_budget,
                    **names,
                )
            )
        )

        # One page per stack with what an operator looks at first when an alarm arrives.
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.dashboard_name = dashboard.dashboard_name
        self.url = pulumi.Output.all(region, dashboard.dashboard_name).apply(
            lambda parts: console_url(parts[0], parts[1])
        )
        self.register_outputs({"dashboard_name": self.dashboard_name, "url": self.url})


def console_url(region: str, dashboard_name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards:name={dashboard_name}"
    )


def dashboard_body(
    *,
    region: str,
    api_id: str,
    function_name: str,
    log_group_name: str,
    metric_namespace: str,
    llm_daily_token_budget: int = 0,
) -> dict[str, Any]:
    """The dashboard's JSON body (CloudWatch's "Dashboard Body Structure"), widgets in rows of 3."""
    api = ["ApiId", api_id, "Stage", API_STAGE]
    function = ["FunctionName", function_name]

    def api_metric(name: str, stat: str, label: str) -> list[Any]:
        return ["AWS/ApiGateway", name, *api, {"stat": stat, "label": label}]

    def function_metric(name: str, stat: str, label: str) -> list[Any]:
        return ["AWS/Lambda", name, *function, {"stat": stat, "label": label}]

    def app_metric(name: str, label: str, **options: Any) -> list[Any]:
        return [metric_namespace, name, {"stat": "Sum", "label": label, **options}]

    failures_by_code = (
        f"SEARCH('{{{metric_namespace},{CODE_DIMENSION}}} MetricName=\"{ANALYSIS_FAILURES}\"', "
        f"'Sum', {PERIOD_SECONDS})"
    )
    cold_starts = (
        f"SOURCE '{log_group_name}'"
        ' | filter type = "platform.report" and ispresent(record.metrics.initDurationMs)'
        " | stats count(*) as coldStarts, avg(record.metrics.initDurationMs) as avgInitMs,"
        " max(record.metrics.initDurationMs) as maxInitMs by bin(5m)"
    )
    widgets = [
        _metric_widget("Requests", region, [api_metric("Count", "Sum", "requests")]),
        _metric_widget(
            "4xx and 5xx answers",
            region,
            [api_metric("4xx", "Sum", "4xx"), api_metric("5xx", "Sum", "5xx")],
        ),
        _metric_widget(
            "API latency (ms)",
            region,
            [
                api_metric("Latency", "p50", "p50"),
                api_metric("Latency", "p90", "p90"),
                api_metric("Latency", "p99", "p99"),
                api_metric("IntegrationLatency", "p99", "integration p99"),
            ],
        ),
        _metric_widget(
            "Function duration (ms)",
            region,
            [
                function_metric("Duration", "p50", "p50"),
                function_metric("Duration", "p99", "p99"),
                function_metric("Duration", "Maximum", "max"),
            ],
        ),
        _metric_widget(
            "Function invocations and errors",
            region,
            [
                function_metric("Invocations", "Sum", "invocations"),
                function_metric("Errors", "Sum", "errors"),
            ],
        ),
        _metric_widget(
            "Throttles and concurrency",
            region,
            [
                function_metric("Throttles", "Sum", "throttles"),
                function_metric("ConcurrentExecutions", "Maximum", "concurrent executions"),
            ],
        ),
        _log_widget("Cold starts: INIT duration (ms)", region, cold_starts),
        _metric_widget(
            "Analysis cache",
            region,
            [app_metric(CACHE_HITS, "cache hits"), app_metric(CACHE_MISSES, "cache misses")],
        ),
        _metric_widget(
            "LLM failures by code",
            region,
            [{"expression": failures_by_code, "id": "failures", "label": ""}],
        ),
        _tokens_widget(region, app_metric, llm_daily_token_budget),
    ]
    for index, widget in enumerate(widgets):
        widget.update(
            x=(index % WIDGETS_PER_ROW) * WIDGET_WIDTH,
            y=(index // WIDGETS_PER_ROW) * WIDGET_HEIGHT,
            width=WIDGET_WIDTH,
            height=WIDGET_HEIGHT,
        )
    return {"start": "-PT24H", "periodOverride": "inherit", "widgets": widgets}


def _tokens_widget(
    region: str, app_metric: Callable[..., list[Any]], budget: int
) -> dict[str, Any]:
    """Tokens per UTC day and today's running total, against the budget and its 80 % mark."""
    widget = _metric_widget(
        "LLM tokens per day",
        region,
        [
            app_metric(LLM_TOKENS, "tokens per day", period=DAY_SECONDS),
            app_metric(LLM_DAY_TOKENS, "today so far", stat="Maximum"),
        ],
    )
    if budget:
        widget["properties"]["annotations"] = {
            "horizontal": [
                {"label": "llmDailyTokenBudget", "value": budget},
                {
                    "label": f"{BUDGET_WARNING_SHARE:.0%} alarm",
                    "value": budget_warning_tokens(budget),
                },
            ]
        }
    return widget


def _metric_widget(title: str, region: str, metrics: list[Any]) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "view": "timeSeries",
            "period": PERIOD_SECONDS,
        },
    }


def _log_widget(title: str, region: str, query: str) -> dict[str, Any]:
    return {
        "type": "log",
        "properties": {"title": title, "region": region, "query": query, "view": "timeSeries"},
    }
