"""A small hand-built SpendSense database whose every answer the tests compute by hand.

User u-1 has one transaction on each edge of every window for as_of 2025-03-15 (its latest
transaction date): weekly 2025-03-09..15, 30 days 2025-02-14..2025-03-15, March so far, and the
three months 2024-12..2025-02. u-2 has nothing at all; u-3 has one transaction and more debt
than assets.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from spendsense_core.database import Database, LocalFile, forget_container_database
from spendsense_core.schema import MAX_TOTAL_CENTS, SCHEMA_SQL
from tests.backend.loopback import PORTAL_PAGE
from tests.spendsense.entry_points import clear_environment, logger_restored, start_entry_point

USERS = [("u-1", "Uma"), ("u-2", "Vic"), ("u-3", "Wen")]
ACCOUNTS = [
    ("a-1-chk", "u-1", "checking", 250_000),
    ("a-1-sav", "u-1", "savings", 1_000_000),
    ("a-1-inv", "u-1", "investment", 500_000),
    ("a-1-cc", "u-1", "credit", 75_000),
    ("a-1-loan", "u-1", "loan", 400_000),
    ("a-3-chk", "u-3", "checking", 10_000),
    ("a-3-cc", "u-3", "credit", 0),
    ("a-3-loan", "u-3", "loan", 50_000),
]
BUDGETS = [("u-1", "dining", 3_000), ("u-1", "groceries", 3_500), ("u-1", "travel", 10_000)]
# (date, amount_cents, category) for u-1, then u-3's one transaction.
U1_TRANSACTIONS = [
    ("2024-11-30", -9_999, "groceries"),  # the day before the 3 months
    ("2024-12-01", -10_000, "groceries"),  # first day of the 3 months
    ("2025-01-15", -10_001, "groceries"),
    ("2025-01-20", -3_000, "entertainment"),
    ("2025-02-10", -1, "groceries"),
    ("2025-02-13", -50_000, "travel"),  # the day before the 30 days
    ("2025-02-14", -100_000, "housing"),  # first of the 30 days
    ("2025-02-20", -5_000, "utilities"),
    ("2025-02-28", -1_000, "dining"),  # last day of the 3 months, the day before March
    ("2025-03-01", -500, "dining"),  # first day of the month
    ("2025-03-08", -1_000, "groceries"),  # the day before the week
    ("2025-03-09", -2_500, "groceries"),  # first day of the week
    ("2025-03-12", -1_250, "dining"),
    ("2025-03-12", 300_000, "income"),
    ("2025-03-14", 500, "shopping"),  # a refund: income, not spending
    ("2025-03-15", -2_250, "dining"),  # as_of, the user's latest
]
U3_TRANSACTION = ("2025-01-05", -1_234, "groceries")
LATEST_DAY = "2025-03-15"
# SQLite's default page size, which the hand-built file uses.
PAGE_BYTES = 4096


def write_hand_database(path: Path) -> Path:
    connection = sqlite3.connect(path)
    with connection:
        connection.executescript(SCHEMA_SQL)
        connection.executemany("INSERT INTO users VALUES (?, ?)", USERS)
        connection.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", ACCOUNTS)
        connection.executemany("INSERT INTO budgets VALUES (?, ?, ?)", BUDGETS)
        rows = [("u-1", "a-1-chk", *row) for row in U1_TRANSACTIONS]
        rows.append(("u-3", "a-3-chk", *U3_TRANSACTION))
        connection.executemany(
            "INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (f"t-{number:02d}", user, account, day, cents, category, f"{category} shop")
                for number, (user, account, day, cents, category) in enumerate(rows, start=1)
            ],
        )
    connection.close()
    return path


@pytest.fixture(scope="session")
def hand_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hand_database(tmp_path_factory.mktemp("spendsense") / "hand.db")


@pytest.fixture
def client_for() -> Iterator[Callable[[Database], TestClient]]:
    """A TestClient over the app built on a given Database; the databases are closed after."""
    opened: list[Database] = []

    def build(database: Database) -> TestClient:
        opened.append(database)
        return TestClient(create_app(database))

    yield build
    for database in opened:
        database.close()


@pytest.fixture
def client(client_for: Callable[[Database], TestClient], hand_database: Path) -> TestClient:
    return client_for(Database(LocalFile(hand_database)))


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SpendSense variable of the shell reaches a test, and no test leaves a container
    database (or S3 client) behind for the next one."""
    clear_environment(monkeypatch)
    yield
    forget_container_database()


@pytest.fixture
def start_entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Start an entry point by its image command (`handler.handler`,
    `insights.net_worth.handler`) as a new container, under these variables."""
    with logger_restored():

        def start(command: str, **environ: str) -> Any:
            for name, value in environ.items():
                monkeypatch.setenv(name, value)
            return start_entry_point(command)

        yield start


def other_schema_database(path: Path) -> bytes:
    """A sound SQLite file that is not a SpendSense database."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)")
    connection.close()
    return path.read_bytes()


def edited_copy(valid: bytes, path: Path, script: str) -> bytes:
    """A sound SpendSense file with a script applied: SQLite columns take any value."""
    path.write_bytes(valid)
    connection = sqlite3.connect(path)
    # Only a writer that knows a collation can declare a column with it; a reader may not.
    connection.create_collation(UNKNOWN_COLLATION, lambda a, b: (a > b) - (a < b))
    with connection:
        connection.executescript(script)
    connection.close()
    return path.read_bytes()


def utf16_copy(valid: bytes, path: Path) -> bytes:
    """The same rows in a file whose text is stored as UTF-16."""
    source = path.with_name(f"{path.name}.source")
    source.write_bytes(valid)
    reader = sqlite3.connect(source)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA encoding = 'UTF-16le'")
    with connection:
        connection.executescript(SCHEMA_SQL)
        for table in ("users", "accounts", "transactions", "budgets"):
            rows = reader.execute(f"SELECT * FROM {table}").fetchall()
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    connection.close()
    reader.close()
    source.unlink()
    return path.read_bytes()


UNKNOWN_COLLATION = "spendsense_writers_order"
# A view whose rows never end: any query that reads it to the end never returns.
ENDLESS_VIEW = """
DROP TABLE {table};
CREATE VIEW {table} AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
SELECT 't-' || i AS transaction_id, 'u-1' AS user_id, 'a-1-chk' AS account_id,
       date('2025-01-01', '+' || (i % 60) || ' days') AS date, -i AS amount_cents,
       'c' || (i % 7) AS category, 'm' AS merchant, 'name' AS name, 'checking' AS type,
       i AS balance_cents, i AS monthly_limit_cents
FROM n;
"""
# transactions rebuilt without NOT NULL, and with `category` declared as given.
LOOSE_TRANSACTIONS = """
CREATE TABLE loose(transaction_id TEXT, user_id TEXT, account_id TEXT, date TEXT,
                   amount_cents INTEGER, category {category}, merchant TEXT);
INSERT INTO loose SELECT * FROM transactions;
DROP TABLE transactions;
ALTER TABLE loose RENAME TO transactions;
"""
LATEST = "WHERE transaction_id = 't-16'"  # u-1's latest transaction, in every window
INT64_MAX = 2**63 - 1


def _edit(table_column: str, script: str) -> tuple[str, str]:
    return script, f"bad_value:{table_column}"


# Files that must never be served, by kind: (SQL applied to the hand database, or a builder
# of the file's bytes) and the reason the loader gives.
_HOSTILE: dict[str, tuple[str | Callable[[bytes, Path], bytes], str]] = {
    "empty": (lambda valid, path: b"", "not_sqlite"),
    "not-sqlite": (lambda valid, path: b"PK\x03\x04 a zip, not a database" * 10, "not_sqlite"),
    "html-page": (lambda valid, path: PORTAL_PAGE, "not_sqlite"),
    "cut-in-half": (lambda valid, path: valid[: len(valid) // 2], "truncated"),
    "cut-at-a-page": (lambda valid, path: valid[:PAGE_BYTES], "truncated"),
    "garbage-pages": (
        lambda valid, path: (
            valid[:PAGE_BYTES] + random.Random(14).randbytes(len(valid) - PAGE_BYTES)
        ),
        "corrupt",
    ),
    "other-schema": (lambda valid, path: other_schema_database(path), "schema_mismatch:users"),
    "utf16-text": (utf16_copy, "not_utf8"),
    # A view or a virtual table passes for a table in PRAGMA table_info.
    "endless-view-transactions": (
        ENDLESS_VIEW.format(table="transactions"),
        "not_a_table:transactions",
    ),
    "endless-view-users": (ENDLESS_VIEW.format(table="users"), "not_a_table:users"),
    "virtual-budgets": (
        "DROP TABLE budgets;"
        " CREATE VIRTUAL TABLE budgets USING fts4(user_id, category, monthly_limit_cents);",
        "not_a_table:budgets",
    ),
    "unknown-collation": (
        LOOSE_TRANSACTIONS.format(category=f"TEXT COLLATE {UNKNOWN_COLLATION}"),
        "unreadable:transactions",
    ),
    # Rows that read as SQLite but not as the API's values: answers would be 500s,
    # floats or silently missing rows.
    "impossible-date": _edit("transactions.date", "UPDATE transactions SET date = '2099-99-99'"),
    "day-first-date": _edit("transactions.date", "UPDATE transactions SET date = '15/03/2025'"),
    "before-year-2": _edit("transactions.date", "UPDATE transactions SET date = '0001-01-01'"),
    "text-cents": _edit("accounts.balance_cents", "UPDATE accounts SET balance_cents = 'lots'"),
    "unknown-account-type": _edit("accounts.type", "UPDATE accounts SET type = 'crypto'"),
    "blob-category": _edit(
        "transactions.category", f"UPDATE transactions SET category = X'00ff' {LATEST}"
    ),
    "invalid-utf8-category": _edit(
        "transactions.category",
        f"UPDATE transactions SET category = CAST(X'64696ec3' AS TEXT) {LATEST}",
    ),
    "null-category": _edit(
        "transactions.category",
        LOOSE_TRANSACTIONS.format(category="TEXT")
        + f"UPDATE transactions SET category = NULL {LATEST};",
    ),
    "blob-budget-category": _edit(
        "budgets.category",
        "UPDATE budgets SET category = X'64696e696e67' WHERE category = 'dining'",
    ),
    "number-category": _edit(
        "transactions.category",
        LOOSE_TRANSACTIONS.format(category="") + f"UPDATE transactions SET category = 7 {LATEST};",
    ),
    "balances-past-2^63": _edit(
        "accounts.balance_cents",
        f"UPDATE accounts SET balance_cents = {INT64_MAX} WHERE user_id = 'u-1'",
    ),
    "amount-of-minus-2^63": _edit(
        "transactions.amount_cents",
        f"UPDATE transactions SET amount_cents = {-INT64_MAX - 1} {LATEST}",
    ),
    "negative-debt": _edit(
        "accounts.balance_cents", "UPDATE accounts SET balance_cents = -1 WHERE type = 'loan'"
    ),
    "negative-budget": _edit(
        "budgets.monthly_limit_cents", "UPDATE budgets SET monthly_limit_cents = -1"
    ),
    "amounts-adding-past-the-bound": (
        f"UPDATE transactions SET amount_cents = -{MAX_TOTAL_CENTS // 2} WHERE user_id = 'u-1'",
        "too_large_sum:transactions.amount_cents",
    ),
}
# The kinds, for the tests that parametrize over them.
BROKEN_KINDS = tuple(_HOSTILE)


def broken_copy(valid: bytes, tmp_path: Path, name: str) -> tuple[bytes, str]:
    """A file of kind `name` made from the hand database's bytes, and the reason it is refused."""
    make, reason = _HOSTILE[name]
    path = tmp_path / f"{name}.db"
    if isinstance(make, str):
        return edited_copy(valid, path, make), reason
    return make(valid, path), reason
