"""Sums over a user's transactions in an inclusive window of calendar days.

"Spent" is the sum of -amount_cents over negative amounts, "income" the sum of positive ones.
Dates are stored `YYYY-MM-DD`, so comparing the text compares the days.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

__all__ = ["WindowTotals", "spent_by_category", "window_totals"]

_WINDOW = "user_id = ? AND date BETWEEN ? AND ?"


@dataclass(frozen=True)
class WindowTotals:
    spent_cents: int
    income_cents: int
    transactions: int


def window_totals(
    connection: sqlite3.Connection, user_id: str, first: date, last: date
) -> WindowTotals:
    spent, income, count = connection.execute(
        "SELECT COALESCE(SUM(CASE WHEN amount_cents < 0 THEN -amount_cents END), 0),"
        " COALESCE(SUM(CASE WHEN amount_cents > 0 THEN amount_cents END), 0), COUNT(*)"
        f" FROM transactions WHERE {_WINDOW}",
        (user_id, first.isoformat(), last.isoformat()),
    ).fetchone()
    return WindowTotals(spent, income, count)


def spent_by_category(
    connection: sqlite3.Connection, user_id: str, first: date, last: date
) -> dict[str, int]:
    """Spent cents per category, only the categories with spending, in category order."""
    rows = connection.execute(
        "SELECT category, SUM(-amount_cents) FROM transactions"
        f" WHERE {_WINDOW} AND amount_cents < 0 GROUP BY category ORDER BY category",
        (user_id, first.isoformat(), last.isoformat()),
    )
    return dict(rows.fetchall())
