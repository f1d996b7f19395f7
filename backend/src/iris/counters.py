"""What the daily token budget (`iris.budget`) asks of a day's counter: the counter's item key,
its protocol and its two failures. The counters themselves are in `iris.token_counter`, which
only a capped analyzer loads; both modules import this one, and neither imports the other.
"""

from __future__ import annotations

from typing import Any, Protocol

# Counter items are keyed "llm-tokens#2026-12-01": never a cache key (64 hex digits).
COUNTER_KEY_PREFIX = "llm-tokens#"


def counter_key(day: str) -> str:
    return f"{COUNTER_KEY_PREFIX}{day}"


class CounterError(Exception):
    """A counter call that failed or answered garbage; `detail` is safe to log."""

    def __init__(self, reason: str, *, timed_out: bool = False, **detail: Any) -> None:
        super().__init__(f"token counter failed: {reason}")
        self.reason = reason
        self.timed_out = timed_out
        self.detail = detail


class CounterFull(Exception):
    """The reservation does not fit: `total` tokens of the day are already counted."""

    def __init__(self, total: int) -> None:
        super().__init__(f"the day's counter holds {total} tokens")
        self.total = total


class TokenCounter(Protocol):
    """The day's count (`iris.token_counter`: in DynamoDB, or in memory for local runs)."""

    def reserve(self, day: str, tokens: int, budget: int, expires_at: int) -> int:
        """Add `tokens` (<= `budget`) only if the day's total stays <= `budget`; the new total,
        or CounterFull, or CounterError."""
        ...

    def settle(self, day: str, tokens: int, expires_at: int) -> int | None:
        """Add `tokens` (negative: give back, never below 0); the new total, None when there
        was less left to give back, or CounterError."""
        ...
