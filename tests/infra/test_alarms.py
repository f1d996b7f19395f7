"""Alarms: an SNS topic with the address subscribed, and an alarm per spec that notifies it on
the way into ALARM and back to OK, each well-formed for CloudWatch and sensible at low traffic;
the builders watch the API and each function given, and no other."""

from __future__ import annotations

import pytest

from iris.analyze import LAMBDA_RESERVE_S
from iris_infra.apps.iris import observability as iris_observability
from iris_infra.components.alarms import (
    PERIOD_SECONDS,
    AlarmedFunction,
    Alarms,
    AlarmsArgs,
    api_alarm_spec,
    duration_threshold_ms,
    function_alarm_specs,
)
from iris_infra.config.checks import API_GATEWAY_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS
from tests.infra.conftest import build_once, stack_file_config

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
API_ID = "a1b2c3d4e5"
ACCESS_LOGS = "/aws/vendedlogs/apigateway/app-prod"
# Three functions of one stack, each with its key; a fourth exists but is not given.
FUNCTIONS = (
    AlarmedFunction("app-prod", 30, "/aws/lambda/app-prod", key="api"),
    AlarmedFunction(
        "app-prod-net-worth", 10, "/aws/lambda/app-prod-net-worth", key="net_worth", waits_on="S3"
    ),
    AlarmedFunction(
        "app-prod-weekly-recap",
        5,
        "/aws/lambda/app-prod-weekly-recap",
        key="weekly_recap",
        concurrency_setting="insightConcurrency",
    ),
)
NOT_GIVEN = "app-prod-budget-tracking"
KINDS = {"errors": "Errors", "throttles": "Throttles", "duration": "Duration"}
THREE_ROLES = {
    "api-5xx",
    *(f"{key}-function-{kind}" for key in ("api", "net-worth", "weekly-recap") for kind in KINDS),
}


def three_function_specs():
    return [
        api_alarm_spec(API_ID, ACCESS_LOGS),
        *(spec for function in FUNCTIONS for spec in function_alarm_specs(function)),
    ]


def build(args):
    def program():
        alarms = Alarms("alarms", args)
        return {"topic_arn": alarms.topic_arn, "alarm_arns": alarms.alarm_arns}

    return build_once(program)


@pytest.fixture(scope="module")
def three():
    return build(AlarmsArgs("oncall@example.com", "app-prod", three_function_specs()))


@pytest.fixture(scope="module")
def iris():
    """IRIS's alarms on prod with a token budget: its single function's names, its texts."""
    config = stack_file_config("prod", alarmEmail="oncall@example.com")
    specs = iris_observability.alarm_specs(config, API_ID, "IRIS/prod")
    return build(AlarmsArgs("oncall@example.com", "iris-prod", specs))


def alarms_of(built, prefix):
    return {a.inputs["name"].removeprefix(f"{prefix}-"): a.inputs for a in built.of_type(ALARM)}


def test_the_address_is_subscribed_to_the_alarm_topic(three):
    topic = three.resource("aws:sns/topic:Topic", "alarms-topic")
    subscription = three.resource("aws:sns/topicSubscription:TopicSubscription", "alarms-email")
    assert topic.inputs["name"] == "app-prod-alarms"
    assert three.outputs["topic_arn"] == topic.outputs["arn"]
    assert subscription.inputs["topic"] == topic.outputs["arn"]
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "oncall@example.com"


@pytest.mark.parametrize(("built", "prefix"), [("three", "app-prod"), ("iris", "iris-prod")])
def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(request, built, prefix):
    built = request.getfixturevalue(built)
    topic_arn = built.outputs["topic_arn"]
    found = built.of_type(ALARM)
    assert sorted(built.outputs["alarm_arns"]) == sorted(a.outputs["arn"] for a in found)
    for alarm in found:
        assert alarm.name == f"alarms-{alarm.inputs['name'].removeprefix(prefix + '-')}"
        assert alarm.inputs["alarmActions"] == [topic_arn], alarm.name
        assert alarm.inputs["okActions"] == [topic_arn], alarm.name
        assert alarm.inputs.get("actionsEnabled") in (None, True), alarm.name


@pytest.mark.parametrize(("built", "prefix"), [("three", "app-prod"), ("iris", "iris-prod")])
def test_each_alarm_is_well_formed_for_cloudwatch(request, built, prefix):
    for role, alarm in alarms_of(request.getfixturevalue(built), prefix).items():
        # A period of 10, 20, 30 s or a multiple of 60 s; exactly one kind of statistic.
        assert alarm["period"] in (10, 20, 30) or alarm["period"] % 60 == 0, role
        assert ("statistic" in alarm) != ("extendedStatistic" in alarm), role
        assert alarm["statistic"] in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
        assert 1 <= alarm["datapointsToAlarm"] <= alarm["evaluationPeriods"], role
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold", role
        # Quiet periods (no traffic, no failure lines) are not failures; a day's total that
        # stops growing keeps its state until the next day's first count.
        expected = "ignore" if role == "llm-budget-80-percent" else "notBreaching"
        assert alarm["treatMissingData"] == expected, role
        # What to look at first, within CloudWatch's 1024 characters.
        assert "Look first" in alarm["alarmDescription"], role
        assert len(alarm["alarmDescription"]) <= 1024, role
        assert len(alarm["name"]) <= 255, role


def test_the_gateway_alarm_counts_5xx_on_this_apis_default_stage(three):
    alarm = alarms_of(three, "app-prod")["api-5xx"]
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/ApiGateway", "5xx")
    assert alarm["dimensions"] == {"ApiId": API_ID, "Stage": "$default"}
    assert (alarm["statistic"], alarm["threshold"]) == ("Sum", 1)
    # One stray 5xx is not an incident; failures in two of three periods are.
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (3, 2)
    assert alarm["period"] == PERIOD_SECONDS
    # With nothing else to look at, the access log comes first.
    first = f"Look first at status and integrationError in the access log {ACCESS_LOGS}"
    assert first in alarm["alarmDescription"]


def test_each_function_given_has_its_own_alarms_and_no_other_function_has_any(three):
    found = alarms_of(three, "app-prod")
    assert set(found) == THREE_ROLES
    for function in FUNCTIONS:
        key = function.key.replace("_", "-")
        for kind, metric in KINDS.items():
            alarm = found[f"{key}-function-{kind}"]
            assert (alarm["namespace"], alarm["metricName"]) == ("AWS/Lambda", metric)
            assert alarm["dimensions"] == {"FunctionName": function.function_name}
            assert alarm["period"] == PERIOD_SECONDS
    assert NOT_GIVEN not in str([a.inputs for a in three.of_type(ALARM)])


@pytest.mark.parametrize(
    ("key", "threshold"), [("api", 29_500), ("net-worth", 9_500), ("weekly-recap", 4_500)]
)
def test_each_duration_alarm_follows_its_own_functions_timeout(three, key, threshold):
    alarm = alarms_of(three, "app-prod")[f"{key}-function-duration"]
    assert (alarm["statistic"], alarm["threshold"]) == ("Maximum", threshold)
    assert f"{threshold / 1000:g} s or longer" in alarm["alarmDescription"]


@pytest.mark.parametrize(("kind", "threshold"), [("errors", 1), ("throttles", 1)])
def test_a_single_failure_or_throttle_alarms(three, kind, threshold):
    for key in ("api", "net-worth", "weekly-recap"):
        alarm = alarms_of(three, "app-prod")[f"{key}-function-{kind}"]
        assert (alarm["statistic"], alarm["threshold"]) == ("Sum", threshold)
        assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (1, 1)


def test_each_functions_texts_name_its_own_logs_and_what_the_stack_says():
    specs = {spec.role: spec.description for spec in three_function_specs()}
    for function in FUNCTIONS:
        key = function.key.replace("_", "-")
        assert f"aws logs tail {function.log_group_name} " in specs[f"{key}-function-errors"]
        assert specs[f"{key}-function-errors"].startswith(function.function_name)
    assert specs["net-worth-function-duration"].endswith("and at what they waited on: S3.")
    assert "waited on" not in specs["api-function-duration"]
    assert "raise insightConcurrency together" in specs["weekly-recap-function-throttles"]
    assert "raise its reserved concurrency together" in specs["api-function-throttles"]


def test_a_stacks_only_function_keeps_unprefixed_roles():
    """IRIS's alarms were named before stacks had several functions; renaming them would
    replace every one."""
    specs = function_alarm_specs(AlarmedFunction("iris-prod", 30, "/aws/lambda/iris-prod"))
    assert [spec.role for spec in specs] == [
        "function-errors",
        "function-throttles",
        "function-duration",
    ]


def test_two_alarms_with_one_role_are_refused_naming_it():
    twice = [*function_alarm_specs(FUNCTIONS[1]), *function_alarm_specs(FUNCTIONS[1])]
    with pytest.raises(ValueError, match="net-worth-function-duration, net-worth-function-errors"):
        AlarmsArgs("oncall@example.com", "app-prod", twice)


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
