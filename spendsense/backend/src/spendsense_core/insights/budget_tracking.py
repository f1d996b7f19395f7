"""Budget tracking: each budget's limit against the spending of `as_of`'s month so far."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

from spendsense_core.ledger import spent_by_category
from spendsense_core.months import month_label, month_start

__all__ = ["PATH", "compute"]

PATH = "/api/insights/budget-tracking"


def compute(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
    spent = spent_by_category(connection, user_id, month_start(as_of), as_of)
    budgets = connection.execute(
        "SELECT category, monthly_limit_cents FROM budgets WHERE user_id = ? ORDER BY category",
        (user_id,),
    ).fetchall()
    return {
        "userId": user_id,
        "month": month_label(as_of),
        "budgets": [
            _tracked(category, limit, spent.get(category, 0)) for category, limit in budgets
        ],
    }


def _tracked(category: str, limit_cents: int, spent_cents: int) -> dict[str, Any]:
    return {
        "category": category,
        "limitCents": limit_cents,
        "spentCents": spent_cents,
        "remainingCents": limit_cents - spent_cents,
        "status": "over" if spent_cents > limit_cents else "under",
    }
