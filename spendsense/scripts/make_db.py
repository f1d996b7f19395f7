"""Write SpendSense's sample database: the same bytes on every run (a fixed seed, no clock).

Four users over six months (2025-01-01 to 2025-06-30): accounts of every type, salaries,
rent, bills, everyday spending on debit and credit, a few refunds, and budgets.

    PYTHONPATH=spendsense/backend/src python spendsense/scripts/make_db.py \
        [--out spendsense/data/spendsense.db]

Standard library only; the schema comes from the backend's task root (spendsense_core), on the
path as above or installed with the project (.venv/bin/python needs no PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from spendsense_core.schema import SCHEMA_SQL

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "spendsense.db"
SEED = 14
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 6, 30)


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    salary_cents: int
    rent_cents: int
    has_loan: bool
    budgets: dict[str, int]


PEOPLE = (
    Person("u-001", "Ada Lovelace", 520_000, 165_000, True,
           {"dining": 30_000, "groceries": 60_000, "shopping": 25_000, "transport": 12_000}),
    Person("u-002", "Ben Okafor", 410_000, 130_000, True,
           {"dining": 15_000, "entertainment": 8_000, "groceries": 45_000}),
    Person("u-003", "Chen Wei", 690_000, 210_000, False,
           {"groceries": 70_000, "travel": 50_000, "utilities": 20_000}),
    Person("u-004", "Dana Cruz", 300_000, 95_000, False, {}),
)  # fmt: skip

# category -> (merchants, chance per day, smallest and largest amount in cents)
EVERYDAY = {
    "groceries": (("FreshMart", "Corner Grocer", "Green Basket"), 0.35, 1_500, 9_500),
    "dining": (("Noodle House", "Cafe Lumen", "Taco Stand", "Bistro Nine"), 0.30, 900, 6_500),
    "transport": (("Metro Transit", "CityBike", "RideShare"), 0.40, 250, 3_500),
    "entertainment": (("Cinema Royal", "StreamBox", "Bowling Alley"), 0.08, 1_200, 5_000),
    "shopping": (("BookNook", "Hardware Hub", "Outfitters"), 0.10, 1_500, 15_000),
    "health": (("City Pharmacy", "Dental Care"), 0.04, 1_000, 20_000),
}
# Spending that goes on the credit card rather than the checking account.
ON_CREDIT = frozenset({"dining", "shopping", "entertainment"})


@dataclass(frozen=True)
class Row:
    user_id: str
    account_id: str
    day: date
    amount_cents: int
    category: str
    merchant: str


def days() -> Iterator[date]:
    day = FIRST_DAY
    while day <= LAST_DAY:
        yield day
        day += timedelta(days=1)


def account_id(person: Person, kind: str) -> str:
    return f"a-{person.user_id.removeprefix('u-')}-{kind}"


def account_types(person: Person) -> tuple[str, ...]:
    kinds = ("checking", "savings", "investment", "credit")
    return (*kinds, "loan") if person.has_loan else kinds


def transactions(person: Person, rng: random.Random) -> Iterator[Row]:
    checking, credit = account_id(person, "checking"), account_id(person, "credit")
    for day in days():
        if day.day == 1:
            yield Row(person.user_id, checking, day, -person.rent_cents, "housing", "Landlord")
        if day.day == 5:
            bill = -rng.randint(6_000, 18_000)
            yield Row(person.user_id, checking, day, bill, "utilities", "City Power & Water")
        if day.day == 25:
            yield Row(person.user_id, checking, day, person.salary_cents, "income", "Employer")
        for category, (merchants, chance, low, high) in EVERYDAY.items():
            if rng.random() < chance:
                account = credit if category in ON_CREDIT else checking
                amount = -rng.randint(low, high)
                yield Row(person.user_id, account, day, amount, category, rng.choice(merchants))
        if rng.random() < 0.01:
            refund = rng.randint(1_000, 5_000)
            yield Row(person.user_id, credit, day, refund, "shopping", "Outfitters")
        if day.day == 12 and rng.random() < 0.5:
            trip = -rng.randint(20_000, 90_000)
            yield Row(person.user_id, credit, day, trip, "travel", "SkyAir")


def balances(person: Person, rng: random.Random) -> dict[str, int]:
    ranges = {
        "checking": (50_000, 800_000),
        "savings": (100_000, 3_000_000),
        "investment": (0, 8_000_000),
        "credit": (0, 250_000),
        "loan": (500_000, 2_500_000),
    }
    return {kind: rng.randint(*ranges[kind]) for kind in account_types(person)}


def fill(connection: sqlite3.Connection) -> None:
    rng = random.Random(SEED)
    connection.executescript(SCHEMA_SQL)
    number = 0
    for person in PEOPLE:
        connection.execute("INSERT INTO users VALUES (?, ?)", (person.user_id, person.name))
        connection.executemany(
            "INSERT INTO accounts VALUES (?, ?, ?, ?)",
            [
                (account_id(person, kind), person.user_id, kind, cents)
                for kind, cents in balances(person, rng).items()
            ],
        )
        connection.executemany(
            "INSERT INTO budgets VALUES (?, ?, ?)",
            [(person.user_id, category, cents) for category, cents in person.budgets.items()],
        )
        for row in transactions(person, rng):
            number += 1
            connection.execute(
                "INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    f"t-{number:06d}",
                    row.user_id,
                    row.account_id,
                    row.day.isoformat(),
                    row.amount_cents,
                    row.category,
                    row.merchant,
                ),
            )


def write_database(out: Path) -> None:
    """Build the database next to `out`, then put it in place in one rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    building = out.with_name(f"{out.name}.building")
    building.unlink(missing_ok=True)
    connection = sqlite3.connect(building)
    try:
        with connection:
            fill(connection)
    finally:
        connection.close()
    os.replace(building, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the file to write")
    args = parser.parse_args(argv)
    write_database(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
