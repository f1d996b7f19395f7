"""Spending analysis: each category's spending and share of the 30 days ending `as_of`."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from spendsense_core.ledger import spent_by_category

__all__ = ["DAYS", "PATH", "compute", "share"]

PATH = "/api/insights/spending-analysis"
DAYS = 30


def share(spent_cents: int, total_cents: int) -> float:
    """spent / total rounded half up to 4 decimals, computed on integers (no float ties)."""
    if total_cents == 0:
        return 0.0
    ten_thousandths = (2 * 10_000 * spent_cents + total_cents) // (2 * total_cents)
    return ten_thousandths / 10_000


def compute(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
    first = as_of - timedelta(days=DAYS - 1)
    spent = spent_by_category(connection, user_id, first, as_of)
    total = sum(spent.values())
    ranked = sorted(spent.items(), key=lambda item: (-item[1], item[0]))
    return {
        "userId": user_id,
        "from": first.isoformat(),
        "to": as_of.isoformat(),
        "totalSpentCents": total,
        "categories": [
            {"category": category, "spentCents": cents, "share": share(cents, total)}
            for category, cents in ranked
        ],
    }
