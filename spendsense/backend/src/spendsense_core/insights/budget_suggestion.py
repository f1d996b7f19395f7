"""Budget suggestion: a monthly limit per category from the 3 full months before `as_of`'s."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

from spendsense_core.ledger import spent_by_category
from spendsense_core.months import month_label, month_start

__all__ = ["MONTHS", "PATH", "ROUND_TO_CENTS", "compute", "suggested_limit"]

PATH = "/api/insights/budget-suggestion"
MONTHS = 3
# Suggested limits are whole multiples of $10.
ROUND_TO_CENTS = 1000


def suggested_limit(average_cents: int) -> int:
    """The average rounded up to a multiple of ROUND_TO_CENTS."""
    return -(-average_cents // ROUND_TO_CENTS) * ROUND_TO_CENTS


def compute(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
    first = month_start(as_of, MONTHS)
    last = month_start(as_of) - timedelta(days=1)
    spent = spent_by_category(connection, user_id, first, last)
    return {
        "userId": user_id,
        "months": [month_label(month_start(as_of, back)) for back in range(MONTHS, 0, -1)],
        "suggestions": [
            {
                "category": category,
                "averageSpentCents": cents // MONTHS,
                "suggestedLimitCents": suggested_limit(cents // MONTHS),
            }
            for category, cents in spent.items()
        ],
    }
