"""The data layer: which database the environment names, and that only a whole, sound
SpendSense database is ever opened, read-only, once per container."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from spendsense_core.database import (
    Database,
    LocalFile,
    NotConfigured,
    S3Version,
    container_database,
    forget_container_database,
    source_from_environment,
)
from spendsense_core.errors import DataUnavailable
from tests.spendsense.conftest import (
    BROKEN_KINDS,
    PAGE_BYTES,
    broken_copy,
    write_hand_database,
)

S3_ENV = {
    "SPENDSENSE_DB_BUCKET": "spendsense-data",
    "SPENDSENSE_DB_KEY": "spendsense.db",
    "SPENDSENSE_DB_VERSION": "v1",
}


@pytest.mark.parametrize(
    ("environ", "source"),
    [
        ({"DB_PATH": "/data/x.db"}, LocalFile(Path("/data/x.db"))),
        (S3_ENV, S3Version("spendsense-data", "spendsense.db", "v1")),
    ],
)
def test_the_environment_names_the_database(environ: dict[str, str], source: object) -> None:
    assert source_from_environment(environ) == source


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, ["DB_PATH", "SPENDSENSE_DB_BUCKET"]),
        ({"DB_PATH": ""}, ["DB_PATH"]),
        ({**S3_ENV, "SPENDSENSE_DB_VERSION": ""}, ["SPENDSENSE_DB_VERSION"]),
        ({"SPENDSENSE_DB_BUCKET": "b"}, ["SPENDSENSE_DB_KEY", "SPENDSENSE_DB_VERSION"]),
        ({**S3_ENV, "DB_PATH": "/data/x.db"}, ["DB_PATH", "SPENDSENSE_DB_*", "not both"]),
    ],
)
def test_an_environment_without_one_clear_database_is_not_configured(
    environ: dict[str, str], named: list[str]
) -> None:
    source = source_from_environment(environ)

    assert isinstance(source, NotConfigured)
    for name in named:
        assert name in source.reason


def test_a_local_file_opens_read_only(hand_database: Path) -> None:
    database = Database(LocalFile(hand_database))

    assert database.prepare() is True
    with database.connection() as connection:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            connection.execute("DELETE FROM users")
    database.close()


def test_the_connection_is_opened_once_and_shared(hand_database: Path) -> None:
    database = Database(LocalFile(hand_database))
    database.prepare()

    with database.connection() as first:
        pass
    database.prepare()
    with database.connection() as second:
        pass
    database.close()

    assert first is second


def test_a_failed_load_is_tried_again_by_the_next_request(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    database = Database(LocalFile(path))

    assert database.prepare() is False
    with pytest.raises(DataUnavailable):
        with database.connection():
            pass
    write_hand_database(path)
    with database.connection() as connection:
        (users,) = connection.execute("SELECT COUNT(*) FROM users").fetchone()
    database.close()

    assert users == 3


@pytest.mark.parametrize("name", BROKEN_KINDS)
def test_a_file_that_is_not_a_whole_spendsense_database_is_refused(
    name: str, hand_database: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content, reason = broken_copy(hand_database.read_bytes(), tmp_path, name)
    path = tmp_path / f"{name}.db"
    path.write_bytes(content)

    with caplog.at_level("WARNING", logger="spendsense.data"):
        loaded = Database(LocalFile(path)).prepare()

    assert loaded is False
    (record,) = caplog.records
    assert (record.message, record.reason, record.path) == (  # type: ignore[attr-defined]
        "database unavailable",
        reason,
        str(path),
    )


def test_the_hand_database_is_several_pages(hand_database: Path) -> None:
    """The truncation cases above cut a file of more than one page."""
    assert hand_database.stat().st_size > 2 * PAGE_BYTES


def test_the_container_has_one_database_from_its_environment(
    monkeypatch: pytest.MonkeyPatch, hand_database: Path
) -> None:
    monkeypatch.setenv("DB_PATH", str(hand_database))
    forget_container_database()

    assert container_database() is container_database()
    assert container_database().source == LocalFile(hand_database)
