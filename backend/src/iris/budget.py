"""The daily LLM token budget: one counter per UTC day, shared by every container.

Each answered model call adds what it cost (`usage.total_tokens`, or an estimate when the
answer does not say) to the day's counter item in the cache table, atomically (UpdateItem ADD),
and gets the running total back. Before a call, a request consults its container's view of that
total, read again when it is VIEW_MAX_AGE_S old, before every call once it is past
FRESH_READ_SHARE of the budget, and refreshed for free by each of the container's own counts.
Once the total reaches the budget, uncached analyses are refused until the next UTC midnight.

Why the overshoot is bounded: a container serves one request at a time, and every count it
makes brings its view up to date. So once the counter holds the budget, each container makes at
most one more model call (the one already in flight, or one started on a view read before the
counter passed FRESH_READ_SHARE): the day ends below budget + containers x the most one call
can cost.

A counter that fails costs only precision: the call is made and logged as `budget_unchecked`.
After a DynamoDB call of the request timed out (the cache's read included), the request makes no
other: one timeout per request at most. Flask-free; boto3 only through `lambda_kit.aws`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from iris.settings import Settings
from lambda_kit import aws

__all__ = [
    "COUNTER_KEY_PREFIX",
    "FRESH_READ_SHARE",
    "VIEW_MAX_AGE_S",
    "Budget",
    "BudgetExhausted",
    "CounterError",
    "DailyTokenBudget",
    "DynamoDBCounter",
    "MemoryCounter",
    "Spending",
    "TokenCounter",
    "Unlimited",
    "build_budget",
    "count_tokens",
    "counter_key",
    "estimate_tokens",
    "seconds_to_midnight",
    "utc_day",
]

log = logging.getLogger("iris")

Clock = Callable[[], float]
DAY_S = 86_400
# Counter items are keyed "llm-tokens#2026-12-01": never a cache key (64 hex digits).
COUNTER_KEY_PREFIX = "llm-tokens#"
# A day's counter stays this long after its day ends (for a look with get-item), then the
# table's TTL deletes it.
COUNTER_KEPT_S = 2 * DAY_S
# How old a container's view of the day's total may be before a request reads it again; also how
# long an emergency change of the counter item takes to reach a container that was refusing.
VIEW_MAX_AGE_S = 10.0
# Past this share of the budget, every request reads the total before calling the model.
FRESH_READ_SHARE = 0.8
# A call whose answer has no usage: its completion limit plus the prompt at about four bytes of
# UTF-8 a token (an overestimate for English; non-Latin scripts take more bytes a character).
BYTES_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4

REFUSED_MESSAGE = (
    "This service has used its language-model budget for today (UTC); cached texts are still "
    "answered. Try again after midnight UTC."
)


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def seconds_to_midnight(now: float) -> int:
    """Whole seconds until the next UTC midnight, at least 1 (what Retry-After says)."""
    return DAY_S - int(now) % DAY_S


def counter_key(day: str) -> str:
    return f"{COUNTER_KEY_PREFIX}{day}"


def estimate_tokens(messages: Sequence[Mapping[str, str]], max_completion_tokens: int) -> int:
    """What a call may have cost when its answer does not say: never less than it did."""
    prompt = sum(
        math.ceil(len(message["content"].encode("utf-8", "replace")) / BYTES_PER_TOKEN)
        + MESSAGE_OVERHEAD_TOKENS
        for message in messages
    )
    return prompt + max_completion_tokens


class CounterError(Exception):
    """A counter call that failed; `detail` is safe to log."""

    def __init__(self, reason: str, *, timed_out: bool = False, **detail: Any) -> None:
        super().__init__(f"token counter failed: {reason}")
        self.reason = reason
        self.timed_out = timed_out
        self.detail = detail


class TokenCounter(Protocol):
    def total(self, day: str) -> int:
        """The day's tokens so far (0 before its first count), or CounterError."""
        ...

    def add(self, day: str, tokens: int, expires_at: int) -> int:
        """Add atomically and return the new total, or CounterError."""
        ...


class MemoryCounter:
    """One process's counter: for local runs without a table (and the simulations in tests)."""

    def __init__(self) -> None:
        self._days: dict[str, int] = {}
        self._lock = threading.Lock()

    def total(self, day: str) -> int:
        with self._lock:
            return self._days.get(day, 0)

    def add(self, day: str, tokens: int, expires_at: int) -> int:
        with self._lock:
            self._days[day] = self._days.get(day, 0) + tokens
            return self._days[day]


class DynamoDBCounter:
    """The day's item in the cache table: `pk`, `tokens` (N) and `expires_at`, its TTL."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def total(self, day: str) -> int:
        try:
            answer = aws.client("dynamodb").get_item(
                TableName=self.table_name,
                Key={"pk": {"S": counter_key(day)}},
                ConsistentRead=True,
                # Present in every real answer, found or not: a 200 without it (a proxy's
                # page) is garbage, not a day with nothing spent yet.
                ReturnConsumedCapacity="TOTAL",
            )
        except aws.call_failures() as error:
            raise _call_failed(error) from None
        if "ConsumedCapacity" not in answer:
            raise CounterError("malformed_answer")
        item = answer.get("Item")
        return 0 if not item else _tokens(item)

    def add(self, day: str, tokens: int, expires_at: int) -> int:
        try:
            answer = aws.client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"pk": {"S": counter_key(day)}},
                UpdateExpression="ADD #tokens :tokens SET #expires_at = :expires_at",
                ExpressionAttributeNames={"#tokens": "tokens", "#expires_at": "expires_at"},
                ExpressionAttributeValues={
                    ":tokens": {"N": str(tokens)},
                    ":expires_at": {"N": str(expires_at)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except aws.call_failures() as error:
            raise _call_failed(error) from None
        return _tokens(answer.get("Attributes"))


def _call_failed(error: Exception) -> CounterError:
    return CounterError("call_failed", timed_out=aws.is_timeout(error), **aws.failure_detail(error))


def _tokens(item: Any) -> int:
    try:
        return int(item["tokens"]["N"])
    except (KeyError, TypeError, ValueError):
        raise CounterError("malformed_counter") from None


class BudgetExhausted(Exception):
    """The day's budget is spent: the request is answered 429 without a model call."""

    code = "llm_budget_exhausted"
    message = REFUSED_MESSAGE

    def __init__(self, day_tokens: int, budget: int, retry_after_s: int) -> None:
        super().__init__(self.message)
        self.day_tokens = day_tokens
        self.budget = budget
        self.retry_after_s = retry_after_s


@dataclass
class Spending:
    """One request's use of the budget: what its model calls cost, and whether DynamoDB may
    still be called (False once a call of the request timed out)."""

    may_wait: bool = True
    tokens: int = 0
    estimated: bool = False


# The request's Spending while its analyzer runs: the analyzer reports each call's cost to it.
_spending: ContextVar[Spending | None] = ContextVar("iris_llm_spending", default=None)


def count_tokens(
    reported: int | None, *, messages: Sequence[Mapping[str, str]], max_completion_tokens: int
) -> None:
    """Charge one answered model call to the running request: `usage.total_tokens` when the
    answer gave it, else an estimate. Outside a metered request it does nothing."""
    spend = _spending.get()
    if spend is None:
        return
    if reported is None:
        spend.tokens += estimate_tokens(messages, max_completion_tokens)
        spend.estimated = True
    else:
        spend.tokens += reported


class Budget(Protocol):
    def spending(self, *, may_wait: bool = True) -> AbstractContextManager[Spending]:
        """Admit a request (or raise BudgetExhausted), meter its calls, count them at the end.

        `may_wait=False` after one of the request's DynamoDB calls timed out.
        """
        ...


class Unlimited:
    """No cap (budget 0, or an offline analyzer): no check, no count, no DynamoDB call."""

    @contextmanager
    def spending(self, *, may_wait: bool = True) -> Iterator[Spending]:
        yield Spending(may_wait=may_wait)


class DailyTokenBudget:
    """`budget` tokens a UTC day for all containers together, counted in `counter`."""

    def __init__(self, budget: int, counter: TokenCounter, clock: Clock = time.time) -> None:
        self.budget = budget
        self._counter = counter
        self._clock = clock
        self._fresh_read_from = FRESH_READ_SHARE * budget
        self._view: _View | None = None

    @contextmanager
    def spending(self, *, may_wait: bool = True) -> Iterator[Spending]:
        spend = self.admit(may_wait=may_wait)
        metering = _spending.set(spend)
        try:
            yield spend
        finally:
            _spending.reset(metering)
            self.count(spend)

    def admit(self, *, may_wait: bool = True) -> Spending:
        """A Spending for a request that may call the model, or BudgetExhausted."""
        if not may_wait:
            _unchecked("check", "earlier_timeout")
            return Spending(may_wait=False)
        now = self._clock()
        day = utc_day(now)
        view = self._view
        if view is None or self._needs_read(view, day, now):
            try:
                view = self._remember(day, self._counter.total(day), now)
            except CounterError as error:
                _unchecked("check", error.reason, **error.detail)
                return Spending(may_wait=not error.timed_out)
        if view.tokens >= self.budget:
            raise BudgetExhausted(view.tokens, self.budget, seconds_to_midnight(now))
        return Spending()

    def count(self, spend: Spending) -> None:
        """Add what the request's calls cost to the day's counter; never raises."""
        if spend.tokens <= 0:
            return
        if not spend.may_wait:
            _unchecked("count", "earlier_timeout", tokens=spend.tokens)
            return
        now = self._clock()
        day = utc_day(now)
        expires_at = int(now) + seconds_to_midnight(now) + COUNTER_KEPT_S
        try:
            total = self._counter.add(day, spend.tokens, expires_at)
        except CounterError as error:
            spend.may_wait = not error.timed_out
            _unchecked("count", error.reason, tokens=spend.tokens, **error.detail)
            return
        self._remember(day, total, now)
        # The stack's metric filters read this line: tokens per day, and the 80 % alarm.
        log.info(
            "llm tokens counted",
            extra={
                "tokens": spend.tokens,
                "day_tokens": total,
                "budget": self.budget,
                "estimated": spend.estimated,
            },
        )

    def _needs_read(self, view: _View, day: str, now: float) -> bool:
        if view.day != day or not 0 <= now - view.read_at < VIEW_MAX_AGE_S:
            return True
        return self._fresh_read_from <= view.tokens < self.budget

    def _remember(self, day: str, tokens: int, now: float) -> _View:
        self._view = _View(day, tokens, now)
        return self._view


@dataclass(frozen=True)
class _View:
    day: str
    tokens: int
    read_at: float


def _unchecked(step: str, reason: str, **detail: Any) -> None:
    log.warning(
        "llm budget unchecked",
        extra={"budget_unchecked": True, "step": step, "reason": reason, **detail},
    )


def build_budget(settings: Settings, clock: Clock = time.time) -> Budget:
    """The cap the settings ask for: in the cache table when there is one, else per process."""
    if settings.llm_provider != "openai" or settings.llm_daily_token_budget == 0:
        return Unlimited()
    counter: TokenCounter = (
        DynamoDBCounter(settings.cache_table) if settings.cache_table else MemoryCounter()
    )
    return DailyTokenBudget(settings.llm_daily_token_budget, counter, clock)
