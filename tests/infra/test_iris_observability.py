"""IRIS's own signals: its alarms keep their names and texts, watch metrics its log filters
publish, follow the daily token budget; its dashboard widgets graph those metrics."""

from __future__ import annotations

import dataclasses

from iris_infra.apps.iris.observability import LOG_METRICS, alarm_specs, dashboard_widgets
from tests.infra.conftest import stack_file_config

API_ID = "a1b2c3d4e5"
CONFIG = stack_file_config("prod", alarmEmail="oncall@example.com")
PUBLISHED = {(metric.name, frozenset(metric.dimensions)) for metric in LOG_METRICS}
ROLES = ["api-5xx", "function-errors", "function-throttles", "function-duration",
         "analysis-failures"]  # fmt: skip
BUDGET_ROLES = ["llm-budget-80-percent", "llm-budget-refusals", "llm-budget-counter"]


def specs_of(config=CONFIG):
    return {spec.role: spec for spec in alarm_specs(config, API_ID, "IRIS/prod")}


def test_the_alarms_keep_their_names_with_a_budget_and_lose_the_budget_ones_without():
    assert CONFIG.llm_daily_token_budget == 5_000_000
    assert list(specs_of()) == ROLES + BUDGET_ROLES
    assert list(specs_of(dataclasses.replace(CONFIG, llm_daily_token_budget=0))) == ROLES


def test_the_shared_alarms_watch_this_stacks_api_and_function():
    specs = specs_of()
    assert specs["api-5xx"].dimensions == {"ApiId": API_ID, "Stage": "$default"}
    for role in ("function-errors", "function-throttles", "function-duration"):
        assert specs[role].dimensions == {"FunctionName": "iris-prod"}
    assert specs["function-duration"].threshold == 29_500


def test_the_texts_name_this_stacks_logs_and_irises_dependencies():
    descriptions = {role: spec.description for role, spec in specs_of().items()}
    assert descriptions["api-5xx"].startswith(
        "The HTTP API answered 5xx in 2 of the last 3 five-minute periods. Look first at the "
        "dashboard's 'LLM failures by code' (the app's own 502/503/504), then at status and "
        "integrationError in the access log /aws/vendedlogs/apigateway/iris-prod"
    )
    assert "aws logs tail /aws/lambda/iris-prod" in descriptions["function-errors"]
    assert "raise reservedConcurrency together" in descriptions["function-throttles"]
    assert "29.5 s" in descriptions["function-duration"]
    assert descriptions["function-duration"].endswith("waited on: OpenAI, SSM or DynamoDB.")
    assert "llm_auth_failed" in descriptions["analysis-failures"]


def test_the_failure_alarm_watches_a_metric_a_log_filter_publishes():
    """An alarm names a metric by namespace, name and exact dimensions: the by-code series
    would need a code, so the alarm watches the dimensionless total, which a filter must emit."""
    alarm = specs_of()["analysis-failures"]
    assert alarm.namespace == "IRIS/prod"
    assert (alarm.metric, frozenset(alarm.dimensions)) in PUBLISHED
    assert not alarm.dimensions
    assert (alarm.periods, alarm.datapoints) == (3, 2)


def test_the_budget_alarms_watch_the_metrics_the_log_filters_publish():
    specs = specs_of()
    warning, refusals = specs["llm-budget-80-percent"], specs["llm-budget-refusals"]
    for alarm in (warning, refusals):
        assert alarm.namespace == "IRIS/prod"
        assert (alarm.metric, frozenset()) in PUBLISHED
        assert (alarm.periods, alarm.datapoints) == (1, 1)
        assert "pulumi config set llmDailyTokenBudget" in alarm.description
    # The day's running total (each count's UPDATED_NEW) at 80 % of the budget.
    assert (warning.metric, warning.statistic, warning.threshold) == (
        "LlmDayTokens",
        "Maximum",
        4_000_000,
    )
    assert warning.treat_missing_data == "ignore"
    assert "4,000,000 of today's 5,000,000 tokens" in warning.description
    # Any refused request.
    assert (refusals.metric, refusals.statistic, refusals.threshold) == ("BudgetRefusals", "Sum", 1)
    assert "aws logs tail /aws/lambda/iris-prod" in refusals.description


def test_any_failure_of_the_budgets_counter_alarms() -> None:
    """Each `llm budget counter failed` line counts once (test_log_metric_filters.py): one in a
    five-minute period is a 503 llm_budget_unavailable, or a call let through unreserved."""
    alarm = specs_of()["llm-budget-counter"]
    assert (alarm.namespace, alarm.dimensions) == ("IRIS/prod", {})
    assert (alarm.metric, frozenset()) in PUBLISHED
    assert (alarm.metric, alarm.statistic, alarm.threshold) == ("BudgetCounterFailures", "Sum", 1)
    assert (alarm.periods, alarm.datapoints, alarm.treat_missing_data) == (1, 1, "notBreaching")
    for named in (
        "503 llm_budget_unavailable",
        "llmBudgetFailOpenCallsPerContainer",
        "aws logs tail /aws/lambda/iris-prod",
        "malformed_counter",
    ):
        assert named in alarm.description
    assert len(alarm.description) <= 1024  # CloudWatch's limit on an alarm's description


def widgets(budget=0):
    return {widget.title: widget for widget in dashboard_widgets("IRIS/prod", budget)}


def test_the_widgets_graph_what_the_log_filters_publish():
    names = {name for name, _ in PUBLISHED}
    found = widgets()
    assert list(found) == ["Analysis cache", "LLM failures by code", "LLM tokens per day"]
    cache = [line[1] for line in found["Analysis cache"].metrics]
    assert cache == ["CacheHits", "CacheMisses"]
    assert set(cache) <= names
    for widget in found.values():
        for line in widget.metrics:
            if isinstance(line, list):
                assert line[0] == "IRIS/prod" and "stat" in line[-1], line
    (search,) = found["LLM failures by code"].metrics
    assert search["expression"] == (
        "SEARCH('{IRIS/prod,code} MetricName=\"AnalysisFailures\"', 'Sum', 300)"
    )
    assert ("AnalysisFailures", frozenset({"code"})) in PUBLISHED


def test_tokens_per_day_and_todays_running_total_are_graphed():
    per_day, today = widgets()["LLM tokens per day"].metrics
    # Each call's tokens summed over a day, and the counter's running total.
    assert (per_day[1], per_day[-1]["stat"], per_day[-1]["period"]) == ("LlmTokens", "Sum", 86_400)
    assert (today[1], today[-1]["stat"]) == ("LlmDayTokens", "Maximum")
    assert {(per_day[1], frozenset()), (today[1], frozenset())} <= PUBLISHED


def test_the_tokens_are_drawn_against_the_budget_and_its_alarm_line():
    assert widgets(5_000_000)["LLM tokens per day"].annotations == {
        "horizontal": [
            {"label": "llmDailyTokenBudget", "value": 5_000_000},
            {"label": "80% alarm", "value": 4_000_000},
        ]
    }


def test_without_a_budget_the_tokens_have_no_line_to_meet():
    assert widgets(0)["LLM tokens per day"].annotations is None
