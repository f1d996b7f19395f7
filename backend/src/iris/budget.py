"""The daily LLM token budget: one counter per UTC day, shared by every container, never passed.

Before each model call (each attempt, retries included) the request reserves the call's worst
case on the day's counter (`iris.token_counter`), atomically and only while it fits the budget:
the prompt's UTF-8 bytes (a byte-level BPE token is at least one byte, so never fewer than its
tokens), a few tokens a message, and the whole completion limit. After the call, the reservation
is settled to the `usage.total_tokens` the answer reports; when it reports none, or the settle
fails, the reservation stands (an overcount is safe). A call the upstream refused (a 4xx) gives
its reservation back. So the day's total never passes the budget, whatever the number of
containers, and a call that does not fit is refused: 429 `llm_budget_exhausted`. (Counting after
the call let each container overshoot by a call: pitfall 60.)

A counter that cannot reserve (table missing, throttled, refused, garbled, unreachable, or a
DynamoDB call of the request already timed out) lets no call through: 503
`llm_budget_unavailable`, logged as `llm budget counter failed`, which the stack counts and
alarms on (pitfall 61). A team that prefers availability sets
IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER: each container then makes at most that many calls
without a reservation, ever.

A container that was refused trusts that for VIEW_MAX_AGE_S, refusing calls that would not fit
without asking the table again. Flask-free; `iris.token_counter` loads only with a cap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from iris.counters import (
    COUNTER_KEY_PREFIX,
    CounterError,
    CounterFull,
    TokenCounter,
    counter_key,
)
from iris.settings import Settings

__all__ = [
    "COUNTER_KEY_PREFIX",
    "UNAVAILABLE_RETRY_AFTER_S",
    "VIEW_MAX_AGE_S",
    "Budget",
    "BudgetExhausted",
    "BudgetUnavailable",
    "CallMeter",
    "CounterError",
    "CounterFull",
    "DailyTokenBudget",
    "Spending",
    "TokenCounter",
    "Unlimited",
    "build_budget",
    "counter_key",
    "meter_call",
    "seconds_to_midnight",
    "utc_day",
    "worst_case_tokens",
]

log = logging.getLogger("iris")

Clock = Callable[[], float]
DAY_S = 86_400
# A day's counter stays this long after its day ends (for a look with get-item), then the
# table's TTL deletes it.
COUNTER_KEPT_S = 2 * DAY_S
# How long a refused container trusts the total it was refused on; also how long an emergency
# change of the counter item takes to reach it.
VIEW_MAX_AGE_S = 10.0
# Chat formatting around each message's content (OpenAI counts 3, and the role's own token)
# and the tokens that prime the reply (3); counted generously.
MESSAGE_OVERHEAD_TOKENS = 4
REPLY_PRIMING_TOKENS = 3
# What a 503 llm_budget_unavailable asks a client to wait: throttling passes in seconds.
UNAVAILABLE_RETRY_AFTER_S = 30

EXHAUSTED_MESSAGE = (
    "This service has used its language-model budget for today (UTC); cached texts are still "
    "answered. Try again after midnight UTC."
)
UNAVAILABLE_MESSAGE = (
    "This service cannot check its language-model budget right now, so it makes no model call; "
    "cached texts are still answered. Try again shortly."
)


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def seconds_to_midnight(now: float) -> int:
    """Whole seconds until the next UTC midnight, at least 1 (what Retry-After says)."""
    return DAY_S - int(now) % DAY_S


def worst_case_tokens(messages: Sequence[Mapping[str, str]], max_completion_tokens: int) -> int:
    """The most a call can cost: never fewer tokens than it is billed."""
    prompt = sum(
        len(message.get("role", "").encode("utf-8"))
        + len(message["content"].encode("utf-8", "surrogatepass"))
        + MESSAGE_OVERHEAD_TOKENS
        for message in messages
    )
    return prompt + REPLY_PRIMING_TOKENS + max_completion_tokens


class BudgetExhausted(Exception):
    """The call does not fit what is left of today's budget: 429 without a model call."""

    status = 429
    code = "llm_budget_exhausted"
    message = EXHAUSTED_MESSAGE

    def __init__(self, day_tokens: int | None, budget: int, retry_after_s: int) -> None:
        super().__init__(self.message)
        # None when the call alone is larger than the budget: the day's total was not asked.
        self.day_tokens = day_tokens
        self.budget = budget
        self.retry_after_s = retry_after_s


class BudgetUnavailable(Exception):
    """The counter could not reserve the call: 503 without a model call."""

    status = 503
    code = "llm_budget_unavailable"
    message = UNAVAILABLE_MESSAGE
    retry_after_s = UNAVAILABLE_RETRY_AFTER_S

    def __init__(self, reason: str) -> None:
        super().__init__(self.message)
        self.reason = reason


class Spending:
    """One request's use of the budget: what its model calls were charged, and whether DynamoDB
    may still be called (False once a call of the request timed out).

    A plain class, like the reservation below: a dataclass costs the cold start of every
    container about half a millisecond to build.
    """

    __slots__ = ("estimated", "may_wait", "tokens")

    def __init__(self, may_wait: bool = True) -> None:
        self.may_wait = may_wait
        self.tokens = 0
        # True when an answer reported no usage, so its reservation was charged.
        self.estimated = False


class CallMeter:
    """One model call's reservation: `settle` it with the answer's usage, or `release` it when
    the upstream refused the call. Left alone (a timeout, a 5xx), the reservation stands."""

    __slots__ = ()

    def settle(self, reported_tokens: int | None) -> None:
        """Outside a metered request: nothing to settle."""

    def release(self) -> None:
        """Outside a metered request: nothing to give back."""


class Budget(Protocol):
    def spending(self, *, may_wait: bool = True) -> AbstractContextManager[Spending]:
        """Meter the model calls of one request (`meter_call`).

        `may_wait=False` after one of the request's DynamoDB calls timed out.
        """
        ...


# The running request's budget and Spending, while its analyzer runs.
_metering: ContextVar[tuple[DailyTokenBudget, Spending] | None] = ContextVar(
    "iris_llm_metering", default=None
)


def meter_call(messages: Sequence[Mapping[str, str]], max_completion_tokens: int) -> CallMeter:
    """Reserve one model call's worst case for the running request, before it is made.

    Raises BudgetExhausted or BudgetUnavailable; outside a metered request (no cap) it reserves
    nothing.
    """
    metering = _metering.get()
    if metering is None:
        return CallMeter()
    budget, spend = metering
    return budget.reserve(spend, worst_case_tokens(messages, max_completion_tokens))


class Unlimited:
    """No cap (budget 0, or an offline analyzer): no reservation, no DynamoDB call."""

    @contextmanager
    def spending(self, *, may_wait: bool = True) -> Iterator[Spending]:
        yield Spending(may_wait=may_wait)


class DailyTokenBudget:
    """`budget` tokens a UTC day for all containers together, counted in `counter`.

    `fail_open_calls`: how many calls this container may make, in its whole life, when the
    counter cannot reserve them (0: none).
    """

    def __init__(
        self,
        budget: int,
        counter: TokenCounter,
        clock: Clock = time.time,
        fail_open_calls: int = 0,
    ) -> None:
        self.budget = budget
        self._counter = counter
        self._clock = clock
        self.fail_open_calls_left = fail_open_calls
        self._refused: tuple[str, int, float] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def spending(self, *, may_wait: bool = True) -> Iterator[Spending]:
        spend = Spending(may_wait=may_wait)
        token = _metering.set((self, spend))
        try:
            yield spend
        finally:
            _metering.reset(token)

    def reserve(self, spend: Spending, tokens: int) -> CallMeter:
        """A reservation of `tokens` on today's counter; BudgetExhausted when it does not fit,
        BudgetUnavailable when the counter cannot tell (unless this container may fail open)."""
        now = self._clock()
        day = utc_day(now)
        if tokens > self.budget:
            # Not even a whole day's budget would hold it.
            raise BudgetExhausted(None, self.budget, seconds_to_midnight(now))
        refused = self._refused
        if refused is not None and refused[0] == day and 0 <= now - refused[2] < VIEW_MAX_AGE_S:
            if refused[1] + tokens > self.budget:
                raise BudgetExhausted(refused[1], self.budget, seconds_to_midnight(now))
        expires_at = _expires_at(now)
        if not spend.may_wait:
            return self._unreserved(spend, day, tokens, "earlier_timeout")
        try:
            total = self._counter.reserve(day, tokens, self.budget, expires_at)
        except CounterFull as full:
            self._refused = (day, full.total, now)
            raise BudgetExhausted(full.total, self.budget, seconds_to_midnight(now)) from None
        except CounterError as error:
            spend.may_wait = not error.timed_out
            return self._unreserved(spend, day, tokens, error.reason, **error.detail)
        self._refused = None
        return _Reservation(self, spend, day, tokens, total)

    def _unreserved(
        self, spend: Spending, day: str, tokens: int, reason: str, **detail: Any
    ) -> CallMeter:
        with self._lock:
            admitted = self.fail_open_calls_left > 0
            if admitted:
                self.fail_open_calls_left -= 1
        _counter_failed(
            "reserve",
            reason,
            admitted=admitted,
            fail_open_calls_left=self.fail_open_calls_left,
            **detail,
        )
        if not admitted:
            raise BudgetUnavailable(reason)
        return _Reservation(self, spend, day, tokens, None)

    def settle(self, reservation: _Reservation, charged: int) -> None:
        """Bring the counter from the reservation to what the call was charged; never raises.

        A call made without a reservation (failing open) is added now, if the counter answers.
        """
        spend = reservation.spend
        held, total = reservation.tokens, reservation.total
        step = "settle"
        if total is None:
            # Failing open: nothing is held yet; count what the call cost, if the counter answers.
            held, step = 0, "count"
        counted = held
        if charged != held and spend.may_wait:
            try:
                settled = self._counter.settle(
                    reservation.day, charged - held, _expires_at(self._clock())
                )
            except CounterError as error:
                spend.may_wait = not error.timed_out
                _counter_failed(step, error.reason, tokens=charged, **error.detail)
            else:
                # None: the counter was lowered meanwhile; the reservation is gone with it.
                counted = charged
                total = settled if settled is not None else total
        elif charged != held:
            _counter_failed(step, "earlier_timeout", tokens=charged)
        if counted > 0 and total is not None:
            # The stack's metric filters read this line: tokens per day, and the 80 % alarm.
            log.info(
                "llm tokens counted",
                extra={
                    "tokens": counted,
                    "day_tokens": total,
                    "budget": self.budget,
                    "estimated": spend.estimated,
                },
            )


class _Reservation(CallMeter):
    __slots__ = ("budget", "day", "spend", "tokens", "total")

    def __init__(
        self, budget: DailyTokenBudget, spend: Spending, day: str, tokens: int, total: int | None
    ) -> None:
        self.budget = budget
        self.spend = spend
        self.day = day
        self.tokens = tokens
        # The day's total once reserved; None when the call was let through unreserved.
        self.total = total

    def settle(self, reported_tokens: int | None) -> None:
        charged = self.tokens if reported_tokens is None else reported_tokens
        self.spend.tokens += charged
        self.spend.estimated = self.spend.estimated or reported_tokens is None
        self.budget.settle(self, charged)

    def release(self) -> None:
        self.budget.settle(self, 0)


def _expires_at(now: float) -> int:
    return int(now) + seconds_to_midnight(now) + COUNTER_KEPT_S


def _counter_failed(step: str, reason: str, **detail: Any) -> None:
    # One line per failure at any step; the stack counts them and alarms on them.
    log.warning("llm budget counter failed", extra={"step": step, "reason": reason, **detail})


def build_budget(settings: Settings, clock: Clock = time.time) -> Budget:
    """The cap the settings ask for: in the cache table when there is one, else per process."""
    if settings.llm_provider != "openai" or settings.llm_daily_token_budget == 0:
        return Unlimited()
    # Only a capped analyzer loads the counters: an offline /health never does.
    from iris.token_counter import DynamoDBCounter, MemoryCounter

    counter: TokenCounter = (
        DynamoDBCounter(settings.cache_table) if settings.cache_table else MemoryCounter()
    )
    return DailyTokenBudget(
        settings.llm_daily_token_budget,
        counter,
        clock,
        fail_open_calls=settings.llm_budget_fail_open_calls_per_container,
    )
