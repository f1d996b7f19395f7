"""The daily LLM token budget: the worst case a call reserves, reservations settled to usage, the
429 a call that does not fit answers, the 503 a failed counter answers (and the allowance a team
may opt into), and a seeded simulation of any order of calls across containers against the cap.

The counter in DynamoDB (moto), garbled items and the route's round trips are in
test_token_counter.py; crowds of container processes in test_budget_crowd.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iris.budget import (
    DAY_S,
    UNAVAILABLE_RETRY_AFTER_S,
    VIEW_MAX_AGE_S,
    BudgetExhausted,
    BudgetUnavailable,
    CounterError,
    DailyTokenBudget,
    Spending,
    Unlimited,
    build_budget,
    meter_call,
    seconds_to_midnight,
    utc_day,
    worst_case_tokens,
)
from iris.chat import ChatCompletionsClient
from iris.settings import Settings, SettingsError
from iris.token_counter import MemoryCounter

# 2027-01-15 12:00:00 UTC: the simulations stay inside one UTC day.
NOON = 1_800_014_400.0
DAY = utc_day(NOON)


class FakeClock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingCounter(MemoryCounter):
    """The in-process counter, noting each call; `fail` makes the named calls fail."""

    def __init__(self, fail: dict[str, CounterError] | None = None) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail = fail or {}

    def reserve(self, day: str, tokens: int, budget: int, expires_at: int) -> int:
        self.calls.append("reserve")
        if "reserve" in self.fail:
            raise self.fail["reserve"]
        return super().reserve(day, tokens, budget, expires_at)

    def settle(self, day: str, tokens: int, expires_at: int) -> int | None:
        self.calls.append("settle")
        if "settle" in self.fail:
            raise self.fail["settle"]
        return super().settle(day, tokens, expires_at)


def failure(timed_out: bool = False) -> CounterError:
    return CounterError("call_failed", timed_out=timed_out, error_code="ResourceNotFoundException")


def budget_of(tokens: int, counter: Any = None, clock: Any = None, **options: Any):
    return DailyTokenBudget(tokens, counter or MemoryCounter(), clock or FakeClock(), **options)


def reserve(budget: DailyTokenBudget, tokens: int, spend: Spending | None = None) -> Any:
    return budget.reserve(spend or Spending(), tokens)


def lines(logged: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [line for line in logged if line["message"] == message]


# The day, Retry-After and the worst case


@pytest.mark.parametrize(
    ("now", "day", "seconds"),
    [
        (NOON, "2027-01-15", 12 * 3600),
        (NOON + 12 * 3600 - 1, "2027-01-15", 1),
        (NOON + 12 * 3600, "2027-01-16", DAY_S),
        (NOON + 12 * 3600 + 0.5, "2027-01-16", DAY_S),
    ],
    ids=["noon", "last-second", "midnight", "just-after"],
)
def test_the_day_is_utc_and_retry_after_counts_to_its_end(now, day, seconds) -> None:
    assert (utc_day(now), seconds_to_midnight(now)) == (day, seconds)


def test_the_worst_case_is_every_byte_of_the_prompt_and_the_whole_completion_limit() -> None:
    messages = [
        {"role": "system", "content": "abcd" * 10},
        # Three bytes a common CJK character, four a rare one: 6 + 8 bytes.
        {"role": "user", "content": "東京\U00020000\U0002a6d6"},
    ]
    # Roles (6 + 4 bytes), contents (40 + 14), 4 a message, 3 to prime the reply, 300 to answer.
    assert worst_case_tokens(messages, 300) == 10 + 54 + 2 * 4 + 3 + 300
    # A lone surrogate (a string cut mid-emoji) is counted, not a crash.
    assert worst_case_tokens([{"role": "user", "content": "\ud83d"}], 1) == 4 + 3 + 4 + 3 + 1


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}, 42),
        ({"total_tokens": 0}, 0),
        ({"total_tokens": "42"}, None),
        ({"total_tokens": -1}, None),
        ({"total_tokens": True}, None),
        ({"total_tokens": 4.2}, None),
        ("lots", None),
        (None, None),
    ],
    ids=["count", "zero", "string", "negative", "bool", "float", "not-an-object", "absent"],
)
def test_the_chat_client_takes_total_tokens_only_when_it_is_a_count(
    loopback_server: Any, usage: Any, expected: int | None
) -> None:
    completion: dict[str, Any] = {
        "model": "m",
        "choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}],
    }
    if usage is not None:
        completion["usage"] = usage
    loopback_server.clear()
    loopback_server.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        completion
    )
    client = ChatCompletionsClient(loopback_server.url_for("/v1"))
    answer = client.complete("key", model="m", max_completion_tokens=5, messages=[], timeout_s=2)
    assert (answer.content, answer.total_tokens) == ("fine", expected)


def test_outside_a_metered_request_a_call_reserves_nothing() -> None:
    meter = meter_call([{"role": "user", "content": "x"}], 10)
    meter.settle(None)
    meter.release()
    with Unlimited().spending() as spend:
        meter_call([{"role": "user", "content": "x"}], 10).settle(5)
    assert spend.tokens == 0


# Settings


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        ({}, Unlimited),
        ({"IRIS_LLM_DAILY_TOKEN_BUDGET": "0", "OPENAI_API_KEY": "k"}, Unlimited),
        ({"IRIS_LLM_DAILY_TOKEN_BUDGET": "5000"}, Unlimited),
        ({"IRIS_LLM_DAILY_TOKEN_BUDGET": "5000", "OPENAI_API_KEY": "k"}, DailyTokenBudget),
    ],
    ids=["unset", "zero", "offline", "openai"],
)
def test_only_an_openai_analyzer_with_a_budget_is_capped(environ, kind) -> None:
    assert isinstance(build_budget(Settings.from_env(environ)), kind)


def test_no_call_goes_unreserved_unless_the_allowance_is_set() -> None:
    environ = {"IRIS_LLM_DAILY_TOKEN_BUDGET": "5000", "OPENAI_API_KEY": "k"}
    assert build_budget(Settings.from_env(environ)).fail_open_calls_left == 0
    environ["IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER"] = "3"
    assert build_budget(Settings.from_env(environ)).fail_open_calls_left == 3


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "IRIS_LLM_DAILY_TOKEN_BUDGET",
            "-1",
            "IRIS_LLM_DAILY_TOKEN_BUDGET=-1 is out of range; allowed 0-1000000000 (0 = no cap)",
        ),
        ("IRIS_LLM_DAILY_TOKEN_BUDGET", "1000000001", "=1000000001 is out of range"),
        ("IRIS_LLM_DAILY_TOKEN_BUDGET", "1e6", "IRIS_LLM_DAILY_TOKEN_BUDGET='1e6' is not a whole"),
        (
            "IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER",
            "101",
            "IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER=101 is out of range; allowed 0-100 "
            "(0 = no call without a reservation)",
        ),
        ("IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER", "-1", "=-1 is out of range"),
        ("IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER", "all", "='all' is not a whole number"),
    ],
)
def test_a_bad_budget_setting_stops_the_function_naming_it(name, value, expected) -> None:
    with pytest.raises(SettingsError, match=re.escape(expected)):
        Settings.from_env({name: value})


# Reserve before, settle after


def test_a_call_is_reserved_before_and_settled_to_its_usage_after(logs: Any) -> None:
    counter = RecordingCounter()
    budget = budget_of(5_000, counter)
    with budget.spending() as spend:
        meter = reserve(budget, 1_000, spend)
        assert counter.days[DAY] == 1_000
        meter.settle(42)
    assert (counter.days[DAY], counter.calls, spend.tokens) == (42, ["reserve", "settle"], 42)
    logged = logs()
    (counted,) = lines(logged, "llm tokens counted")
    assert (counted["tokens"], counted["day_tokens"], counted["estimated"]) == (42, 42, False)


def test_an_answer_without_usage_keeps_its_reservation(logs: Any) -> None:
    counter = RecordingCounter()
    budget = budget_of(5_000, counter)
    with budget.spending() as spend:
        reserve(budget, 1_000, spend).settle(None)
    assert (counter.days[DAY], counter.calls, spend.tokens) == (1_000, ["reserve"], 1_000)
    logged = logs()
    (counted,) = lines(logged, "llm tokens counted")
    assert (counted["tokens"], counted["day_tokens"], counted["estimated"]) == (1_000, 1_000, True)


def test_a_call_the_upstream_refused_gives_its_reservation_back(logs: Any) -> None:
    counter = RecordingCounter()
    reserve(budget_of(5_000, counter), 1_000).release()
    assert (counter.days[DAY], counter.calls) == (0, ["reserve", "settle"])
    logged = logs()
    assert lines(logged, "llm tokens counted") == []


def test_a_call_that_does_not_fit_is_refused_until_midnight(logs: Any) -> None:
    clock = FakeClock()
    budget = budget_of(1_000, clock=clock)
    reserve(budget, 600).settle(None)
    with pytest.raises(BudgetExhausted) as refused:
        reserve(budget, 401)
    assert (refused.value.day_tokens, refused.value.budget) == (600, 1_000)
    assert refused.value.retry_after_s == 12 * 3600
    reserve(budget, 400).settle(None)
    clock.now += refused.value.retry_after_s
    reserve(budget, 1_000)


def test_a_call_larger_than_the_whole_budget_is_refused_without_asking() -> None:
    counter = RecordingCounter()
    with pytest.raises(BudgetExhausted) as refused:
        reserve(budget_of(1_000, counter), 1_001)
    assert (refused.value.day_tokens, counter.calls) == (None, [])


def refused_at_900(counter: RecordingCounter, clock: FakeClock) -> DailyTokenBudget:
    """A container refused a 200-token call on a day at 900 of 1,000; then an operator reset
    the day's count to 0."""
    budget = budget_of(1_000, counter, clock)
    reserve(budget, 900).settle(None)
    with pytest.raises(BudgetExhausted):
        reserve(budget, 200)
    counter.days[DAY] = 0
    counter.calls.clear()
    return budget


def test_a_refused_container_asks_again_after_the_view_age() -> None:
    """An emergency reset of the counter reaches a refusing container within VIEW_MAX_AGE_S;
    until then it refuses what would not fit without a DynamoDB call."""
    counter, clock = RecordingCounter(), FakeClock()
    budget = refused_at_900(counter, clock)
    clock.now += VIEW_MAX_AGE_S - 0.1
    with pytest.raises(BudgetExhausted):
        reserve(budget, 200)
    assert counter.calls == []
    clock.now += 0.1
    reserve(budget, 200)
    assert (counter.calls, counter.days[DAY]) == (["reserve"], 200)


def test_a_refused_container_still_asks_for_a_call_that_would_fit() -> None:
    counter, clock = RecordingCounter(), FakeClock()
    budget = refused_at_900(counter, clock)
    reserve(budget, 100)
    assert (counter.calls, counter.days[DAY]) == (["reserve"], 100)


def test_a_settle_that_fails_keeps_the_reservation(logs: Any) -> None:
    counter = RecordingCounter({"settle": failure()})
    with budget_of(5_000, counter).spending() as spend:
        meter_call([{"role": "user", "content": "x" * 100}], 400).settle(42)
    reserved = counter.days[DAY]
    assert reserved == worst_case_tokens([{"role": "user", "content": "x" * 100}], 400)
    assert spend.tokens == 42
    logged = logs()
    (failed,) = lines(logged, "llm budget counter failed")
    assert (failed["step"], failed["reason"], failed["tokens"]) == ("settle", "call_failed", 42)
    (counted,) = lines(logged, "llm tokens counted")
    assert (counted["tokens"], counted["day_tokens"]) == (reserved, reserved)


def test_a_settle_never_takes_a_lowered_counter_below_zero() -> None:
    counter = MemoryCounter()
    meter = reserve(budget_of(5_000, counter), 1_000)
    counter.days[DAY] = 300  # An operator lowered today's count meanwhile.
    meter.settle(42)
    assert counter.days[DAY] == 300
    meter = reserve(budget_of(5_000, counter), 1_000)
    meter.settle(42)
    assert counter.days[DAY] == 342


# A counter that cannot reserve: no call, unless a team opted in


@pytest.mark.parametrize("timed_out", [False, True], ids=["failed", "timed-out"])
def test_a_failing_counter_refuses_the_call_with_its_own_code(timed_out: bool, logs: Any) -> None:
    counter = RecordingCounter({"reserve": failure(timed_out)})
    spend = Spending()
    with pytest.raises(BudgetUnavailable) as refused:
        reserve(budget_of(5_000, counter), 100, spend)
    assert (refused.value.code, refused.value.status) == ("llm_budget_unavailable", 503)
    assert refused.value.retry_after_s == UNAVAILABLE_RETRY_AFTER_S
    # After a timeout the request makes no other DynamoDB call: one timeout at most.
    assert spend.may_wait is not timed_out
    logged = logs()
    (failed,) = lines(logged, "llm budget counter failed")
    assert failed["step"] == "reserve"
    assert (failed["reason"], failed["error_code"]) == ("call_failed", "ResourceNotFoundException")
    assert (failed["admitted"], failed["fail_open_calls_left"]) == (False, 0)


def test_after_a_timeout_in_the_request_the_counter_is_not_called(logs: Any) -> None:
    counter = RecordingCounter()
    budget = budget_of(5_000, counter)
    with budget.spending(may_wait=False), pytest.raises(BudgetUnavailable):
        meter_call([{"role": "user", "content": "x"}], 10)
    assert counter.calls == []
    logged = logs()
    assert [line["reason"] for line in lines(logged, "llm budget counter failed")] == [
        "earlier_timeout"
    ]


def test_an_opted_in_container_makes_its_allowance_of_unreserved_calls_and_no_more(
    logs: Any,
) -> None:
    counter = RecordingCounter({"reserve": failure(), "settle": failure()})
    budget = budget_of(5_000, counter, fail_open_calls=2)
    for _ in range(2):
        reserve(budget, 100).settle(60)
    with pytest.raises(BudgetUnavailable):
        reserve(budget, 100)
    assert counter.calls == ["reserve", "settle"] * 2 + ["reserve"]
    logged = logs()
    failed = [(line["step"], line.get("admitted")) for line in logged if "step" in line]
    assert failed == [("reserve", True), ("count", None)] * 2 + [("reserve", False)]


def test_an_unreserved_call_is_counted_once_the_counter_answers(logs: Any) -> None:
    counter = RecordingCounter({"reserve": failure()})
    budget = budget_of(5_000, counter, fail_open_calls=1)
    reserve(budget, 100).settle(60)
    assert counter.days[DAY] == 60
    logged = logs()
    (counted,) = lines(logged, "llm tokens counted")
    assert (counted["tokens"], counted["day_tokens"]) == (60, 60)


# Any order of calls across containers


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(
    containers=st.integers(1, 6),
    budget_tokens=st.integers(1, 20_000),
    steps=st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from(("start", "finish", "wait")),
            st.integers(1, 5_000),
            st.sampled_from(("usage", "no-usage", "refused-upstream")),
            st.floats(0, 1),
        ),
        max_size=200,
    ),
)
def test_any_order_of_calls_never_spends_more_than_the_budget(
    containers: int, budget_tokens: int, steps: list[tuple[int, str, int, str, float]]
) -> None:
    """Each container makes one call at a time and its upstream bills up to the reserved worst
    case (nothing when it refuses the call, a 4xx), whether or not it reports usage. After every
    step, what was billed <= what the counter holds <= the budget."""
    clock = FakeClock()
    counter = MemoryCounter()
    fleet = [budget_of(budget_tokens, counter, clock) for _ in range(containers)]
    in_flight: dict[int, tuple[Any, int, str]] = {}
    billed = 0

    for index, action, worst_case, outcome, share in steps:
        container = index % containers
        if action == "wait":
            clock.now += share * 2 * VIEW_MAX_AGE_S
        elif action == "start" and container not in in_flight:
            try:
                meter = reserve(fleet[container], worst_case)
            except BudgetExhausted:
                continue
            cost = 0 if outcome == "refused-upstream" else int(share * worst_case)
            in_flight[container] = (meter, cost, outcome)
            billed += cost
        elif action == "finish" and container in in_flight:
            meter, cost, outcome = in_flight.pop(container)
            if outcome == "refused-upstream":
                meter.release()
            else:
                meter.settle(cost if outcome == "usage" else None)
        assert billed <= counter.days.get(DAY, 0) <= budget_tokens
