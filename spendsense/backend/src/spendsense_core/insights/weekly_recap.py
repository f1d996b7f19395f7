"""Weekly recap: spending, income and transactions of the 7 days ending `as_of`."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from spendsense_core.ledger import spent_by_category, window_totals

__all__ = ["DAYS", "PATH", "compute"]

PATH = "/api/insights/weekly-recap"
DAYS = 7


def compute(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
    first = as_of - timedelta(days=DAYS - 1)
    totals = window_totals(connection, user_id, first, as_of)
    return {
        "userId": user_id,
        "from": first.isoformat(),
        "to": as_of.isoformat(),
        "spentCents": totals.spent_cents,
        "incomeCents": totals.income_cents,
        "transactions": totals.transactions,
        "byCategory": spent_by_category(connection, user_id, first, as_of),
    }
