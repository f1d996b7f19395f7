"""Each route's answer from the database, whichever app or entry point serves it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from typing import Any

from spendsense_core import stats
from spendsense_core.database import Database
from spendsense_core.queries import parse_insight_query, resolve_as_of

__all__ = ["Insight", "answer_insight", "answer_stats"]

# An insight module's `compute`.
Insight = Callable[[sqlite3.Connection, str, date], dict[str, Any]]


def answer_insight(
    database: Database, insight: Insight, user_id: str | None, as_of: str | None
) -> dict[str, Any]:
    """The insight's JSON; raises InvalidQuery, UserNotFound or DataUnavailable."""
    query = parse_insight_query(user_id, as_of)
    with database.connection() as connection:
        return insight(connection, query.user_id, resolve_as_of(connection, query))


def answer_stats(database: Database) -> dict[str, Any]:
    with database.connection() as connection:
        return stats.compute(connection)
