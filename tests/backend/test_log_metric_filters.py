"""The stack's log metric filters select the real app's log lines, and only those.

The real app answers through the real handler (offline, and against the loopback OpenAI API),
and each JSON line it logs is checked against every filter pattern of
iris_infra.apps.iris.observability, the way CloudWatch Logs evaluates a JSON filter pattern on a
log event. Renaming a field the filters read (`message`, `cached`, `code`, `tokens`,
`day_tokens`) or rewording a message fails here.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import pytest

from iris.budget import worst_case_tokens
from iris.llm import SYSTEM_PROMPT
from iris_infra.apps.iris.observability import CODE_DIMENSION, LOG_METRICS
from tests.backend.openai_stub import Reply, total_tokens
from tests.events import http_api_v2_event

# The subset of CloudWatch's JSON filter syntax the stack uses: `{ cond && cond ... }`, each
# condition `$.field = "text"`, `$.field != "text"`, `$.field IS TRUE|FALSE|NULL` or a numeric
# comparison `$.field >= 0` (=, !=, <, <=, >, >=), which only a JSON number satisfies.
_CONDITION = re.compile(
    r"\$\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*"
    r'(?:(?P<op>!?=)\s*"(?P<text>[^"*]*)"'
    r"|(?P<compare>[<>]=?|!?=)\s*(?P<number>-?[0-9]+(?:\.[0-9]+)?)"
    r"|IS\s+(?P<literal>TRUE|FALSE|NULL))"
)
_LITERALS = {"TRUE": True, "FALSE": False, "NULL": None}
_COMPARISONS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def matches(pattern: str, event: dict[str, Any]) -> bool:
    """Whether CloudWatch Logs would select `event` (a parsed JSON log line) with `pattern`."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    return all(_holds(condition.strip(), event) for condition in body[1:-1].split("&&"))


def _holds(condition: str, event: dict[str, Any]) -> bool:
    parsed = _CONDITION.fullmatch(condition)
    if parsed is None:
        raise ValueError(f"a condition this check does not understand: {condition!r}")
    if parsed["field"] not in event:
        return False
    value = event[parsed["field"]]
    if parsed["literal"] is not None:
        return value is _LITERALS[parsed["literal"]]
    if parsed["number"] is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return _COMPARISONS[parsed["compare"]](value, float(parsed["number"]))
    if not isinstance(value, str):
        return False
    return (value == parsed["text"]) is (parsed["op"] == "=")


def selected_by(line: dict[str, Any]) -> set[str]:
    return {metric.role for metric in LOG_METRICS if matches(metric.pattern, line)}


def metric_values(line: dict[str, Any]) -> dict[str, float]:
    """Per selected metric, the value CloudWatch would publish for the line."""
    return {
        metric.role: 1.0 if metric.value == "1" else float(line[metric.value.removeprefix("$.")])
        for metric in LOG_METRICS
        if matches(metric.pattern, line)
    }


def dimension_values(line: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per selected metric, the dimension values CloudWatch would read from the line."""
    return {
        metric.role: {
            name: line.get(selector.removeprefix("$."))
            for name, selector in metric.dimensions.items()
        }
        for metric in LOG_METRICS
        if metric.dimensions and matches(metric.pattern, line)
    }


# The check itself


@pytest.mark.parametrize(
    ("pattern", "event", "selected"),
    [
        ('{ $.message = "a b" }', {"message": "a b"}, True),
        ('{ $.message = "a b" }', {"message": "a b c"}, False),
        ('{ $.message = "a b" }', {"msg": "a b"}, False),
        ('{ $.message != "a" }', {"message": "b"}, True),
        ('{ $.message = "a" && $.cached IS TRUE }', {"message": "a", "cached": True}, True),
        ('{ $.message = "a" && $.cached IS TRUE }', {"message": "a", "cached": False}, False),
        ('{ $.message = "a" && $.cached IS TRUE }', {"message": "a", "cached": "true"}, False),
        ("{ $.cached IS FALSE }", {"cached": False}, True),
        ("{ $.cached IS FALSE }", {}, False),
        ("{ $.tokens > 0 }", {"tokens": 5}, True),
        ("{ $.tokens > 0 }", {"tokens": 0}, False),
        ("{ $.tokens >= 0 }", {"tokens": 0}, True),
        ("{ $.tokens >= 0 }", {"tokens": "5"}, False),
        ("{ $.tokens >= 0 }", {"tokens": True}, False),
        ("{ $.tokens >= 0 }", {}, False),
    ],
)
def test_the_pattern_check_follows_cloudwatchs_rules(pattern, event, selected):
    assert matches(pattern, event) is selected


@pytest.mark.parametrize("pattern", ["ERROR", "{ $.latency > five }", '{ $.a = "x" || $.b = "y" }'])
def test_the_pattern_check_refuses_syntax_it_does_not_understand(pattern):
    with pytest.raises(ValueError):
        matches(pattern, {"a": "x", "latency": 9})


# The real app's lines


def test_answered_analyses_count_as_cache_misses_then_hits(start_container: Any, logs: Any) -> None:
    container = start_container()
    first = container.analyze({"text": "Count me."})
    second = container.analyze({"text": "Count me."})
    assert (first.status, second.status) == (200, 200)

    counted = [(line.get("requestId"), selected_by(line)) for line in logs() if selected_by(line)]
    assert counted == [
        (first.request_id, {"cache-misses"}),
        (second.request_id, {"cache-hits"}),
    ]


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ({"status": 401}, "llm_auth_failed"),
        ({"status": 429}, "llm_rate_limited"),
        ({"status": 500}, "llm_upstream_error"),
        ({"delay_s": 0.6}, "llm_timeout"),
    ],
    ids=["401", "429", "500", "timeout"],
)
def test_failed_analyses_count_as_failures_with_their_code(
    openai_container: Any, openai_api: Any, logs: Any, reply: dict[str, Any], code: str
) -> None:
    openai_api.always(**reply)
    answer = openai_container(OPENAI_TIMEOUT_S="0.3").analyze({"text": "hello"})
    assert answer.body["error"]["code"] == code

    lines = [line for line in logs() if selected_by(line)]
    assert [selected_by(line) for line in lines] == [
        {"analysis-failures", "analysis-failures-by-code"}
    ]
    (line,) = lines
    assert line["requestId"] == answer.request_id
    assert dimension_values(line) == {"analysis-failures-by-code": {CODE_DIMENSION: code}}


def test_an_unconfigured_key_counts_as_a_failure(
    start_container: Any, openai_api: Any, logs: Any
) -> None:
    container = start_container(IRIS_LLM_PROVIDER="openai", OPENAI_BASE_URL=openai_api.base_url)
    answer = container.analyze({"text": "hello"})
    assert answer.status == 503

    (line,) = [line for line in logs() if selected_by(line)]
    assert line["level"] == "ERROR"
    assert dimension_values(line) == {
        "analysis-failures-by-code": {CODE_DIMENSION: "llm_not_configured"}
    }


def test_requests_that_are_not_analyses_count_nowhere(start_container: Any, logs: Any) -> None:
    container = start_container()
    assert container.invoke(http_api_v2_event("GET", "/health")).status == 200
    assert container.analyze({"text": ""}).status == 400
    assert container.invoke(http_api_v2_event("GET", "/nowhere")).status == 404
    lines = logs()
    # Each request is logged, and none of those lines is an analysis served or failed.
    assert [line["status"] for line in lines if line["message"] == "request"] == [200, 400, 404]
    assert [line for line in lines if selected_by(line)] == []


def test_each_counted_call_publishes_its_tokens_and_the_days_running_total(
    openai_container: Any, openai_api: Any, logs: Any
) -> None:
    container = openai_container(IRIS_LLM_DAILY_TOKEN_BUDGET="100000")
    assert container.analyze({"text": "count these tokens"}).status == 200
    assert container.analyze({"text": "and these ones"}).status == 200

    counted = [line for line in logs() if selected_by(line) & {"llm-tokens", "llm-day-tokens"}]
    first, second = (total_tokens(Reply(), sent["json"]) for sent in openai_api.requests)
    assert [metric_values(line) for line in counted] == [
        {"llm-tokens": first, "llm-day-tokens": first},
        {"llm-tokens": second, "llm-day-tokens": first + second},
    ]


def test_a_refused_request_counts_as_a_refusal_not_as_a_failure(
    openai_container: Any, logs: Any
) -> None:
    # Room for the first call's worst case, and once it is settled, not for a second one.
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "x"}]
    container = openai_container(IRIS_LLM_DAILY_TOKEN_BUDGET=str(worst_case_tokens(messages, 300)))
    assert container.analyze({"text": "x"}).status == 200
    refused = container.analyze({"text": "one too many"})
    assert refused.status == 429

    lines = [line for line in logs() if line.get("requestId") == refused.request_id]
    assert [selected_by(line) for line in lines if selected_by(line)] == [{"budget-refusals"}]


@pytest.mark.parametrize("allowance", ["0", "1"], ids=["default", "opted-in"])
def test_each_failure_of_the_budgets_counter_counts_once_and_only_as_that(
    openai_container: Any, cache_table: Any, logs: Any, allowance: str
) -> None:
    """By default the failed counter's 503 is neither an analysis failure nor a refusal for a
    spent budget; with an allowance, the unreserved call and its failed count are one each."""
    cache_table.client.delete_table(TableName=cache_table.name)
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name,
        IRIS_LLM_DAILY_TOKEN_BUDGET="100000",
        IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER=allowance,
    )
    answer = container.analyze({"text": "no table"})
    assert answer.status == (503 if allowance == "0" else 200)

    counted = [selected_by(line) for line in logs() if selected_by(line)]
    if allowance == "0":
        assert counted == [{"budget-counter-failures"}]
    else:
        assert counted == [{"budget-counter-failures"}] * 2 + [{"cache-misses"}]
