"""An EventBridge schedule that pings the function so a container stays warm.

The handler answers EventBridge's "Scheduled Event" at once, without running the app.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from iris_infra.components.function import allow_invoke


@dataclass(frozen=True)
class WarmupScheduleArgs:
    # The rule's physical name (StackNames.rule).
    rule_name: str
    function_name: pulumi.Input[str]
    # What the schedule invokes: the `live` alias's ARN in the stack, so the ping warms the
    # version that serves requests (and its provisioned instances, if any).
    function_arn: pulumi.Input[str]
    interval_minutes: int
    # The alias (or version) that function_arn names: the invoke permission must too.
    function_qualifier: pulumi.Input[str] | None = None
    # The rule's description, which the console lists it by.
    description: str = "Keeps a warm container of the function"


class WarmupSchedule(pulumi.ComponentResource):
    rule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: WarmupScheduleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:WarmupSchedule", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Fires every interval; the event itself is the ping.
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=args.rule_name,
            schedule_expression=rate_expression(args.interval_minutes),
            description=args.description,
            opts=child,
        )

        # Delivers the unmodified scheduled event, which the handler recognises as a ping.
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=args.function_arn,
            opts=child,
        )

        # Lets this rule, and no other, invoke the function (the alias it targets).
        allow_invoke(
            f"{name}-permission",
            args.function_name,
            "events.amazonaws.com",
            rule.arn,
            child,
            qualifier=args.function_qualifier,
        )

        self.rule_arn = rule.arn
        self.register_outputs({"rule_arn": self.rule_arn})


def rate_expression(minutes: int) -> str:
    """EventBridge wants the singular unit for 1: `rate(1 minute)`, `rate(5 minutes)`."""
    if minutes < 1:
        raise ValueError(f"a warm-up interval must be at least 1 minute, got {minutes}")
    return f"rate({minutes} minute{'s' if minutes != 1 else ''})"
