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
from spendsense_core.schema import SCHEMA_SQL
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


def edited_copy(valid: bytes, path: Path, statement: str) -> bytes:
    """A sound SpendSense file with one statement applied: SQLite columns take any value."""
    path.write_bytes(valid)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(statement)
    connection.close()
    return path.read_bytes()


# The kinds `broken_copies` makes, for the tests that parametrize over them.
BROKEN_KINDS = (
    "empty",
    "not-sqlite",
    "html-page",
    "cut-in-half",
    "cut-at-a-page",
    "garbage-pages",
    "other-schema",
    "impossible-date",
    "day-first-date",
    "before-year-2",
    "text-cents",
    "unknown-account-type",
)


def broken_copies(valid: bytes, tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    """Files that must never be served, each with the reason the loader gives."""
    garbage = random.Random(14).randbytes(len(valid) - PAGE_BYTES)
    return {
        "empty": (b"", "not_sqlite"),
        "not-sqlite": (b"PK\x03\x04 a zip, not a database" * 10, "not_sqlite"),
        "html-page": (PORTAL_PAGE, "not_sqlite"),
        "cut-in-half": (valid[: len(valid) // 2], "truncated"),
        "cut-at-a-page": (valid[:PAGE_BYTES], "truncated"),
        "garbage-pages": (valid[:PAGE_BYTES] + garbage, "corrupt"),
        "other-schema": (other_schema_database(tmp_path / "other.db"), "schema_mismatch:users"),
        # Rows that read as SQLite but not as the contract's values: answers would be 500s,
        # floats or silently missing rows.
        **{
            name: (edited_copy(valid, tmp_path / f"{name}.db", statement), f"bad_values:{table}")
            for name, table, statement in (
                ("impossible-date", "transactions", "UPDATE transactions SET date = '2099-99-99'"),
                ("day-first-date", "transactions", "UPDATE transactions SET date = '15/03/2025'"),
                ("before-year-2", "transactions", "UPDATE transactions SET date = '0001-01-01'"),
                ("text-cents", "accounts", "UPDATE accounts SET balance_cents = 'lots'"),
                ("unknown-account-type", "accounts", "UPDATE accounts SET type = 'crypto'"),
            )
        },
    }
