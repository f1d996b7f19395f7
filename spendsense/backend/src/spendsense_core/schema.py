"""The contract's database schema: what the sample generator creates, what a loaded file needs."""

from __future__ import annotations

from datetime import date

__all__ = ["ASSET_TYPES", "LIABILITY_TYPES", "MIN_DAY", "SCHEMA_SQL", "TABLE_COLUMNS"]

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

# The columns each query relies on; a file without them is not a SpendSense database.
TABLE_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"user_id", "name"}),
    "accounts": frozenset({"account_id", "user_id", "type", "balance_cents"}),
    "transactions": frozenset(
        {"transaction_id", "user_id", "account_id", "date", "amount_cents", "category", "merchant"}
    ),
    "budgets": frozenset({"user_id", "category", "monthly_limit_cents"}),
}

# The earliest day a transaction or an `as_of` may have: every window (at most three months
# back, from the 1st) then starts within the calendar, which ends before year 1.
MIN_DAY = date(2, 1, 1)
ASSET_TYPES = ("checking", "savings", "investment")
# A liability's balance_cents is what is owed (>= 0).
LIABILITY_TYPES = ("credit", "loan")
