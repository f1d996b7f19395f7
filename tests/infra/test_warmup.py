"""WarmupSchedule: an EventBridge rule that invokes the function, and only that rule may."""

from __future__ import annotations

import pytest

from iris_infra.components.warmup import WarmupSchedule, WarmupScheduleArgs, rate_expression

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:iris-dev"
ALIAS_ARN = f"{FUNCTION_ARN}:live"


@pytest.mark.parametrize(("target_arn", "qualifier"), [(FUNCTION_ARN, None), (ALIAS_ARN, "live")])
def test_the_rule_pings_the_function_on_schedule(mocks, resolve, target_arn, qualifier):
    def program():
        schedule = WarmupSchedule(
            "warm",
            WarmupScheduleArgs(
                rule_name="iris-dev-warmup",
                function_name="iris-dev",
                function_arn=target_arn,
                function_qualifier=qualifier,
                interval_minutes=5,
            ),
        )
        return schedule.rule_arn

    rule_arn = resolve(program)
    rule = mocks.resource("aws:cloudwatch/eventRule:EventRule", "warm-rule")
    assert rule.inputs["scheduleExpression"] == "rate(5 minutes)"

    target = mocks.resource("aws:cloudwatch/eventTarget:EventTarget", "warm-target")
    assert target.inputs["arn"] == target_arn
    assert target.inputs["rule"] == rule.outputs["name"]
    # The handler recognises the unmodified scheduled event; a custom input would hide it.
    assert "input" not in target.inputs

    permission = mocks.resource("aws:lambda/permission:Permission", "warm-permission")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["function"] == "iris-dev"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == rule_arn
    # Invoking an alias needs the permission on that alias.
    assert permission.inputs.get("qualifier") == qualifier


@pytest.mark.parametrize(
    ("minutes", "expression"),
    [(1, "rate(1 minute)"), (5, "rate(5 minutes)"), (60, "rate(60 minutes)")],
)
def test_rate_expressions_use_the_unit_eventbridge_expects(minutes, expression):
    assert rate_expression(minutes) == expression


def test_a_zero_interval_is_not_a_schedule():
    with pytest.raises(ValueError):
        rate_expression(0)
