"""Dashboard: a valid JSON body naming this stack's API, each function given (and no other) and
the app's widgets, laid out on CloudWatch's 24-column grid; and its URL."""

from __future__ import annotations

import json
import re

import pytest

from iris_infra.components.dashboard import (
    Dashboard,
    DashboardArgs,
    DashboardFunction,
    LogWidget,
    MetricWidget,
    console_url,
    dashboard_body,
)
from tests.infra.conftest import REGION, build_once

API_ID = "a1b2c3d4e5"
FUNCTIONS = tuple(
    DashboardFunction(f"app-prod{suffix}", f"/aws/lambda/app-prod{suffix}", label)
    for suffix, label in (
        ("", "api"),
        ("-net-worth", "net_worth"),
        ("-weekly-recap", "weekly_recap"),
    )
)
NOT_GIVEN = "app-prod-budget-tracking"
APP_WIDGETS = (
    MetricWidget(
        "Data loads",
        [["App/prod", "DataLoads", {"stat": "Sum", "label": "loads"}]],
        annotations={"horizontal": [{"label": "limit", "value": 3}]},
    ),
    LogWidget("Slow loads", "SOURCE '/aws/lambda/app-prod' | stats count(*) by bin(5m)"),
)
FUNCTION_TITLES = (
    "Function duration (ms)",
    "Function invocations and errors",
    "Throttles and concurrency",
    "Cold starts: INIT duration (ms)",
)
API_TITLES = ("Requests", "4xx and 5xx answers", "API latency (ms)")


def body(functions=FUNCTIONS, app_widgets=APP_WIDGETS):
    names = dashboard_body(region="eu-west-1", api_id=API_ID, functions=functions,
                           app_widgets=app_widgets)  # fmt: skip
    return json.loads(json.dumps(names))


def widget(title, found=None):
    (match,) = [w for w in (found or body())["widgets"] if w["properties"]["title"] == title]
    return match["properties"]


def metrics_of(title, found=None):
    return [line for line in widget(title, found)["metrics"] if isinstance(line, list)]


@pytest.fixture(scope="module")
def built():
    def program():
        dashboard = Dashboard(
            "dash",
            DashboardArgs(
                dashboard_name="app-prod",
                api_id=API_ID,
                functions=FUNCTIONS,
                app_widgets=APP_WIDGETS,
            ),
        )
        return {"url": dashboard.url, "name": dashboard.dashboard_name}

    return build_once(program)


def test_the_component_declares_the_dashboard_and_its_url(built):
    resource = built.resource("aws:cloudwatch/dashboard:Dashboard", "dash-dashboard")
    assert resource.inputs["dashboardName"] == "app-prod" == built.outputs["name"]
    assert json.loads(resource.inputs["dashboardBody"]) == dashboard_body(
        region=REGION, api_id=API_ID, functions=FUNCTIONS, app_widgets=APP_WIDGETS
    )
    assert built.outputs["url"] == console_url(REGION, "app-prod")


def test_the_url_opens_the_dashboard_in_its_region():
    assert console_url("us-east-1", "iris-prod") == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards:name=iris-prod"
    )


@pytest.mark.parametrize("functions", [FUNCTIONS, FUNCTIONS[:1]], ids=["three", "one"])
def test_the_widgets_fit_the_grid_without_overlapping(functions):
    widgets = body(functions)["widgets"]
    assert len(widgets) == len(API_TITLES) + 4 * len(functions) + len(APP_WIDGETS)
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


def test_the_api_widgets_then_each_functions_then_the_apps_in_order():
    titles = [w["properties"]["title"] for w in body()["widgets"]]
    assert titles == [
        *API_TITLES,
        *(f"{f.label}: {title}" for f in FUNCTIONS for title in FUNCTION_TITLES),
        "Data loads",
        "Slow loads",
    ]


def test_a_stacks_only_function_has_the_titles_it_always_had():
    only = DashboardFunction("iris-prod", "/aws/lambda/iris-prod")
    titles = [w["properties"]["title"] for w in body((only,), ())["widgets"]]
    assert titles == [*API_TITLES, *FUNCTION_TITLES]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.label)
def test_each_function_given_has_its_own_widgets(function):
    found = body()
    duration = metrics_of(f"{function.label}: Function duration (ms)", found)
    assert {m[-1]["stat"] for m in duration} >= {"p50", "p99", "Maximum"}
    invocations = metrics_of(f"{function.label}: Function invocations and errors", found)
    assert [m[1] for m in invocations] == ["Invocations", "Errors"]
    throttles = metrics_of(f"{function.label}: Throttles and concurrency", found)
    assert [m[1] for m in throttles] == ["Throttles", "ConcurrentExecutions"]
    for line in duration + invocations + throttles:
        assert line[:4] == ["AWS/Lambda", line[1], "FunctionName", function.function_name]
    cold_starts = widget(f"{function.label}: Cold starts: INIT duration (ms)", found)
    assert cold_starts["query"].startswith(f"SOURCE '{function.log_group_name}' | ")


def test_no_widget_names_a_function_not_given():
    assert NOT_GIVEN not in json.dumps(body())
    assert NOT_GIVEN not in json.dumps(body(FUNCTIONS[:1]))


def test_every_metric_is_this_stacks():
    given = {f.function_name for f in FUNCTIONS}
    for w in body()["widgets"]:
        for line in w["properties"].get("metrics", []):
            namespace, _name, *rest = line
            dimensions = dict(zip(rest[:-1:2], rest[1:-1:2], strict=True))
            if namespace == "AWS/ApiGateway":
                assert dimensions == {"ApiId": API_ID, "Stage": "$default"}, line
            elif namespace == "AWS/Lambda":
                assert set(dimensions) == {"FunctionName"} and dimensions["FunctionName"] in given
            else:
                assert (namespace, dimensions) == ("App/prod", {}), line
            # Every plain metric names its statistic.
            assert "stat" in line[-1], line


def test_the_gateway_widgets_show_requests_errors_and_latency_percentiles():
    assert [m[1] for m in metrics_of("Requests")] == ["Count"]
    assert [m[1] for m in metrics_of("4xx and 5xx answers")] == ["4xx", "5xx"]
    latency = {(m[1], m[-1]["stat"]) for m in metrics_of("API latency (ms)")}
    assert {("Latency", "p50"), ("Latency", "p90"), ("Latency", "p99")} <= latency


def test_cold_starts_come_from_the_platform_report_records():
    query = widget("api: Cold starts: INIT duration (ms)")["query"]
    assert query.startswith("SOURCE '/aws/lambda/app-prod' | ")
    assert 'filter type = "platform.report"' in query
    assert "record.metrics.initDurationMs" in query
    # A time series needs the stats binned by time.
    assert widget("api: Cold starts: INIT duration (ms)")["view"] == "timeSeries"
    assert re.search(r"by bin\(\d+m\)$", query)


def test_the_apps_widgets_are_drawn_as_given():
    loads = widget("Data loads")
    assert loads["metrics"] == [["App/prod", "DataLoads", {"stat": "Sum", "label": "loads"}]]
    assert loads["annotations"] == {"horizontal": [{"label": "limit", "value": 3}]}
    assert (loads["view"], loads["period"]) == ("timeSeries", 300)
    slow = widget("Slow loads")
    assert slow["query"] == APP_WIDGETS[1].query
    assert "annotations" not in widget("api: Function duration (ms)")
