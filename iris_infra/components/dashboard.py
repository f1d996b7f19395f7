"""The stack's CloudWatch dashboard: traffic, errors and latency at the gateway; duration,
errors, throttles, concurrency and cold starts of each function; then the app's own widgets,
which the stack gives (IRIS's: iris_infra.apps.iris.observability).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

API_STAGE = "$default"
PERIOD_SECONDS = 300
WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6
WIDGETS_PER_ROW = 24 // WIDGET_WIDTH


@dataclass(frozen=True)
class MetricWidget:
    """A graph of metric lines (`[namespace, name, dimension, value, ..., {"stat": ...}]`) or
    expressions (`{"expression": ..., "id": ...}`), as CloudWatch's body states them."""

    title: str
    metrics: Sequence[Any]
    # CloudWatch's `annotations` property: lines to meet, such as a budget.
    annotations: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class LogWidget:
    """A Logs Insights query drawn over time (its stats binned by time)."""

    title: str
    query: str


@dataclass(frozen=True)
class DashboardFunction:
    function_name: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    # Leads its widgets' titles when the stack has several functions; None for its only one.
    label: str | None = None


@dataclass(frozen=True)
class DashboardArgs:
    dashboard_name: str
    api_id: pulumi.Input[str]
    # A row of widgets each, in this order.
    functions: Sequence[DashboardFunction]
    # The app's own widgets, after the functions'.
    app_widgets: Sequence[MetricWidget | LogWidget] = ()


class Dashboard(pulumi.ComponentResource):
    dashboard_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:Dashboard", name, {}, opts)
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        names = [pulumi.Output.all(f.function_name, f.log_group_name) for f in args.functions]
        body = pulumi.Output.all(region, args.api_id, *names).apply(
            lambda values: json.dumps(
                dashboard_body(
                    region=values[0],
                    api_id=values[1],
                    functions=[
                        dataclasses.replace(function, function_name=name, log_group_name=group)
                        for function, (name, group) in zip(args.functions, values[2:], strict=True)
                    ],
                    app_widgets=args.app_widgets,
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
    functions: Sequence[DashboardFunction],
    app_widgets: Sequence[MetricWidget | LogWidget] = (),
) -> dict[str, Any]:
    """The dashboard's JSON body (CloudWatch's "Dashboard Body Structure") from plain names:
    the API's widgets, each function's, then the app's, in rows of 3."""
    widgets = [
        _rendered(widget, region)
        for widget in [
            *api_widgets(api_id),
            *(widget for function in functions for widget in function_widgets(function)),
            *app_widgets,
        ]
    ]
    for index, widget in enumerate(widgets):
        widget.update(
            x=(index % WIDGETS_PER_ROW) * WIDGET_WIDTH,
            y=(index // WIDGETS_PER_ROW) * WIDGET_HEIGHT,
            width=WIDGET_WIDTH,
            height=WIDGET_HEIGHT,
        )
    return {"start": "-PT24H", "periodOverride": "inherit", "widgets": widgets}


def api_widgets(api_id: str) -> list[MetricWidget]:
    """Requests, error answers and latency percentiles on the API's $default stage."""

    def metric(name: str, stat: str, label: str) -> list[Any]:
        return ["AWS/ApiGateway", name, "ApiId", api_id, "Stage", API_STAGE, _stat(stat, label)]

    return [
        MetricWidget("Requests", [metric("Count", "Sum", "requests")]),
        MetricWidget(
            "4xx and 5xx answers", [metric("4xx", "Sum", "4xx"), metric("5xx", "Sum", "5xx")]
        ),
        MetricWidget(
            "API latency (ms)",
            [
                metric("Latency", "p50", "p50"),
                metric("Latency", "p90", "p90"),
                metric("Latency", "p99", "p99"),
                metric("IntegrationLatency", "p99", "integration p99"),
            ],
        ),
    ]


def function_widgets(function: DashboardFunction) -> list[MetricWidget | LogWidget]:
    """Duration, invocations and errors, throttles and concurrency, and cold starts from the
    platform.report records of its log group (a plain name here)."""

    def metric(name: str, stat: str, label: str) -> list[Any]:
        return ["AWS/Lambda", name, "FunctionName", function.function_name, _stat(stat, label)]

    def title(text: str) -> str:
        return text if function.label is None else f"{function.label}: {text}"

    cold_starts = (
        f"SOURCE '{function.log_group_name}'"
        ' | filter type = "platform.report" and ispresent(record.metrics.initDurationMs)'
        " | stats count(*) as coldStarts, avg(record.metrics.initDurationMs) as avgInitMs,"
        " max(record.metrics.initDurationMs) as maxInitMs by bin(5m)"
    )
    return [
        MetricWidget(
            title("Function duration (ms)"),
            [
                metric("Duration", "p50", "p50"),
                metric("Duration", "p99", "p99"),
                metric("Duration", "Maximum", "max"),
            ],
        ),
        MetricWidget(
            title("Function invocations and errors"),
            [metric("Invocations", "Sum", "invocations"), metric("Errors", "Sum", "errors")],
        ),
        MetricWidget(
            title("Throttles and concurrency"),
            [
                metric("Throttles", "Sum", "throttles"),
                metric("ConcurrentExecutions", "Maximum", "concurrent executions"),
            ],
        ),
        LogWidget(title("Cold starts: INIT duration (ms)"), cold_starts),
    ]


def _stat(stat: str, label: str) -> dict[str, str]:
    return {"stat": stat, "label": label}


def _rendered(widget: MetricWidget | LogWidget, region: str) -> dict[str, Any]:
    if isinstance(widget, LogWidget):
        return {
            "type": "log",
            "properties": {
                "title": widget.title,
                "region": region,
                "query": widget.query,
                "view": "timeSeries",
            },
        }
    properties = {
        "title": widget.title,
        "region": region,
        "metrics": list(widget.metrics),
        "view": "timeSeries",
        "period": PERIOD_SECONDS,
    }
    if widget.annotations is not None:
        properties["annotations"] = dict(widget.annotations)
    return {"type": "metric", "properties": properties}
