"""Counts and date range over the whole database (`GET /api/stats`)."""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["PATH", "compute"]

PATH = "/api/stats"


def compute(connection: sqlite3.Connection) -> dict[str, Any]:
    users, accounts, transactions, first, last = connection.execute(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM accounts),"
        " COUNT(*), MIN(date), MAX(date) FROM transactions"
    ).fetchone()
    return {
        "users": users,
        "accounts": accounts,
        "transactions": transactions,
        "firstDate": first,
        "lastDate": last,
    }
