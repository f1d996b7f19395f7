"""Open a SQLite file read-only, once it has shown it is a whole SpendSense database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from spendsense_core.schema import ASSET_TYPES, LIABILITY_TYPES, MIN_DAY, TABLE_COLUMNS

__all__ = ["LoadError", "check_header", "open_read_only"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100

_ACCOUNT_TYPES = ", ".join(f"'{kind}'" for kind in (*ASSET_TYPES, *LIABILITY_TYPES))
# A row the answers cannot compute with, per table: a day that is not a real YYYY-MM-DD (SQLite's
# date() gives it back unchanged only then) or before MIN_DAY, cents that are not integers, an
# account type the contract does not name. SQLite's columns take any value whatever their type.
_BAD_ROWS = {
    "transactions": (
        "SELECT 1 FROM transactions WHERE date IS NOT date(date) OR date < ?"
        " OR typeof(amount_cents) <> 'integer' LIMIT 1",
        (MIN_DAY.isoformat(),),
    ),
    "accounts": (
        "SELECT 1 FROM accounts WHERE typeof(balance_cents) <> 'integer'"
        f" OR type NOT IN ({_ACCOUNT_TYPES}) LIMIT 1",
        (),
    ),
    "budgets": ("SELECT 1 FROM budgets WHERE typeof(monthly_limit_cents) <> 'integer' LIMIT 1", ()),
}


class LoadError(Exception):
    """The database could not be had; `reason` is a short code, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_header(path: Path) -> None:
    """A SQLite header, and a file as long as the header says (a cut download is shorter)."""
    try:
        with path.open("rb") as file:
            header = file.read(_HEADER_BYTES)
    except OSError as error:
        raise LoadError(type(error).__name__) from None
    if len(header) < _HEADER_BYTES or not header.startswith(SQLITE_MAGIC):
        raise LoadError("not_sqlite")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    page_count = int.from_bytes(header[28:32], "big")
    # The page count is valid only when "version-valid-for" equals the change counter.
    if header[92:96] == header[24:28] and path.stat().st_size < page_size * page_count:
        raise LoadError("truncated")


def open_read_only(path: Path, *, immutable: bool) -> sqlite3.Connection:
    """A read-only connection to `path`, after the header, `PRAGMA quick_check` and the schema.

    `immutable` tells SQLite the file never changes (no locks, no change checks): right for
    the container's own copy, wrong for a local file that `make spendsense-db` may rewrite.
    The connection may be used from any thread; its user serializes access.
    """
    check_header(path)
    uri = path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as error:
        raise LoadError(type(error).__name__) from None
    try:
        _check_contents(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _check_contents(connection: sqlite3.Connection) -> None:
    try:
        (verdict,) = connection.execute("PRAGMA quick_check(1)").fetchone()
        if verdict != "ok":
            raise LoadError("corrupt")
        for table, needed in TABLE_COLUMNS.items():
            columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            if not needed <= columns:
                raise LoadError(f"schema_mismatch:{table}")
        for table, (query, parameters) in _BAD_ROWS.items():
            if connection.execute(query, parameters).fetchone() is not None:
                raise LoadError(f"bad_values:{table}")
    except sqlite3.DatabaseError:
        raise LoadError("corrupt") from None
