"""The container's database: one read-only SQLite connection, from DB_PATH or from S3.

Local runs name the file in `DB_PATH`. Deployed, `SPENDSENSE_DB_BUCKET`, `SPENDSENSE_DB_KEY` and
`SPENDSENSE_DB_VERSION` name one object version, downloaded at INIT to the container's `/tmp`
(`prepare`). A failed load is logged and tried again by the next request that needs the data;
while it cannot be had, requests get DataUnavailable (503), never a crash. Each request's
queries together have QUERY_DEADLINE_S: one that runs past it is stopped, and is a 503 too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spendsense_core import s3_copy
from spendsense_core.deadlines import QUERY_DEADLINE_S, is_interrupted, time_bound
from spendsense_core.errors import DataUnavailable
from spendsense_core.sqlite_file import LoadError, open_read_only

__all__ = [
    "Database",
    "LocalFile",
    "NotConfigured",
    "S3Version",
    "container_database",
    "forget_container_database",
    "source_from_environment",
]

logger = logging.getLogger("spendsense.data")

S3_VARIABLES = ("SPENDSENSE_DB_BUCKET", "SPENDSENSE_DB_KEY", "SPENDSENSE_DB_VERSION")


@dataclass(frozen=True)
class LocalFile:
    path: Path

    def describe(self) -> dict[str, str]:
        return {"source": "file", "path": str(self.path)}


@dataclass(frozen=True)
class S3Version:
    bucket: str
    key: str
    version: str

    def describe(self) -> dict[str, str]:
        return {"source": "s3", "bucket": self.bucket, "key": self.key, "version": self.version}

    def file_name(self) -> str:
        """A name of its own per object version; version ids are not all file-name safe."""
        digest = hashlib.sha256(f"{self.bucket}\0{self.key}\0{self.version}".encode()).hexdigest()
        return f"spendsense-{digest[:16]}.db"


@dataclass(frozen=True)
class NotConfigured:
    """The environment names no database, or names it ambiguously; `reason` says how."""

    reason: str

    def describe(self) -> dict[str, str]:
        return {"source": "none", "configuration": self.reason}


DataSource = LocalFile | S3Version | NotConfigured


def source_from_environment(environ: Mapping[str, str]) -> DataSource:
    s3 = {name: environ.get(name, "") for name in S3_VARIABLES}
    path = environ.get("DB_PATH", "")
    if any(s3.values()):
        if path:
            return NotConfigured("set DB_PATH (local runs) or SPENDSENSE_DB_* (deployed), not both")
        missing = [name for name, value in s3.items() if not value]
        if missing:
            return NotConfigured(
                f"{', '.join(missing)} unset; all of {', '.join(S3_VARIABLES)} needed"
            )
        return S3Version(*s3.values())
    if path:
        return LocalFile(Path(path))
    return NotConfigured("neither DB_PATH nor SPENDSENSE_DB_BUCKET/KEY/VERSION is set")


class Database:
    """One read-only connection, loaded once and shared by every request (one at a time)."""

    def __init__(self, source: DataSource, download_dir: Path | None = None) -> None:
        self.source = source
        self._download_dir = download_dir or Path(tempfile.gettempdir())
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def prepare(self) -> bool:
        """Load now (at INIT) if not loaded yet; a failure is logged, not raised."""
        with self._lock:
            return self._load_once()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, loading it first if needed, for queries that have QUERY_DEADLINE_S
        in all; raises DataUnavailable if it cannot be loaded or a query runs past that."""
        with self._lock:
            if not self._load_once():
                raise DataUnavailable("The SpendSense database is not available; try again later.")
            assert self._connection is not None
            try:
                with time_bound(self._connection, QUERY_DEADLINE_S):
                    yield self._connection
            except sqlite3.OperationalError as error:
                if not is_interrupted(error):
                    raise
                deadline = {"deadlineS": QUERY_DEADLINE_S}
                logger.warning("query deadline", extra={**self.source.describe(), **deadline})
                raise DataUnavailable(
                    "The SpendSense database took too long to answer; try again later."
                ) from None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _load_once(self) -> bool:
        if self._connection is not None:
            return True
        started = time.monotonic()
        try:
            self._connection = self._open()
        except LoadError as error:
            logger.warning(
                "database unavailable", extra={**self.source.describe(), "reason": error.reason}
            )
            return False
        elapsed_ms = round((time.monotonic() - started) * 1000)
        logger.info("database loaded", extra={**self.source.describe(), "loadMs": elapsed_ms})
        return True

    def _open(self) -> sqlite3.Connection:
        source = self.source
        if isinstance(source, NotConfigured):
            raise LoadError("not_configured")
        if isinstance(source, LocalFile):
            return open_read_only(source.path, immutable=False)
        target = self._download_dir / source.file_name()
        s3_copy.download_version(source.bucket, source.key, source.version, target)
        try:
            # The container's own copy never changes: SQLite may skip locks and change checks.
            return open_read_only(target, immutable=True)
        except LoadError:
            target.unlink(missing_ok=True)
            raise


_container_lock = threading.Lock()
_container: Database | None = None


def container_database() -> Database:
    """The container's Database, configured from the environment on first use."""
    global _container
    with _container_lock:
        if _container is None:
            _container = Database(source_from_environment(os.environ))
        return _container


def forget_container_database() -> None:
    """Close and drop it, as a new container starts without one (tests)."""
    global _container
    with _container_lock:
        if _container is not None:
            _container.close()
        _container = None
    s3_copy.forget_client()
