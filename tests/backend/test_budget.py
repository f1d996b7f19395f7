"""The daily LLM token budget: its view of the day's total, its counter in the cache table, the
429 a spent budget answers, several containers (processes) spending one budget, and a seeded
simulation of any order of requests across containers against the documented overshoot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iris.analyze import AnalysisService
from iris.budget import (
    COUNTER_KEY_PREFIX,
    DAY_S,
    FRESH_READ_SHARE,
    REFUSED_MESSAGE,
    VIEW_MAX_AGE_S,
    BudgetExhausted,
    CounterError,
    DailyTokenBudget,
    MemoryCounter,
    Spending,
    Unlimited,
    build_budget,
    count_tokens,
    estimate_tokens,
    seconds_to_midnight,
    utc_day,
)
from iris.cache import MISS, Lookup
from iris.chat import ChatCompletionsClient
from iris.llm import SYSTEM_PROMPT, Analysis
from iris.settings import Settings, SettingsError
from tests.backend.container_process import ANSWER_PREFIX
from tests.backend.loopback import aws_client, create_deployed_resources, moto_server
from tests.backend.openai_stub import OPENAI_KEY, Reply, total_tokens

PROJECT_DIR = Path(__file__).resolve().parents[2]
# 2027-01-15 12:00:00 UTC: the simulations stay inside one UTC day.
NOON = 1_800_014_400.0
DAY = utc_day(NOON)


class FakeClock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingCounter(MemoryCounter):
    """The in-process counter, noting each read and add."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def total(self, day: str) -> int:
        self.calls.append("total")
        return super().total(day)

    def add(self, day: str, tokens: int, expires_at: int) -> int:
        self.calls.append("add")
        return super().add(day, tokens, expires_at)


class FailingCounter:
    """A counter whose every call fails the way `error` says."""

    def __init__(self, error: CounterError) -> None:
        self.error = error
        self.calls: list[str] = []

    def total(self, day: str) -> int:
        self.calls.append("total")
        raise self.error

    def add(self, day: str, tokens: int, expires_at: int) -> int:
        self.calls.append("add")
        raise self.error


def spend(budget: DailyTokenBudget, tokens: int) -> None:
    """One request that is admitted and whose model calls cost `tokens`."""
    spending = budget.admit()
    spending.tokens = tokens
    budget.count(spending)


# The day, Retry-After and the estimate


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


def test_the_estimate_covers_the_prompt_and_the_whole_completion_limit() -> None:
    messages = [{"role": "system", "content": "abcd" * 10}, {"role": "user", "content": "東京"}]
    # 40 bytes = 10 tokens, 6 bytes of UTF-8 = 2 tokens, 4 a message, and all 300 completion tokens.
    assert estimate_tokens(messages, 300) == 10 + 2 + 2 * 4 + 300
    # A lone surrogate (a string cut mid-emoji) is estimated, not a crash.
    assert estimate_tokens([{"content": "\ud83d"}], 1) > 1


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


def test_count_tokens_outside_a_metered_request_is_a_no_op() -> None:
    count_tokens(None, messages=[{"content": "x"}], max_completion_tokens=10)


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-1", "IRIS_LLM_DAILY_TOKEN_BUDGET=-1 is out of range; allowed 0-1000000000 (0 = no cap)"),
        ("1000000001", "IRIS_LLM_DAILY_TOKEN_BUDGET=1000000001 is out of range"),
        ("1e6", "IRIS_LLM_DAILY_TOKEN_BUDGET='1e6' is not a whole number"),
    ],
)
def test_a_bad_budget_stops_the_function_naming_it(value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(expected)):
        Settings.from_env({"IRIS_LLM_DAILY_TOKEN_BUDGET": value})


# The view of the day's total


def test_a_spent_budget_refuses_until_midnight_utc() -> None:
    clock = FakeClock()
    budget = DailyTokenBudget(1_000, MemoryCounter(), clock)
    spend(budget, 999)
    spend(budget, 1)

    with pytest.raises(BudgetExhausted) as refused:
        budget.admit()
    assert (refused.value.day_tokens, refused.value.budget) == (1_000, 1_000)
    assert refused.value.retry_after_s == 12 * 3600
    clock.now += refused.value.retry_after_s
    assert budget.admit() == Spending()


def test_below_the_fresh_read_share_a_young_view_is_trusted() -> None:
    counter = RecordingCounter()
    clock = FakeClock()
    budget = DailyTokenBudget(1_000, counter, clock)
    budget.admit()
    clock.now += VIEW_MAX_AGE_S - 0.1
    budget.admit()
    clock.now += 0.1
    budget.admit()
    assert counter.calls == ["total", "total"]


def test_past_the_fresh_read_share_every_request_reads_the_total() -> None:
    counter = RecordingCounter()
    budget = DailyTokenBudget(1_000, counter, FakeClock())
    spend(budget, int(FRESH_READ_SHARE * 1_000))
    counter.calls.clear()
    for _ in range(3):
        budget.admit()
    assert counter.calls == ["total"] * 3


def test_a_container_sees_other_containers_spending_through_its_own_counts() -> None:
    counter = RecordingCounter()
    clock = FakeClock()
    mine, other = DailyTokenBudget(1_000, counter, clock), DailyTokenBudget(1_000, counter, clock)
    spend(mine, 10)
    spend(other, 985)
    # My view (10) is young and low: my next call goes ahead, and its count shows the truth.
    spend(mine, 10)
    with pytest.raises(BudgetExhausted):
        mine.admit()


def test_a_refusing_container_takes_an_emergency_reset_within_the_view_age() -> None:
    counter = MemoryCounter()
    clock = FakeClock()
    budget = DailyTokenBudget(1_000, counter, clock)
    spend(budget, 1_000)
    counter.add(DAY, -1_000, 0)

    with pytest.raises(BudgetExhausted):
        budget.admit()
    clock.now += VIEW_MAX_AGE_S
    assert budget.admit() == Spending()


def test_each_count_carries_the_running_total_to_the_log(logs: Any) -> None:
    budget = DailyTokenBudget(1_000, MemoryCounter(), FakeClock())
    spend(budget, 300)
    spend(budget, 200)
    counted = [line for line in logs() if line["message"] == "llm tokens counted"]
    assert [(line["tokens"], line["day_tokens"], line["budget"]) for line in counted] == [
        (300, 300, 1_000),
        (200, 500, 1_000),
    ]


# A counter that fails costs precision, and at most one timeout a request


@pytest.mark.parametrize("timed_out", [False, True], ids=["failed", "timed-out"])
def test_a_failing_counter_admits_and_logs_budget_unchecked(timed_out: bool, logs: Any) -> None:
    counter = FailingCounter(CounterError("call_failed", timed_out=timed_out, error_code="X"))
    budget = DailyTokenBudget(1, counter, FakeClock())

    spending = budget.admit()
    spending.tokens = 50
    budget.count(spending)

    # After a timeout the request makes no other DynamoDB call: one timeout at most.
    assert counter.calls == (["total"] if timed_out else ["total", "add"])
    assert spending.may_wait is not timed_out
    unchecked = [line for line in logs() if line["message"] == "llm budget unchecked"]
    assert [(line["step"], line["reason"], line["budget_unchecked"]) for line in unchecked] == [
        ("check", "call_failed", True),
        ("count", "earlier_timeout" if timed_out else "call_failed", True),
    ]


def test_after_the_caches_timeout_the_counter_is_not_called(logs: Any) -> None:
    counter = RecordingCounter()
    budget = DailyTokenBudget(1, counter, FakeClock())
    with budget.spending(may_wait=False) as spending:
        count_tokens(40, messages=[], max_completion_tokens=0)
    assert (counter.calls, spending.tokens) == ([], 40)
    assert [line["step"] for line in logs() if line.get("budget_unchecked")] == ["check", "count"]


class ChargingAnalyzer:
    """An analyzer whose one model call costs 25 tokens."""

    def prepare(self) -> None:
        pass

    def analyze(self, text: str, deadline: float) -> Analysis:
        count_tokens(25, messages=[], max_completion_tokens=0)
        return Analysis(analysis=f"about {text}", model="m")


class RecordingCache:
    def __init__(self) -> None:
        self.puts: list[bool] = []

    def prepare(self) -> None:
        pass

    def get(self, key: str) -> Lookup:
        return MISS

    def put(self, key: str, analysis: Analysis, *, persist: bool = True) -> None:
        self.puts.append(persist)


class CountTimesOut(RecordingCounter):
    """The check answers; the count times out."""

    def add(self, day: str, tokens: int, expires_at: int) -> int:
        self.calls.append("add")
        raise CounterError("call_failed", timed_out=True)


def test_a_count_that_timed_out_keeps_the_cache_write_from_timing_out_too() -> None:
    counter = CountTimesOut()
    cache = RecordingCache()
    service = AnalysisService(
        Settings(llm_provider="openai"),
        cache=cache,
        budget=DailyTokenBudget(1_000, counter, FakeClock()),
        analyzer_factory=lambda _: ChargingAnalyzer(),
    )
    analysis, cached = service.analyze("text", time.monotonic() + 5)
    assert (analysis.analysis, cached) == ("about text", False)
    assert counter.calls == ["total", "add"]
    assert cache.puts == [False]


# Any order of requests across containers


@settings(derandomize=True, database=None, deadline=None, max_examples=400)
@given(
    containers=st.integers(1, 6),
    budget_tokens=st.integers(1, 5_000),
    max_call=st.integers(1, 900),
    steps=st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from(("start", "finish", "wait")),
            st.integers(1, 900),
            st.floats(0, 4 * VIEW_MAX_AGE_S),
        ),
        max_size=250,
    ),
)
def test_any_order_of_requests_stays_within_the_documented_overshoot(
    containers: int, budget_tokens: int, max_call: int, steps: list[tuple[int, str, int, float]]
) -> None:
    """Once the counter holds the budget, each other container makes at most one more call, so
    the day ends below budget + containers x the most one call costs (README, LLM spend cap)."""
    clock = FakeClock()
    counter = MemoryCounter()
    fleet = [DailyTokenBudget(budget_tokens, counter, clock) for _ in range(containers)]
    in_flight: dict[int, tuple[Spending, int]] = {}
    counted_after_spent = 0

    def finish(container: int) -> None:
        nonlocal counted_after_spent
        spending, cost = in_flight.pop(container)
        spending.tokens = cost
        if counter.total(DAY) >= budget_tokens:
            counted_after_spent += 1
        fleet[container].count(spending)

    for index, action, cost, wait_s in steps:
        container = index % containers
        if action == "wait":
            clock.now += wait_s
        elif action == "start" and container not in in_flight:
            try:
                in_flight[container] = (fleet[container].admit(), min(cost, max_call))
            except BudgetExhausted:
                pass
        elif action == "finish" and container in in_flight:
            finish(container)
    for container in list(in_flight):
        finish(container)

    assert counted_after_spent <= containers - 1
    assert counter.total(DAY) < budget_tokens + containers * max_call


# The route, with the counter in the (moto) cache table


def counter_items(cache_table: Any) -> list[dict[str, Any]]:
    return [item for item in cache_table.items() if item["pk"]["S"].startswith(COUNTER_KEY_PREFIX)]


def stub_tokens(openai_api: Any) -> int:
    return sum(total_tokens(Reply(), sent["json"]) for sent in openai_api.requests)


def test_a_spent_budget_answers_429_with_retry_after_and_cached_texts_still_200(
    openai_container: Any, openai_api: Any, cache_table: Any, logs: Any
) -> None:
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="1")
    first = container.analyze({"text": "spend the day"})
    before = seconds_to_midnight(time.time())
    refused = container.analyze({"text": "one more"})
    after = seconds_to_midnight(time.time())
    again = container.analyze({"text": "spend the day"})

    assert (first.status, first.body["cached"]) == (200, False)
    assert refused.status == 429
    assert refused.body == {"error": {"code": "llm_budget_exhausted", "message": REFUSED_MESSAGE}}
    assert min(before, after) <= int(refused.headers["retry-after"]) <= max(before, after)
    assert (again.status, again.body["cached"]) == (200, True)
    assert len(openai_api.requests) == 1
    (refusal,) = [line for line in logs() if line["message"] == "analysis refused"]
    assert refusal["requestId"] == refused.request_id
    assert (refusal["code"], refusal["day_tokens"], refusal["budget"]) == (
        "llm_budget_exhausted",
        stub_tokens(openai_api),
        1,
    )


def test_the_counter_is_one_item_a_day_that_expires_two_days_after_it(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="100000"
    )
    for text in ("count me", "and me", "count me"):
        assert container.analyze({"text": text}).status == 200
    now = time.time()

    (item,) = counter_items(cache_table)
    assert item["pk"]["S"] == f"llm-tokens#{utc_day(now)}"
    assert int(item["tokens"]["N"]) == stub_tokens(openai_api) > 0
    assert len(openai_api.requests) == 2
    next_midnight = (int(now) // DAY_S + 1) * DAY_S
    assert int(item["expires_at"]["N"]) == next_midnight + 2 * DAY_S
    ttl = cache_table.client.describe_time_to_live(TableName=cache_table.name)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    # Cache keys are 64 hex digits: a counter key can never be one.
    cache_keys = [i["pk"]["S"] for i in cache_table.items() if i["pk"] != item["pk"]]
    assert cache_keys and all(re.fullmatch(r"[0-9a-f]{64}", key) for key in cache_keys)
    assert not re.fullmatch(r"[0-9a-f]{64}", item["pk"]["S"])


def test_without_a_budget_nothing_is_counted(
    openai_container: Any, cache_table: Any, logs: Any
) -> None:
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name)
    assert container.analyze({"text": "free"}).status == 200
    assert counter_items(cache_table) == []
    assert not [line for line in logs() if "budget" in line["message"]]


def test_an_answer_without_usage_is_counted_as_its_estimate(
    openai_container: Any, openai_api: Any, cache_table: Any, logs: Any
) -> None:
    openai_api.always(usage=False)
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="9999"
    )
    assert container.analyze({"text": "no usage here"}).status == 200

    (item,) = counter_items(cache_table)
    (sent,) = openai_api.requests
    expected = estimate_tokens(sent["json"]["messages"], sent["json"]["max_completion_tokens"])
    assert int(item["tokens"]["N"]) == expected > 300
    (line,) = [line for line in logs() if line["message"] == "llm tokens counted"]
    assert (line["tokens"], line["estimated"]) == (expected, True)


def test_an_answer_judged_unusable_is_still_counted_and_an_error_is_not(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="9999"
    )
    openai_api.reply(500)
    assert container.analyze({"text": "upstream down"}).status == 502
    assert counter_items(cache_table) == []

    openai_api.reply(content="")
    assert container.analyze({"text": "empty answer"}).status == 502
    (item,) = counter_items(cache_table)
    assert int(item["tokens"]["N"]) == total_tokens(
        Reply(content=""), openai_api.requests[-1]["json"]
    )


# Several containers, each its own process, spending one budget in one table


def test_containers_in_separate_processes_spend_one_budget(openai_api: Any) -> None:
    processes, texts_each = 3, 6
    # Every text has four words, so every call costs the stub the same number of tokens.
    per_call = total_tokens(
        Reply(),
        {"messages": [{"content": SYSTEM_PROMPT}, {"content": "container 0 text 0"}]},
    )
    budget_tokens = 5 * per_call
    with moto_server() as moto_url:
        table = f"iris-budget-{uuid.uuid4().hex[:8]}"
        create_deployed_resources(moto_url, table=table, parameter="/iris/budget/key", key="-")
        environ = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(PROJECT_DIR / "backend" / "src"), str(PROJECT_DIR)]),
            "IRIS_LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": openai_api.base_url,
            "OPENAI_MODEL": "gpt-4o-mini",
            "IRIS_CACHE_TABLE": table,
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
            "IRIS_LLM_DAILY_TOKEN_BUDGET": str(budget_tokens),
        }
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.backend.container_process",
                    *(f"container {p} text {t}" for t in range(texts_each)),
                ],
                cwd=PROJECT_DIR,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for p in range(processes)
        ]
        outputs = [child.communicate(timeout=120) for child in children]
        items = aws_client("dynamodb", moto_url).scan(TableName=table)["Items"]

    assert [child.returncode for child in children] == [0] * processes, outputs
    answers = [
        json.loads(line.removeprefix(ANSWER_PREFIX))
        for stdout, _ in outputs
        for line in stdout.splitlines()
        if line.startswith(ANSWER_PREFIX)
    ]
    assert len(answers) == processes * texts_each
    served = [a for a in answers if a["status"] == 200]
    refused = [a for a in answers if a["status"] == 429]
    assert len(served) + len(refused) == len(answers)
    assert all(a["body"]["error"]["code"] == "llm_budget_exhausted" for a in refused)
    assert all(int(a["headers"]["retry-after"]) >= 1 for a in refused)
    assert [total_tokens(Reply(), sent["json"]) for sent in openai_api.requests] == [
        per_call
    ] * len(served)
    (counter,) = [item for item in items if item["pk"]["S"].startswith(COUNTER_KEY_PREFIX)]
    spent = int(counter["tokens"]["N"])
    assert spent == per_call * len(served)
    # The budget was reached, and overshot by less than one call per container.
    assert budget_tokens <= spent < budget_tokens + processes * per_call
    assert refused
