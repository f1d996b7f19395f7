"""Time bounds on SQLite statements: a query that runs away (a view that recurses without end,
a file too large to check in time) is stopped at its deadline, never waited for.

SQLite's progress handler, called every few thousand virtual-machine instructions, returns true
once the deadline has passed; the statement then fails with SQLITE_INTERRUPT (`is_interrupted`).
The checks of a file then refuse it (`check_deadline`), and a request answers 503.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "CHECK_DEADLINE_S",
    "QUERY_DEADLINE_S",
    "UPLOAD_CHECK_DEADLINE_S",
    "is_interrupted",
    "time_bound",
]

# Every check of a file together (quick_check, the schema, every value): at INIT it follows the
# download (s3_copy.DOWNLOAD_DEADLINE_S, 5 s) inside Lambda's 10 s.
CHECK_DEADLINE_S = 2.0
# What `make check` allows the same checks of a file the stack would upload: half, so that a
# file it passes is checked in time by a function whose CPU share is slower than the machine
# that ran make check (a 1024 MB function gets 0.58 of a vCPU once INIT's burst is over, when
# a request retries a failed load).
UPLOAD_CHECK_DEADLINE_S = CHECK_DEADLINE_S / 2
# Every query of one request together: the insights' queries take milliseconds.
QUERY_DEADLINE_S = 1.0
# Virtual-machine instructions between two calls of the progress handler: a clock read every
# few microseconds.
_PROGRESS_EVERY = 1000


@contextmanager
def time_bound(connection: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Every statement run on `connection` inside fails with SQLITE_INTERRUPT once `seconds`
    have passed, however much work it has left."""
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_EVERY)
    try:
        yield
    finally:
        connection.set_progress_handler(None, _PROGRESS_EVERY)


def is_interrupted(error: sqlite3.Error) -> bool:
    """Whether `error` is a statement stopped by `time_bound`."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT
