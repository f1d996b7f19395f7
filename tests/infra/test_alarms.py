"""Alarms: an SNS topic with the address subscribed, and alarms that notify it on the way into
ALARM and back to OK, each well-formed for CloudWatch and sensible at low traffic."""

from __future__ import annotations

import dataclasses

import pytest

from iris.analyze import LAMBDA_RESERVE_S
from iris_infra.alarms import (
    PERIOD_SECONDS,
    Alarms,
    AlarmsArgs,
    alarm_specs,
    duration_threshold_ms,
)
from iris_infra.config import API_GATEWAY_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS
from iris_infra.log_metrics import LOG_METRICS

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ARGS = AlarmsArgs(
    email="oncall@example.com",
    name_prefix="iris-prod",
    api_id="a1b2c3d4e5",
    function_name="iris-prod",
    function_timeout_seconds=30,
    log_group_name="/aws/lambda/iris-prod",
    access_log_group_name="/aws/vendedlogs/apigateway/iris-prod",
    metric_namespace="IRIS/prod",
)
ROLES = {"api-5xx", "function-errors", "function-throttles", "function-duration",
         "analysis-failures"}  # fmt: skip
BUDGET_ARGS = dataclasses.replace(ARGS, llm_daily_token_budget=5_000_000)
BUDGET_ROLES = {"llm-budget-80-percent", "llm-budget-refusals"}


def build(resolve, args=ARGS):
    def program():
        alarms = Alarms("alarms", args)
        return {"topic_arn": alarms.topic_arn, "alarm_arns": alarms.alarm_arns}

    return resolve(program)


def alarms(mocks):
    return {
        alarm.inputs["name"].removeprefix("iris-prod-"): alarm for alarm in mocks.of_type(ALARM)
    }


def test_the_address_is_subscribed_to_the_alarm_topic(mocks, resolve):
    outputs = build(resolve)
    topic = mocks.resource("aws:sns/topic:Topic", "alarms-topic")
    subscription = mocks.resource("aws:sns/topicSubscription:TopicSubscription", "alarms-email")
    assert topic.inputs["name"] == "iris-prod-alarms"
    assert outputs["topic_arn"] == topic.outputs["arn"]
    assert subscription.inputs["topic"] == topic.outputs["arn"]
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "oncall@example.com"


def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(mocks, resolve):
    outputs = build(resolve)
    topic_arn = outputs["topic_arn"]
    found = alarms(mocks)
    assert set(found) == ROLES
    assert sorted(outputs["alarm_arns"]) == sorted(a.outputs["arn"] for a in found.values())
    for role, alarm in found.items():
        assert alarm.inputs["alarmActions"] == [topic_arn], role
        assert alarm.inputs["okActions"] == [topic_arn], role
        assert alarm.inputs.get("actionsEnabled") in (None, True), role


@pytest.mark.parametrize("role", sorted(ROLES | BUDGET_ROLES))
def test_each_alarm_is_well_formed_for_cloudwatch(mocks, resolve, role):
    build(resolve, BUDGET_ARGS)
    alarm = alarms(mocks)[role].inputs
    # A period of 10, 20, 30 s or a multiple of 60 s; exactly one kind of statistic.
    assert alarm["period"] in (10, 20, 30) or alarm["period"] % 60 == 0
    assert ("statistic" in alarm) != ("extendedStatistic" in alarm)
    assert alarm["statistic"] in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
    assert 1 <= alarm["datapointsToAlarm"] <= alarm["evaluationPeriods"]
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # Quiet periods (no traffic, no failure lines) are not failures; a day's total that stops
    # growing keeps its state until the next day's first count.
    expected = "ignore" if role == "llm-budget-80-percent" else "notBreaching"
    assert alarm["treatMissingData"] == expected
    # What to look at first, within CloudWatch's 1024 characters.
    assert "Look first" in alarm["alarmDescription"]
    assert len(alarm["alarmDescription"]) <= 1024
    assert len(alarm["name"]) <= 255


def test_the_gateway_alarm_counts_5xx_on_this_apis_default_stage(mocks, resolve):
    build(resolve)
    alarm = alarms(mocks)["api-5xx"].inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/ApiGateway", "5xx")
    assert alarm["dimensions"] == {"ApiId": "a1b2c3d4e5", "Stage": "$default"}
    assert (alarm["statistic"], alarm["threshold"]) == ("Sum", 1)
    # One stray 5xx is not an incident; failures in two of three periods are.
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (3, 2)


@pytest.mark.parametrize(
    ("role", "metric", "statistic", "threshold"),
    [
        ("function-errors", "Errors", "Sum", 1),
        ("function-throttles", "Throttles", "Sum", 1),
        ("function-duration", "Duration", "Maximum", 29_500),
    ],
)
def test_the_function_alarms_watch_this_function(
    mocks, resolve, role, metric, statistic, threshold
):
    build(resolve)
    alarm = alarms(mocks)[role].inputs
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Lambda", metric)
    assert alarm["dimensions"] == {"FunctionName": "iris-prod"}
    assert (alarm["statistic"], alarm["threshold"]) == (statistic, threshold)
    assert alarm["period"] == PERIOD_SECONDS


def test_the_failure_alarm_watches_a_metric_a_log_filter_publishes(mocks, resolve):
    """An alarm names a metric by namespace, name and exact dimensions: the by-code series
    would need a code, so the alarm watches the dimensionless total, which a filter must emit."""
    build(resolve)
    alarm = alarms(mocks)["analysis-failures"].inputs
    published = {(metric.name, frozenset(metric.dimensions)) for metric in LOG_METRICS}
    assert alarm["namespace"] == "IRIS/prod"
    assert (alarm["metricName"], frozenset(alarm.get("dimensions", {}))) in published
    assert "dimensions" not in alarm
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (3, 2)


def test_without_a_budget_there_are_no_budget_alarms(mocks, resolve):
    build(resolve)
    assert set(alarms(mocks)) == ROLES


def test_the_budget_alarms_watch_the_metrics_the_log_filters_publish(mocks, resolve):
    build(resolve, BUDGET_ARGS)
    found = alarms(mocks)
    assert set(found) == ROLES | BUDGET_ROLES
    published = {(metric.name, frozenset(metric.dimensions)) for metric in LOG_METRICS}
    warning = found["llm-budget-80-percent"].inputs
    refusals = found["llm-budget-refusals"].inputs
    for alarm in (warning, refusals):
        assert alarm["namespace"] == "IRIS/prod"
        assert (alarm["metricName"], frozenset()) in published
        assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (1, 1)
    # The day's running total (each count's UPDATED_NEW) at 80 % of the budget.
    assert (warning["metricName"], warning["statistic"]) == ("LlmDayTokens", "Maximum")
    assert warning["threshold"] == 4_000_000
    assert "4,000,000 of today's 5,000,000 tokens" in warning["alarmDescription"]
    # Any refused request.
    assert (refusals["metricName"], refusals["statistic"], refusals["threshold"]) == (
        "BudgetRefusals",
        "Sum",
        1,
    )
    for alarm in (warning, refusals):
        assert "pulumi config set llmDailyTokenBudget" in alarm["alarmDescription"]


def test_the_descriptions_name_this_stacks_logs():
    descriptions = {spec.role: spec.description for spec in alarm_specs(ARGS)}
    assert "/aws/vendedlogs/apigateway/iris-prod" in descriptions["api-5xx"]
    assert "aws logs tail /aws/lambda/iris-prod" in descriptions["function-errors"]
    assert "llm_auth_failed" in descriptions["analysis-failures"]
    assert "29.5 s" in descriptions["function-duration"]


@pytest.mark.parametrize(
    ("timeout", "threshold"), [(1, 900), (5, 4500), (10, 9500), (29, 28_500), (30, 29_500)]
)
def test_the_duration_threshold_is_just_short_of_the_timeout(timeout, threshold):
    assert duration_threshold_ms(timeout) == threshold


@pytest.mark.parametrize("timeout", range(MIN_TIMEOUT_SECONDS, API_GATEWAY_TIMEOUT_SECONDS + 1))
def test_a_request_that_meets_the_apps_own_deadline_never_trips_the_duration_alarm(timeout):
    """The app answers by the invocation's time left less LAMBDA_RESERVE_S: an LLM timeout is a
    JSON 504 then, counted by the failure alarm, and stays under the duration threshold."""
    app_deadline_ms = (timeout - LAMBDA_RESERVE_S) * 1000
    assert app_deadline_ms < duration_threshold_ms(timeout) < timeout * 1000
