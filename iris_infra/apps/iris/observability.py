"""IRIS's own signals on top of the shared ones: the metrics its log lines give (analysis
failures in total and by error code, cache hits and misses, LLM tokens spent, requests refused
for the daily token budget, failures of its counter), the alarms on them, its dashboard widgets,
and what the shared alarms' texts name of its dependencies.

The app logs one line per answered analysis, per failed one and per one refused for the budget
(backend/src/iris/analyze.py), one per model call counted and one per failure of the budget's
counter (backend/src/iris/budget.py):
  {"level": "INFO", "message": "analysis served", "cached": true, "model": "...", ...}
  {"level": "WARNING" or "ERROR", "message": "analysis failed", "code": "llm_timeout", ...}
  {"level": "WARNING", "message": "analysis refused", "code": "llm_budget_exhausted", ...}
  {"level": "INFO", "message": "llm tokens counted", "tokens": 612, "day_tokens": 80412, ...}
  {"level": "WARNING", "message": "llm budget counter failed", "step": "reserve", ...}
"""

from __future__ import annotations

import pulumi

from iris_infra.apps.iris.config import StackConfig
from iris_infra.components.alarms import (
    AlarmedFunction,
    AlarmSpec,
    api_alarm_spec,
    function_alarm_specs,
    tail_command,
)
from iris_infra.components.dashboard import PERIOD_SECONDS, MetricWidget
from iris_infra.components.function import log_group_name_of
from iris_infra.components.http_api import access_log_group_name_of
from iris_infra.components.log_metrics import LogMetric

ANALYSIS_FAILED = "analysis failed"
ANALYSIS_SERVED = "analysis served"
ANALYSIS_REFUSED = "analysis refused"
TOKENS_COUNTED = "llm tokens counted"
COUNTER_FAILED = "llm budget counter failed"
BUDGET_EXHAUSTED_CODE = "llm_budget_exhausted"

ANALYSIS_FAILURES = "AnalysisFailures"
CACHE_HITS = "CacheHits"
CACHE_MISSES = "CacheMisses"
# Tokens of each counted call: summed over a day, what the day spent.
LLM_TOKENS = "LlmTokens"
# The day's running total after each count (the counter's UPDATED_NEW): what the 80 % alarm reads.
LLM_DAY_TOKENS = "LlmDayTokens"
BUDGET_REFUSALS = "BudgetRefusals"
# Each failure of the budget's counter: a 503 llm_budget_unavailable, or a call let through on
# llmBudgetFailOpenCallsPerContainer, or a settle that left a reservation standing.
BUDGET_COUNTER_FAILURES = "BudgetCounterFailures"
# The failure metric's dimension, from the line's `code` field (one series per error code).
CODE_DIMENSION = "code"

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
    LogMetric(
        "budget-counter-failures", BUDGET_COUNTER_FAILURES, f'{{ $.message = "{COUNTER_FAILED}" }}'
    ),
)

# Share of the day's token budget at which someone is told, while there is time to act.
BUDGET_WARNING_SHARE = 0.8
DAY_SECONDS = 86_400
# Where the app's own 5xx (the LLM's failures: 502, 503, 504) show, before the access log.
API_ERRORS_LOOK_FIRST = "the dashboard's 'LLM failures by code' (the app's own 502/503/504)"
# What a slow analysis waits on.
API_WAITS_ON = "OpenAI, SSM or DynamoDB"
# The setting that caps the API function's concurrency.
API_CONCURRENCY_SETTING = "reservedConcurrency"


def budget_warning_tokens(budget: int) -> int:
    return int(budget * BUDGET_WARNING_SHARE)


def alarm_specs(
    config: StackConfig, api_id: pulumi.Input[str], metric_namespace: str
) -> list[AlarmSpec]:
    """The API's and the API function's alarms, told what IRIS waits on, then IRIS's own: its
    analysis failures and, with a daily token budget, 80 % of it spent and refusals for it."""
    function_name = config.name_prefix
    log_group_name = log_group_name_of(function_name)
    specs = [
        api_alarm_spec(api_id, access_log_group_name_of(config.name_prefix), API_ERRORS_LOOK_FIRST),
        *function_alarm_specs(
            AlarmedFunction(
                function_name=function_name,
                timeout_seconds=config.timeout_seconds,
                log_group_name=log_group_name,
                concurrency_setting=API_CONCURRENCY_SETTING,
                waits_on=API_WAITS_ON,
            )
        ),
        analysis_failures_spec(metric_namespace),
    ]
    if config.llm_daily_token_budget:
        specs.extend(
            budget_alarm_specs(metric_namespace, log_group_name, config.llm_daily_token_budget)
        )
    return specs


def analysis_failures_spec(metric_namespace: str) -> AlarmSpec:
    """Analyses failing in 2 of 3 periods: an upstream outage shows here even while the
    gateway answers."""
    return AlarmSpec(
        role="analysis-failures",
        namespace=metric_namespace,
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
    )


def budget_alarm_specs(metric_namespace: str, log_group_name: str, budget: int) -> list[AlarmSpec]:
    """80 % of the day's tokens spent, while there is time to act; requests refused; and the
    counter failing, which stops uncached analyses (or lets them through unreserved)."""
    warning = budget_warning_tokens(budget)
    raise_it = (
        "If the traffic is genuine, raise the cap: `pulumi config set llmDailyTokenBudget "
        "<tokens>` and `pulumi up` (docs/operating.md: the LLM spend cap); if not, rotate "
        "apiKeys."
    )
    return [
        AlarmSpec(
            role="llm-budget-80-percent",
            namespace=metric_namespace,
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
            namespace=metric_namespace,
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
                f"{tail_command(log_group_name)}. {raise_it}"
            ),
        ),
        AlarmSpec(
            role="llm-budget-counter",
            namespace=metric_namespace,
            metric=BUDGET_COUNTER_FAILURES,
            dimensions={},
            statistic="Sum",
            threshold=1,
            periods=1,
            datapoints=1,
            description=(
                "The daily token budget's counter (the llm-tokens#<day> item of the cache "
                "table) failed: uncached analyses answer 503 llm_budget_unavailable, or, with "
                "llmBudgetFailOpenCallsPerContainer, go ahead unreserved until each container's "
                "allowance is spent. Look first at the 'llm budget counter failed' lines "
                f"(reason, error_code): {tail_command(log_group_name)}. A missing table or "
                "AccessDenied needs a deploy (`pulumi up`); throttling passes; "
                "malformed_counter is an item edited by hand: set its tokens to a whole "
                "number (docs/operating.md: the LLM spend cap)."
            ),
        ),
    ]


def dashboard_widgets(metric_namespace: str, budget: int = 0) -> list[MetricWidget]:
    """Cache hits and misses, LLM failures by code, and tokens per day against the budget."""

    def metric(name: str, label: str, **options: object) -> list[object]:
        return [metric_namespace, name, {"stat": "Sum", "label": label, **options}]

    failures_by_code = (
        f"SEARCH('{{{metric_namespace},{CODE_DIMENSION}}} MetricName=\"{ANALYSIS_FAILURES}\"', "
        f"'Sum', {PERIOD_SECONDS})"
    )
    # Tokens per UTC day and today's running total, against the budget and its 80 % mark.
    budget_lines = {
        "horizontal": [
            {"label": "llmDailyTokenBudget", "value": budget},
            {"label": f"{BUDGET_WARNING_SHARE:.0%} alarm", "value": budget_warning_tokens(budget)},
        ]
    }
    return [
        MetricWidget(
            "Analysis cache",
            [metric(CACHE_HITS, "cache hits"), metric(CACHE_MISSES, "cache misses")],
        ),
        MetricWidget(
            "LLM failures by code",
            [{"expression": failures_by_code, "id": "failures", "label": ""}],
        ),
        MetricWidget(
            "LLM tokens per day",
            [
                metric(LLM_TOKENS, "tokens per day", period=DAY_SECONDS),
                metric(LLM_DAY_TOKENS, "today so far", stat="Maximum"),
            ],
            annotations=budget_lines if budget else None,
        ),
    ]
