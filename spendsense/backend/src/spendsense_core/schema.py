"""The database schema (spendsense/README.md): what the sample generator creates, what a loaded
file needs."""

from __future__ import annotations

from datetime import date

__all__ = [
    "ASSET_TYPES",
    "CENTS",
    "COLUMN_KINDS",
    "DAY",
    "LIABILITY_TYPES",
    "MAX_TOTAL_CENTS",
    "MIN_DAY",
    "SCHEMA_SQL",
    "TABLE_COLUMNS",
    "TEXT",
]

SCHEMA_SQL = """
CREATE TABLE users(user_id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE accounts(account_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, type TEXT NOT NULL,
                      balance_cents INTEGER NOT NULL);
CREATE TABLE transactions(transaction_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
                          account_id TEXT NOT NULL, date TEXT NOT NULL,
                          amount_cents INTEGER NOT NULL, category TEXT NOT NULL,
                          merchant TEXT NOT NULL);
CREATE TABLE budgets(user_id TEXT NOT NULL, category TEXT NOT NULL,
                     monthly_limit_cents INTEGER NOT NULL, PRIMARY KEY (user_id, category));
CREATE INDEX transactions_by_user_date ON transactions(user_id, date);
"""

# What every value of a column must be: UTF-8 text (never NULL), a day written YYYY-MM-DD, or
# integer cents. SQLite's columns take any value whatever their declared type.
TEXT, DAY, CENTS = "text", "day", "cents"
COLUMN_KINDS: dict[str, dict[str, str]] = {
    "users": {"user_id": TEXT, "name": TEXT},
    "accounts": {"account_id": TEXT, "user_id": TEXT, "type": TEXT, "balance_cents": CENTS},
    "transactions": {
        "transaction_id": TEXT,
        "user_id": TEXT,
        "account_id": TEXT,
        "date": DAY,
        "amount_cents": CENTS,
        "category": TEXT,
        "merchant": TEXT,
    },
    "budgets": {"user_id": TEXT, "category": TEXT, "monthly_limit_cents": CENTS},
}
# The columns each query relies on; a file without them is not a SpendSense database.
TABLE_COLUMNS: dict[str, frozenset[str]] = {
    table: frozenset(columns) for table, columns in COLUMN_KINDS.items()
}
# The bound on cents: in each cents column, the absolute values of all rows add up to at most
# 2^53 - 1. Every sum an answer holds (spent, income, a balance total, limit - spent, assets -
# liabilities) is then at most that, so it never overflows SQLite's 64-bit integers (which
# would fail the query, or turn -amount_cents of -2^63 into a float), and stays exact in any
# JSON reader's doubles (JavaScript's Number.MAX_SAFE_INTEGER).
MAX_TOTAL_CENTS = 2**53 - 1

# The earliest day a transaction or an `as_of` may have: every window (at most three months
# back, from the 1st) then starts within the calendar, which ends before year 1.
MIN_DAY = date(2, 1, 1)
ASSET_TYPES = ("checking", "savings", "investment")
# A liability's balance_cents is what is owed (>= 0).
LIABILITY_TYPES = ("credit", "loan")
