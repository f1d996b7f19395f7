"""Dashboard: a valid JSON body naming this stack's API, function, log group and namespace,
with the widgets an operator needs, laid out on CloudWatch's 24-column grid; and its URL."""

from __future__ import annotations

import json
import re

from iris_infra.dashboard import Dashboard, DashboardArgs, console_url, dashboard_body
from iris_infra.log_metrics import LOG_METRICS
from tests.infra.conftest import REGION

NAMES = {
    "region": "eu-west-1",
    "api_id": "a1b2c3d4e5",
    "function_name": "iris-prod",
    "log_group_name": "/aws/lambda/iris-prod",
    "metric_namespace": "IRIS/prod",
}


def body():
    return json.loads(json.dumps(dashboard_body(**NAMES)))


def widget(title):
    (found,) = [w for w in body()["widgets"] if w["properties"]["title"] == title]
    return found["properties"]


def metrics_of(title):
    return [line for line in widget(title)["metrics"] if isinstance(line, list)]


def test_the_component_declares_the_dashboard_and_its_url(mocks, resolve):
    def program():
        dashboard = Dashboard(
            "dash",
            DashboardArgs(
                dashboard_name="iris-prod",
                api_id="a1b2c3d4e5",
                function_name="iris-prod",
                log_group_name="/aws/lambda/iris-prod",
                metric_namespace="IRIS/prod",
            ),
        )
        return {"url": dashboard.url, "name": dashboard.dashboard_name}

    outputs = resolve(program)
    resource = mocks.resource("aws:cloudwatch/dashboard:Dashboard", "dash-dashboard")
    assert resource.inputs["dashboardName"] == "iris-prod" == outputs["name"]
    assert json.loads(resource.inputs["dashboardBody"]) == dashboard_body(
        **{**NAMES, "region": REGION}
    )
    assert outputs["url"] == console_url(REGION, "iris-prod")


def test_the_url_opens_the_dashboard_in_its_region():
    assert console_url("us-east-1", "iris-prod") == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards:name=iris-prod"
    )


def test_the_widgets_fit_the_grid_without_overlapping():
    widgets = body()["widgets"]
    cells = set()
    for w in widgets:
        assert w["type"] in ("metric", "log")
        assert 0 <= w["x"] and w["x"] + w["width"] <= 24
        assert w["width"] >= 1 and w["height"] >= 1
        area = {(x, y) for x in range(w["x"], w["x"] + w["width"])
                for y in range(w["y"], w["y"] + w["height"])}  # fmt: skip
        assert not cells & area, w["properties"]["title"]
        cells |= area
        assert w["properties"]["region"] == "eu-west-1"


def test_every_metric_is_this_stacks():
    for w in body()["widgets"]:
        for line in w["properties"].get("metrics", []):
            if isinstance(line, dict):
                assert "{IRIS/prod,code}" in line["expression"]
                continue
            namespace, _name, *rest = line
            dimensions = dict(zip(rest[:-1:2], rest[1:-1:2], strict=True))
            assert {
                "AWS/ApiGateway": {"ApiId": "a1b2c3d4e5", "Stage": "$default"},
                "AWS/Lambda": {"FunctionName": "iris-prod"},
                "IRIS/prod": {},
            }[namespace] == dimensions, line


def test_the_gateway_widgets_show_requests_errors_and_latency_percentiles():
    assert [m[1] for m in metrics_of("Requests")] == ["Count"]
    assert [m[1] for m in metrics_of("4xx and 5xx answers")] == ["4xx", "5xx"]
    latency = {(m[1], m[-1]["stat"]) for m in metrics_of("API latency (ms)")}
    assert {("Latency", "p50"), ("Latency", "p90"), ("Latency", "p99")} <= latency


def test_the_function_widgets_show_duration_errors_and_throttles():
    duration = {m[-1]["stat"] for m in metrics_of("Function duration (ms)")}
    assert {"p50", "p99", "Maximum"} <= duration
    assert "Errors" in [m[1] for m in metrics_of("Function invocations and errors")]
    assert "Throttles" in [m[1] for m in metrics_of("Throttles and concurrency")]


def test_cold_starts_come_from_the_platform_report_records():
    properties = widget("Cold starts: INIT duration (ms)")
    query = properties["query"]
    assert query.startswith("SOURCE '/aws/lambda/iris-prod' | ")
    assert 'filter type = "platform.report"' in query
    assert "record.metrics.initDurationMs" in query
    # A time series needs the stats binned by time.
    assert properties["view"] == "timeSeries" and re.search(r"by bin\(\d+m\)$", query)


def test_the_app_widgets_graph_what_the_log_filters_publish():
    published = {metric.name for metric in LOG_METRICS}
    cache = [m[1] for m in metrics_of("Analysis cache")]
    assert cache == ["CacheHits", "CacheMisses"]
    assert set(cache) <= published
    (search,) = widget("LLM failures by code")["metrics"]
    assert search["expression"] == (
        "SEARCH('{IRIS/prod,code} MetricName=\"AnalysisFailures\"', 'Sum', 300)"
    )
    assert "AnalysisFailures" in published


def test_every_plain_metric_names_its_statistic():
    for w in body()["widgets"]:
        for line in w["properties"].get("metrics", []):
            if isinstance(line, list):
                assert "stat" in line[-1], line


def test_tokens_per_day_are_drawn_against_the_budget_and_its_alarm_line():
    properties = dashboard_body(**NAMES, llm_daily_token_budget=5_000_000)["widgets"][-1][
        "properties"
    ]
    assert properties["title"] == "LLM tokens per day"
    published = {metric.name for metric in LOG_METRICS}
    per_day, today = (line for line in properties["metrics"])
    # Each call's tokens summed over a day, and the counter's running total.
    assert (per_day[1], per_day[-1]["stat"], per_day[-1]["period"]) == ("LlmTokens", "Sum", 86_400)
    assert (today[1], today[-1]["stat"]) == ("LlmDayTokens", "Maximum")
    assert {per_day[1], today[1]} <= published
    assert properties["annotations"] == {
        "horizontal": [
            {"label": "llmDailyTokenBudget", "value": 5_000_000},
            {"label": "80% alarm", "value": 4_000_000},
        ]
    }


def test_without_a_budget_the_tokens_have_no_line_to_meet():
    assert "annotations" not in widget("LLM tokens per day")
