"""The day's token counters (`iris.counters.TokenCounter`): reserve a call's worst case only while
it fits, settle it after.

One item per UTC day in the cache table (`pk = "llm-tokens#<day>"`, `tokens` (N), `expires_at`,
its TTL). A reservation is one conditional UpdateItem: `ADD tokens :n` only while the day's
total stays within the budget, so any number of containers together never pass it. A settle
adds the difference between what the call cost and what it reserved; a negative one only while
the counter still holds it (an operator may have lowered it meanwhile), so it never goes below 0.

An item whose `tokens` is not a number, or is negative, fails every reservation's condition and
reads as `malformed_counter` (so does a fraction): the caller refuses rather than guess.
Flask-free; botocore only through `lambda_kit.aws`.
"""

from __future__ import annotations

import threading
from typing import Any

from iris.counters import CounterError, CounterFull, counter_key
from lambda_kit import aws

__all__ = ["DynamoDBCounter", "MemoryCounter"]

_CONDITION_FAILED = "ConditionalCheckFailedException"


class MemoryCounter:
    """One process's counter: for local runs without a table (and the simulations in tests)."""

    def __init__(self) -> None:
        self.days: dict[str, int] = {}
        self._lock = threading.Lock()

    def reserve(self, day: str, tokens: int, budget: int, expires_at: int) -> int:
        with self._lock:
            total = self.days.get(day, 0)
            if total + tokens > budget:
                raise CounterFull(total)
            self.days[day] = total + tokens
            return self.days[day]

    def settle(self, day: str, tokens: int, expires_at: int) -> int | None:
        with self._lock:
            total = self.days.get(day, 0)
            if total + tokens < 0:
                return None
            self.days[day] = total + tokens
            return self.days[day]


class DynamoDBCounter:
    """The day's item in the cache table; every call is one UpdateItem on a counter key (the
    only items the function's role may update)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def reserve(self, day: str, tokens: int, budget: int, expires_at: int) -> int:
        try:
            answer = self._add(
                day,
                tokens,
                expires_at,
                # A missing count is 0; a count of another type or below 0 never fits.
                condition=(
                    "attribute_not_exists(#tokens) OR "
                    "(attribute_type(#tokens, :number) AND #tokens BETWEEN :zero AND :room)"
                ),
                values={
                    ":number": {"S": "N"},
                    ":zero": {"N": "0"},
                    ":room": {"N": str(budget - tokens)},
                },
                # A refusal brings the item back: what the day holds, or that it is garbled.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except aws.call_failures() as error:
            if _error_code(error) != _CONDITION_FAILED:
                raise _call_failed(error) from None
            held = getattr(error, "response", {}).get("Item")
        else:
            return _tokens(answer.get("Attributes"))
        raise CounterFull(_tokens(held))

    def settle(self, day: str, tokens: int, expires_at: int) -> int | None:
        giving_back = tokens < 0
        try:
            answer = self._add(
                day,
                tokens,
                expires_at,
                condition="#tokens >= :given_back" if giving_back else None,
                values={":given_back": {"N": str(-tokens)}} if giving_back else {},
            )
        except aws.call_failures() as error:
            if _error_code(error) == _CONDITION_FAILED:
                return None
            raise _call_failed(error) from None
        return _tokens(answer.get("Attributes"))

    def _add(
        self,
        day: str,
        tokens: int,
        expires_at: int,
        *,
        condition: str | None,
        values: dict[str, Any],
        **options: Any,
    ) -> dict[str, Any]:
        if condition is not None:
            options["ConditionExpression"] = condition
        return aws.client("dynamodb").update_item(
            TableName=self.table_name,
            Key={"pk": {"S": counter_key(day)}},
            UpdateExpression="ADD #tokens :tokens SET #expires_at = :expires_at",
            ExpressionAttributeNames={"#tokens": "tokens", "#expires_at": "expires_at"},
            ExpressionAttributeValues={
                ":tokens": {"N": str(tokens)},
                ":expires_at": {"N": str(expires_at)},
                **values,
            },
            ReturnValues="UPDATED_NEW",
            **options,
        )


def _error_code(error: Exception) -> str | None:
    return aws.failure_detail(error)["error_code"]


def _call_failed(error: Exception) -> CounterError:
    return CounterError("call_failed", timed_out=aws.is_timeout(error), **aws.failure_detail(error))


def _tokens(item: Any) -> int:
    """The item's `tokens` as a whole number >= 0, or CounterError: a negative count or a
    fraction is not one this code ever writes."""
    try:
        text = item["tokens"]["N"]
    except (KeyError, TypeError):
        raise CounterError("malformed_counter") from None
    # DynamoDB numbers have at most 38 digits: far from int()'s 4,300-digit limit.
    if not (isinstance(text, str) and text.isascii() and text.isdigit()):
        raise CounterError("malformed_counter")
    return int(text)
