"""Alarms that reach a person: an SNS topic with one email address subscribed, and a CloudWatch
alarm per spec the stack gives. The builders here make the specs every stack needs: the API's
5xx answers, and each function's errors, throttles and near-timeout durations; a stack adds its
app's own (IRIS's: iris_infra.apps.iris.observability).

Thresholds suit low traffic: counts, not rates (one failure out of two requests is not 50 % of
anything), five-minute periods, and no data counts as not breaching, so a quiet night is OK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from iris_infra.components.names import slug

PERIOD_SECONDS = 300
# The app answers by its own deadline, at least a second before the function's timeout; a
# duration within this margin of the timeout means a request ran into Lambda's limit.
DURATION_MARGIN_MS = 500
DURATION_MIN_FRACTION = 0.9
API_STAGE = "$default"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: `statistic` of `metric` over PERIOD_SECONDS, compared with `threshold`
    (greater than or equal), alarming when `datapoints` of the last `periods` breach."""

    # Its name after the stack's prefix, and its resource name's suffix: one per stack.
    role: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str
    threshold: float
    periods: int
    datapoints: int
    description: str
    # "ignore" keeps a state until new data says otherwise (notBreaching: quiet is fine).
    treat_missing_data: str = "notBreaching"


@dataclass(frozen=True)
class AlarmsArgs:
    email: str
    # Prefix of the alarm names, which are the subject of every notification (iris-prod-...).
    name_prefix: str
    specs: Sequence[AlarmSpec]

    def __post_init__(self) -> None:
        roles = [spec.role for spec in self.specs]
        twice = sorted({role for role in roles if roles.count(role) > 1})
        if twice:
            raise ValueError(
                f"alarms of {self.name_prefix!r}: each role once, but {', '.join(twice)} "
                "appear more than once (two functions with one key?)"
            )


@dataclass(frozen=True)
class AlarmedFunction:
    """A function whose errors, throttles and durations are watched, and what the alarms'
    texts tell the person to look at first."""

    function_name: str
    timeout_seconds: int
    log_group_name: str
    # The stack's key for it when it has several: its alarms are then `<key>-function-errors`
    # and so on; None for a stack's only function (`function-errors`).
    key: str | None = None
    # What caps its concurrency, which the throttles alarm says to raise: a config key.
    concurrency_setting: str = "its reserved concurrency"
    # What a slow invocation may have waited on ("OpenAI, SSM or DynamoDB"), if worth naming.
    waits_on: str | None = None


class Alarms(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    alarm_arns: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:Alarms", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Where every alarm and its recovery is sent.
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"{args.name_prefix}-alarms",
            display_name=f"{args.name_prefix} alarms",
            opts=child,
        )

        # The person who hears about it; SNS mails a confirmation link that must be followed.
        aws.sns.TopicSubscription(
            f"{name}-email",
            topic=topic.arn,
            protocol="email",
            endpoint=args.email,
            opts=child,
        )

        self.alarm_arns = []
        for spec in args.specs:
            # Notifies on the way into ALARM and again on the way back to OK.
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.role}",
                name=f"{args.name_prefix}-{spec.role}",
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=dict(spec.dimensions) or None,
                statistic=spec.statistic,
                period=PERIOD_SECONDS,
                evaluation_periods=spec.periods,
                datapoints_to_alarm=spec.datapoints,
                threshold=spec.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data=spec.treat_missing_data,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                opts=child,
            )
            self.alarm_arns.append(alarm.arn)

        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "alarm_arns": self.alarm_arns})


def duration_threshold_ms(timeout_seconds: int) -> float:
    """Within DURATION_MARGIN_MS of the timeout, and never below 90 % of it."""
    timeout_ms = timeout_seconds * 1000
    return max(timeout_ms - DURATION_MARGIN_MS, timeout_ms * DURATION_MIN_FRACTION)


def tail_command(log_group_name: str) -> str:
    """What to run to read a log group's last half hour, as an alarm text quotes it."""
    return f"`aws logs tail {log_group_name} --since 30m`"


def api_alarm_spec(
    api_id: pulumi.Input[str], access_log_group_name: str, look_first: str | None = None
) -> AlarmSpec:
    """The API's 5xx answers in 2 of 3 periods; `look_first` is where the app's own 5xx show
    (a dashboard widget), read before the access log."""
    access_log = (
        f"status and integrationError in the access log {access_log_group_name} (an "
        "integration error is the function failing or running out of time)."
    )
    return AlarmSpec(
        role="api-5xx",
        namespace="AWS/ApiGateway",
        metric="5xx",
        dimensions={"ApiId": api_id, "Stage": API_STAGE},
        statistic="Sum",
        threshold=1,
        periods=3,
        datapoints=2,
        description=(
            "The HTTP API answered 5xx in 2 of the last 3 five-minute periods. Look first at "
            + (f"{look_first}, then at {access_log}" if look_first else access_log)
        ),
    )


def function_alarm_specs(function: AlarmedFunction) -> list[AlarmSpec]:
    """Its failures (which the app never answers itself), throttles, and invocations that ran
    into the timeout."""
    name = function.function_name
    role = "function" if function.key is None else f"{slug(function.key)}-function"
    dimensions = {"FunctionName": name}
    duration_ms = duration_threshold_ms(function.timeout_seconds)
    waited_on = f" and at what they waited on: {function.waits_on}" if function.waits_on else ""
    setting = function.concurrency_setting
    return [
        AlarmSpec(
            role=f"{role}-errors",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions=dimensions,
            statistic="Sum",
            threshold=1,
            periods=1,
            datapoints=1,
            description=(
                f"{name} failed instead of answering (a crash at start-up, a timeout or running "
                "out of memory; the app answers its own errors as JSON). Look first at the "
                "platform.report lines whose status is not success: "
                f"{tail_command(function.log_group_name)}."
            ),
        ),
        AlarmSpec(
            role=f"{role}-throttles",
            namespace="AWS/Lambda",
            metric="Throttles",
            dimensions=dimensions,
            statistic="Sum",
            threshold=1,
            periods=1,
            datapoints=1,
            description=(
                f"Invocations of {name} were refused for lack of concurrency, so those requests "
                f"failed. Look first at the dashboard's concurrent executions against {setting} "
                f"and the account's concurrency quota; raise {setting} together with the "
                "stage's throttle limits."
            ),
        ),
        AlarmSpec(
            role=f"{role}-duration",
            namespace="AWS/Lambda",
            metric="Duration",
            dimensions=dimensions,
            statistic="Maximum",
            threshold=duration_ms,
            periods=1,
            datapoints=1,
            description=(
                f"An invocation of {name} ran {duration_ms / 1000:g} s or longer, at the "
                f"{function.timeout_seconds} s timeout, where Lambda cuts it off. Look first at "
                'the slowest requests (Logs Insights: filter type = "platform.report" | sort '
                f"record.metrics.durationMs desc){waited_on}."
            ),
        ),
    ]
