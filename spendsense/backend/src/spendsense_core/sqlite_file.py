"""Open a SQLite file read-only, once it has shown it is a whole SpendSense database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from spendsense_core import deadlines
from spendsense_core.contents import first_flaw
from spendsense_core.deadlines import is_interrupted, time_bound

__all__ = ["WAL_FIX", "LoadError", "check_header", "check_upload", "open_read_only"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
# Header bytes 18 and 19 (write and read versions) are 2 in WAL mode, 1 in rollback mode.
_WAL_MODE = 2
WAL_FIX = "sqlite3 {path} 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;'"


class LoadError(Exception):
    """The database could not be had; `reason` is a short code, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_header(path: Path) -> bytes:
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
    return header


def check_upload(path: Path) -> None:
    """What a stack may upload, checked as a function opens its copy: the main file alone (the
    stack uploads nothing beside it), immutable, within deadlines.UPLOAD_CHECK_DEADLINE_S.

    A WAL-mode file whose `-wal` beside it holds anything is refused (`wal_not_checkpointed`;
    WAL_FIX checkpoints it and makes it a rollback-mode file): the newest rows may be there, and
    a function, given the file alone, would answer as if they did not exist.
    """
    header = check_header(path)
    wal = path.with_name(f"{path.name}-wal")
    if _WAL_MODE in header[18:20] and wal.is_file() and wal.stat().st_size > 0:
        raise LoadError("wal_not_checkpointed")
    open_read_only(path, immutable=True, deadline_s=deadlines.UPLOAD_CHECK_DEADLINE_S).close()


def open_read_only(
    path: Path, *, immutable: bool, deadline_s: float | None = None
) -> sqlite3.Connection:
    """A read-only connection to `path`, after the header, `PRAGMA quick_check`, the schema and
    every value (contents.py), all within `deadline_s` (deadlines.CHECK_DEADLINE_S unless given).

    `immutable` tells SQLite the file never changes (no locks, no change checks, no `-wal`
    read): right for the container's own copy, wrong for a local file that `make
    spendsense-db` may rewrite. The connection may be used from any thread; its user
    serializes access.
    """
    check_header(path)
    uri = path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as error:
        raise LoadError(type(error).__name__) from None
    try:
        seconds = deadlines.CHECK_DEADLINE_S if deadline_s is None else deadline_s
        with time_bound(connection, seconds):
            flaw = first_flaw(connection)
    except sqlite3.Error as error:
        flaw = "check_deadline" if is_interrupted(error) else "corrupt"
    except BaseException:
        connection.close()
        raise
    if flaw is not None:
        connection.close()
        raise LoadError(flaw)
    return connection
