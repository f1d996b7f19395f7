"""An insight's query (`user_id`, `as_of`), checked, and the day it is answered for."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime

from spendsense_core.errors import InvalidQuery, UserNotFound
from spendsense_core.schema import MIN_DAY

__all__ = [
    "MAX_USER_ID_LENGTH",
    "InsightQuery",
    "parse_day",
    "parse_insight_query",
    "resolve_as_of",
]

MAX_USER_ID_LENGTH = 128
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class InsightQuery:
    user_id: str
    as_of: date | None


def parse_day(text: str) -> date:
    """A calendar day written `YYYY-MM-DD` exactly (no week dates, no times, no offsets), from
    MIN_DAY on: an insight's window reaches up to three months back."""
    if not _DAY.fullmatch(text):
        raise ValueError(text)
    day = date.fromisoformat(text)
    if day < MIN_DAY:
        raise ValueError(text)
    return day


def parse_insight_query(user_id: str | None, as_of: str | None) -> InsightQuery:
    """The query of every insight route; raises InvalidQuery naming the parameter."""
    if not user_id:
        raise InvalidQuery("The query parameter user_id is required.")
    if len(user_id) > MAX_USER_ID_LENGTH:
        raise InvalidQuery(f"user_id is longer than {MAX_USER_ID_LENGTH} characters.")
    if as_of is None:
        return InsightQuery(user_id, None)
    try:
        return InsightQuery(user_id, parse_day(as_of))
    except ValueError:
        raise InvalidQuery(
            f"as_of must be a calendar day written YYYY-MM-DD, from {MIN_DAY.isoformat()}."
        ) from None


def resolve_as_of(connection: sqlite3.Connection, query: InsightQuery) -> date:
    """The day the insight is answered for; raises UserNotFound for an unknown user.

    Without `as_of`: the user's latest transaction date, else (a user with no transactions)
    the database's latest, else today in UTC.
    """
    known = connection.execute("SELECT 1 FROM users WHERE user_id = ?", (query.user_id,))
    if known.fetchone() is None:
        raise UserNotFound(f"No user with user_id {query.user_id!r}.")
    if query.as_of is not None:
        return query.as_of
    (latest,) = connection.execute(
        "SELECT COALESCE((SELECT MAX(date) FROM transactions WHERE user_id = ?),"
        " (SELECT MAX(date) FROM transactions))",
        (query.user_id,),
    ).fetchone()
    return date.fromisoformat(latest) if latest else datetime.now(UTC).date()
