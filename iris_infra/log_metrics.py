"""Metrics from the app's own JSON log lines: analysis failures (in total and by error code),
cache hits and misses, LLM tokens spent and requests refused for the daily token budget, for
the dashboard and the alarms.

The app logs one line per answered analysis, per failed one and per one refused for the budget
(backend/src/iris/analyze.py), and one per model call counted (backend/src/iris/budget.py):
  {"level": "INFO", "message": "analysis served", "cached": true, "model": "...", ...}
  {"level": "WARNING" or "ERROR", "message": "analysis failed", "code": "llm_timeout", ...}
  {"level": "WARNING", "message": "analysis refused", "code": "llm_budget_exhausted", ...}
  {"level": "INFO", "message": "llm tokens counted", "tokens": 612, "day_tokens": 80412, ...}
The function's log format is JSON, and Lambda keeps a JSON object written to stdout as the log
event itself, so CloudWatch Logs filter patterns select these lines by their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

ANALYSIS_FAILED = "analysis failed"
ANALYSIS_SERVED = "analysis served"
ANALYSIS_REFUSED = "analysis refused"
TOKENS_COUNTED = "llm tokens counted"
BUDGET_EXHAUSTED_CODE = "llm_budget_exhausted"

ANALYSIS_FAILURES = "AnalysisFailures"
CACHE_HITS = "CacheHits"
CACHE_MISSES = "CacheMisses"
# Tokens of each counted call: summed over a day, what the day spent.
LLM_TOKENS = "LlmTokens"
# The day's running total after each count (the counter's UPDATED_NEW): what the 80 % alarm reads.
LLM_DAY_TOKENS = "LlmDayTokens"
BUDGET_REFUSALS = "BudgetRefusals"
# The failure metric's dimension, from the line's `code` field (one series per error code).
CODE_DIMENSION = "code"


@dataclass(frozen=True)
class LogMetric:
    """One metric filter: each log event matching `pattern` adds `value` to metric `name`:
    1 (a count), or a numeric field the pattern itself checks ("$.tokens")."""

    role: str
    name: str
    pattern: str
    # Dimension name -> the JSON field it takes its value from.
    dimensions: Mapping[str, str] = field(default_factory=dict)
    value: str = "1"


LOG_METRICS = (
    # All failures in one series, with no dimension: what the alarm watches.
    LogMetric("analysis-failures", ANALYSIS_FAILURES, f'{{ $.message = "{ANALYSIS_FAILED}" }}'),
    # The same lines split by error code: what the dashboard shows.
    LogMetric(
        "analysis-failures-by-code",
        ANALYSIS_FAILURES,
        f'{{ $.message = "{ANALYSIS_FAILED}" }}',
        {CODE_DIMENSION: f"$.{CODE_DIMENSION}"},
    ),
    LogMetric(
        "cache-hits", CACHE_HITS, f'{{ $.message = "{ANALYSIS_SERVED}" && $.cached IS TRUE }}'
    ),
    LogMetric(
        "cache-misses", CACHE_MISSES, f'{{ $.message = "{ANALYSIS_SERVED}" && $.cached IS FALSE }}'
    ),
    LogMetric(
        "llm-tokens",
        LLM_TOKENS,
        f'{{ $.message = "{TOKENS_COUNTED}" && $.tokens > 0 }}',
        value="$.tokens",
    ),
    LogMetric(
        "llm-day-tokens",
        LLM_DAY_TOKENS,
        f'{{ $.message = "{TOKENS_COUNTED}" && $.day_tokens >= 0 }}',
        value="$.day_tokens",
    ),
    LogMetric(
        "budget-refusals",
        BUDGET_REFUSALS,
        f'{{ $.message = "{ANALYSIS_REFUSED}" && $.code = "{BUDGET_EXHAUSTED_CODE}" }}',
    ),
)


@dataclass(frozen=True)
class LogMetricsArgs:
    log_group_name: pulumi.Input[str]
    # A namespace of this stack's own (IRIS/<stack>), so stacks in one account never mix.
    namespace: str


class LogMetrics(pulumi.ComponentResource):
    namespace: str

    def __init__(
        self, name: str, args: LogMetricsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:LogMetrics", name, {}, opts)

        for metric in LOG_METRICS:
            # Turns matching log lines into a count the dashboard graphs and alarms can watch.
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{metric.role}",
                log_group_name=args.log_group_name,
                pattern=metric.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric.name,
                    namespace=args.namespace,
                    value=metric.value,
                    unit="Count",
                    dimensions=dict(metric.dimensions) or None,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.namespace = args.namespace
        self.register_outputs({"namespace": self.namespace})
