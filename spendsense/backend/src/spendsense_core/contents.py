"""What a SpendSense database must hold before any answer is computed from it.

`first_flaw` names the first thing wrong, as a reason safe to log (never a value):

| reason | what is wrong |
|---|---|
| `corrupt` | `PRAGMA quick_check` fails |
| `not_utf8` | the file stores its text as UTF-16 |
| `schema_mismatch:<table>` | the table, or a column it needs, is missing |
| `not_a_table:<table>` | a view or a virtual table under the table's name |
| `bad_value:<table>.<column>` | a value not of its column's kind (schema.COLUMN_KINDS) or range |
| `too_large_sum:<table>.<column>` | cents whose absolute values add up past MAX_TOTAL_CENTS |
| `unreadable:<table>` | SQLite cannot run the insights' queries on it (an unknown collation) |

Each table is read in a few full scans; the caller bounds their time (deadlines.time_bound).
Only SQL that SQLite 3.7.17 (Lambda's Python 3.11 image) runs, and no deterministic functions.
"""

from __future__ import annotations

import sqlite3

from spendsense_core.deadlines import is_interrupted
from spendsense_core.schema import (
    ASSET_TYPES,
    CENTS,
    COLUMN_KINDS,
    DAY,
    LIABILITY_TYPES,
    MAX_TOTAL_CENTS,
    MIN_DAY,
    TEXT,
)

__all__ = ["first_flaw"]


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# Each kind's test, true of a value that is not of it. `< ''` is never true of text: it makes
# SQLite resolve the column's collation now, so an unknown one fails here, not in a request.
# date() gives a text back unchanged only when it is a real YYYY-MM-DD day.
_NOT_OF_KIND = {
    TEXT: "typeof({c}) <> 'text' OR {c} < ''",
    DAY: "typeof({c}) <> 'text' OR {c} IS NOT date({c}) OR {c} < :min_day",
    CENTS: "typeof({c}) <> 'integer' OR {c} NOT BETWEEN -:max_cents AND :max_cents",
}
# Ranges the schema sets beyond a column's kind.
_OUT_OF_RANGE = {
    ("accounts", "type"): f"type NOT IN ({_listed((*ASSET_TYPES, *LIABILITY_TYPES))})",
    # A liability's balance is what is owed.
    ("accounts", "balance_cents"): f"type IN ({_listed(LIABILITY_TYPES)}) AND balance_cents < 0",
    ("budgets", "monthly_limit_cents"): "monthly_limit_cents < 0",
}
_PARAMETERS = {"min_day": MIN_DAY.isoformat(), "max_cents": MAX_TOTAL_CENTS}
_UTF8_TEST = "spendsense_invalid_utf8"


def first_flaw(connection: sqlite3.Connection) -> str | None:
    """The first reason the database cannot be served, or None. Raises sqlite3.Error when
    SQLite cannot read the file (or the caller's deadline stopped a statement)."""
    (verdict,) = connection.execute("PRAGMA quick_check(1)").fetchone()
    if verdict != "ok":
        return "corrupt"
    (encoding,) = connection.execute("PRAGMA encoding").fetchone()
    if encoding != "UTF-8":
        return "not_utf8"
    for check in (_schema_flaw, _value_flaw):
        for table, kinds in COLUMN_KINDS.items():
            try:
                flaw = check(connection, table, kinds)
            except sqlite3.OperationalError as error:
                if is_interrupted(error):
                    raise
                flaw = f"unreadable:{table}"
            if flaw is not None:
                return flaw
    return None


def _schema_flaw(connection: sqlite3.Connection, table: str, kinds: dict[str, str]) -> str | None:
    # SQLite's names are case-insensitive (ASCII only), and CREATE statements are stored with
    # their first keywords upper-cased: "CREATE TABLE", "CREATE VIRTUAL TABLE", "CREATE VIEW".
    found = connection.execute(
        "SELECT type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND lower(name) = ?",
        (table,),
    ).fetchall()
    if not found:
        return f"schema_mismatch:{table}"
    if [(kind, (sql or "")[:12]) for kind, sql in found] != [("table", "CREATE TABLE")]:
        return f"not_a_table:{table}"
    columns = {str(row[1]).lower() for row in connection.execute(f'PRAGMA table_info("{table}")')}
    if not set(kinds) <= columns:
        return f"schema_mismatch:{table}"
    return None


def _value_flaw(connection: sqlite3.Connection, table: str, kinds: dict[str, str]) -> str | None:
    """Every value of its kind and range, cents that cannot add up past MAX_TOTAL_CENTS, and
    text that is UTF-8: a full scan each."""
    tests = " ".join(
        f"WHEN {_NOT_OF_KIND[kind].format(c=column)}"
        + (f" OR {_OUT_OF_RANGE[table, column]}" if (table, column) in _OUT_OF_RANGE else "")
        + f" THEN '{column}'"
        for column, kind in kinds.items()
    )
    row = connection.execute(
        f'SELECT bad FROM (SELECT CASE {tests} END AS bad FROM "{table}")'
        " WHERE bad IS NOT NULL LIMIT 1",
        _PARAMETERS,
    ).fetchone()
    if row is not None:
        return f"bad_value:{table}.{row[0]}"
    for column in (column for column, kind in kinds.items() if kind == CENTS):
        # Every value is within +-MAX_TOTAL_CENTS now, so abs() cannot overflow; total() adds
        # as a float, exact until the sum passes 2^53 and never below the bound once past it.
        (total,) = connection.execute(f'SELECT total(abs("{column}")) FROM "{table}"').fetchone()
        if total > MAX_TOTAL_CENTS:
            return f"too_large_sum:{table}.{column}"
    texts = [column for column, kind in kinds.items() if kind == TEXT]
    return _utf8_flaw(connection, table, texts)


def _utf8_flaw(connection: sqlite3.Connection, table: str, columns: list[str]) -> str | None:
    """Text that Python cannot decode (it raises on the first such row a query returns).

    SQLite stores text as given; only Python decodes it, once a row per scan: the row's texts
    joined by a space, which ends any multi-byte sequence, so the row decodes exactly when
    every one of its texts does. The column is looked for only once a row fails."""
    connection.create_function(_UTF8_TEST, 1, _is_invalid_utf8)
    try:
        joined = " || ' ' || ".join(f'"{column}"' for column in columns)
        if not _has_invalid(connection, table, joined):
            return None
        for column in columns:
            if _has_invalid(connection, table, f'"{column}"'):
                return f"bad_value:{table}.{column}"
        return f"bad_value:{table}"
    finally:
        connection.create_function(_UTF8_TEST, 1, None)


def _has_invalid(connection: sqlite3.Connection, table: str, text: str) -> bool:
    query = f'SELECT 1 FROM "{table}" WHERE {_UTF8_TEST}(CAST({text} AS BLOB)) LIMIT 1'
    return connection.execute(query).fetchone() is not None


def _is_invalid_utf8(value: bytes | None) -> bool:
    try:
        (value or b"").decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
