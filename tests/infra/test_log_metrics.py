"""LogMetrics: one metric filter per LogMetric given, on the function's log group, counting into
the stack's own namespace; and IRIS's metrics: the failure count exists with and without a code
dimension, and the token metrics take their values from fields their own patterns check."""

from __future__ import annotations

import re

from iris_infra.apps.iris.observability import (
    ANALYSIS_FAILURES,
    BUDGET_COUNTER_FAILURES,
    BUDGET_REFUSALS,
    CACHE_HITS,
    CACHE_MISSES,
    LLM_DAY_TOKENS,
    LLM_TOKENS,
    LOG_METRICS,
)
from iris_infra.components.log_metrics import LogMetrics, LogMetricsArgs

FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"


def build(resolve):
    def program():
        metrics = LogMetrics(
            "metrics",
            LogMetricsArgs(
                log_group_name="/aws/lambda/iris-dev", namespace="IRIS/dev", metrics=LOG_METRICS
            ),
        )
        return metrics.namespace

    return resolve(program)


def test_each_log_metric_is_a_filter_on_the_functions_log_group(mocks, resolve):
    assert build(resolve) == "IRIS/dev"
    filters = {f.name.removeprefix("metrics-"): f.inputs for f in mocks.of_type(FILTER)}
    assert set(filters) == {metric.role for metric in LOG_METRICS}
    for metric in LOG_METRICS:
        found = filters[metric.role]
        assert found["logGroupName"] == "/aws/lambda/iris-dev"
        assert found["pattern"] == metric.pattern
        transformation = found["metricTransformation"]
        assert transformation["name"] == metric.name
        assert transformation["namespace"] == "IRIS/dev"
        assert transformation["value"] == metric.value
        assert transformation.get("dimensions", {}) == dict(metric.dimensions)
        # CloudWatch refuses a default value together with dimensions.
        assert "defaultValue" not in transformation


def test_failures_are_counted_in_total_and_by_code_and_cache_answers_both_ways():
    series = {(metric.name, tuple(metric.dimensions.items())) for metric in LOG_METRICS}
    assert series == {
        (ANALYSIS_FAILURES, ()),
        (ANALYSIS_FAILURES, (("code", "$.code"),)),
        (CACHE_HITS, ()),
        (CACHE_MISSES, ()),
        (LLM_TOKENS, ()),
        (LLM_DAY_TOKENS, ()),
        (BUDGET_REFUSALS, ()),
        (BUDGET_COUNTER_FAILURES, ()),
    }


def test_a_metric_valued_by_a_field_checks_that_field_is_a_number_in_its_pattern():
    """CloudWatch publishes a field's value only when the pattern selected it."""
    valued = {metric.name: metric for metric in LOG_METRICS if metric.value != "1"}
    assert {name: metric.value for name, metric in valued.items()} == {
        LLM_TOKENS: "$.tokens",
        LLM_DAY_TOKENS: "$.day_tokens",
    }
    for metric in valued.values():
        assert re.search(rf"\{metric.value} >=? 0", metric.pattern), metric.pattern
