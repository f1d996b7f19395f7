"""Alarms that reach a person: an SNS topic with one email address subscribed, and CloudWatch
alarms on the API's 5xx answers, the function's errors, throttles and near-timeout durations,
the app's own analysis failures (which show an upstream outage even when the gateway is fine)
and, with a daily LLM token budget, 80 % of it spent and requests refused for it.

Thresholds suit low traffic: counts, not rates (one failure out of two requests is not 50 % of
anything), five-minute periods, and no data counts as not breaching, so a quiet night is OK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from iris_infra.log_metrics import (
    ANALYSIS_FAILURES,
    BUDGET_REFUSALS,
    CODE_DIMENSION,
    LLM_DAY_TOKENS,
)

PERIOD_SECONDS = 300
# The app answers by its own deadline, at least a second before the function's timeout; a
# duration within this margin of the timeout means a request ran into Lambda's limit.
DURATION_MARGIN_MS = 500
DURATION_MIN_FRACTION = 0.9
API_STAGE = "$default"
# Share of the day's token budget at which someone is told, while there is time to act.
BUDGET_WARNING_SHARE = 0.8


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: `statistic` of `metric` over PERIOD_SECONDS, compared with `threshold`
    (greater than or equal), alarming when `datapoints` of the last `periods` breach."""

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
    api_id: pulumi.Input[str]
    function_name: str
    function_timeout_seconds: int
    log_group_name: str
    access_log_group_name: str
    # Where the app's log metrics are (LogMetrics.namespace).
    metric_namespace: str
    # llmDailyTokenBudget; 0 (no cap) has no budget alarms.
    llm_daily_token_budget: int = 0


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
        for spec in alarm_specs(args):
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


def budget_warning_tokens(budget: int) -> int:
    return int(budget * BUDGET_WARNING_SHARE)


def alarm_specs(args: AlarmsArgs) -> list[AlarmSpec]:
    specs = _operation_specs(args)
    if args.llm_daily_token_budget:
        specs.extend(_budget_specs(args))
    return specs


def _budget_specs(args: AlarmsArgs) -> list[AlarmSpec]:
    budget = args.llm_daily_token_budget
    warning = budget_warning_tokens(budget)
    raise_it = (
        "If the traffic is genuine, raise the cap: `pulumi config set llmDailyTokenBudget "
        "<tokens>` and `pulumi up` (README: LLM spend cap); if not, rotate apiKeys."
    )
    return [
        AlarmSpec(
            role="llm-budget-80-percent",
            namespace=args.metric_namespace,
            metric=LLM_DAY_TOKENS,
            dimensions={},
            statistic="Maximum",
            threshold=warning,
            periods=1,
            datapoints=1,
            # The day's total only grows until midnight: the alarm stays until the next day's
            # first count, rather than "recovering" whenever calls pause.
            treat_missing_data="ignore",
            description=(
                f"The model has used {warning:,} of today's {budget:,} tokens (UTC): "
                f"{BUDGET_WARNING_SHARE:.0%} of llmDailyTokenBudget. At the budget, uncached "
                "analyses answer 429 llm_budget_exhausted until midnight UTC. Look first at "
                "the dashboard's 'LLM tokens per day' and 'Analysis cache' (many misses from "
                f"few clients is a script). {raise_it}"
            ),
        ),
        AlarmSpec(
            role="llm-budget-refusals",
            namespace=args.metric_namespace,
            metric=BUDGET_REFUSALS,
            dimensions={},
            statistic="Sum",
            threshold=1,
            periods=1,
            datapoints=1,
            description=(
                f"Uncached analyses are refused (429 llm_budget_exhausted): today's {budget:,} "
                "LLM tokens (UTC) are spent; cached texts are still answered. Look first at "
                "the dashboard's 'LLM tokens per day' and the 'analysis refused' lines: "
                f"{_tail(args.log_group_name)}. {raise_it}"
            ),
        ),
    ]


def _tail(log_group_name: str) -> str:
    return f"`aws logs tail {log_group_name} --since 30m`"


def _operation_specs(args: AlarmsArgs) -> list[AlarmSpec]:
    function = {"FunctionName": args.function_name}
    tail = _tail(args.log_group_name)
    duration_ms = duration_threshold_ms(args.function_timeout_seconds)
    return [
        AlarmSpec(
            role="api-5xx",
            namespace="AWS/ApiGateway",
            metric="5xx",
            dimensions={"ApiId": args.api_id, "Stage": API_STAGE},
            statistic="Sum",
            threshold=1,
            periods=3,
            datapoints=2,
            description=(
                "The HTTP API answered 5xx in 2 of the last 3 five-minute periods. Look first "
                "at the dashboard's 'LLM failures by code' (the app's own 502/503/504), then "
                f"at status and integrationError in the access log {args.access_log_group_name}"
                " (an integration error is the function failing or running out of time)."
            ),
        ),
        AlarmSpec(
            role="function-errors",
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions=function,
            statistic="Sum",
            threshold=1,
            periods=1,
            datapoints=1,
            description=(
                f"{args.function_name} failed instead of answering (a crash at start-up, a "
                "timeout or running out of memory; the app answers its own errors as JSON). "
                f"Look first at the platform.report lines whose status is not success: {tail}."
            ),
        ),
        AlarmSpec(
            role="function-throttles",
            namespace="AWS/Lambda",
            metric="Throttles",
            dimensions=function,
            statistic="Sum",
            threshold=1,
            periods=1,
            datapoints=1,
            description=(
                f"Invocations of {args.function_name} were refused for lack of concurrency, so "
                "those requests failed. Look first at the dashboard's concurrent executions "
                "against reservedConcurrency and the account's concurrency quota; raise "
                "reservedConcurrency together with the stage's throttle limits."
            ),
        ),
        AlarmSpec(
            role="function-duration",
            namespace="AWS/Lambda",
            metric="Duration",
            dimensions=function,
            statistic="Maximum",
            threshold=duration_ms,
            periods=1,
            datapoints=1,
            description=(
                f"An invocation of {args.function_name} ran {duration_ms / 1000:g} s or longer, "
                f"at the {args.function_timeout_seconds} s timeout, where Lambda cuts it off. "
                "Look first at the slowest requests (Logs Insights: filter type = "
                '"platform.report" | sort record.metrics.durationMs desc) and at what they '
                "waited on: OpenAI, SSM or DynamoDB."
            ),
        ),
        AlarmSpec(
            role="analysis-failures",
            namespace=args.metric_namespace,
            metric=ANALYSIS_FAILURES,
            dimensions={},
            statistic="Sum",
            threshold=1,
            periods=3,
            datapoints=2,
            description=(
                "Analyses failed in 2 of the last 3 five-minute periods. Look first at the "
                f"dashboard's failures by {CODE_DIMENSION}: llm_auth_failed or "
                "llm_not_configured is the OpenAI key (set a valid one with `pulumi config set "
                "--secret openaiApiKey`), llm_rate_limited is the OpenAI quota, "
                "llm_upstream_error or llm_timeout is OpenAI itself (its status page)."
            ),
        ),
    ]
