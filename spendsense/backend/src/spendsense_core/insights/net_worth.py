"""Net worth: the user's assets less liabilities, from the accounts' balances."""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

from spendsense_core.schema import ASSET_TYPES, LIABILITY_TYPES

__all__ = ["PATH", "compute"]

PATH = "/api/insights/net-worth"


def compute(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
    """Balances are the accounts' current ones: `as_of` selects no history here."""
    assets = _balance(connection, user_id, ASSET_TYPES)
    liabilities = _balance(connection, user_id, LIABILITY_TYPES)
    return {
        "userId": user_id,
        "assetsCents": assets,
        "liabilitiesCents": liabilities,
        "netWorthCents": assets - liabilities,
    }


def _balance(connection: sqlite3.Connection, user_id: str, types: tuple[str, ...]) -> int:
    marks = ", ".join("?" * len(types))
    (total,) = connection.execute(
        "SELECT COALESCE(SUM(balance_cents), 0) FROM accounts"
        f" WHERE user_id = ? AND type IN ({marks})",
        (user_id, *types),
    ).fetchone()
    return total
