"""`databaseFile`, checked before anything is declared, as a function will open its copy: every
hostile file is refused in one line that names it and what is wrong, within seconds, and a
WAL-mode file with the command that fixes it."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from iris_infra.apps.spendsense.config import PROGRAM_DIR
from spendsense_core.schema import SCHEMA_SQL
from spendsense_core.sqlite_file import LoadError, open_read_only
from stack_check.check import PROJECT_DIR
from tests.spendsense.conftest import BROKEN_KINDS, broken_copy, write_hand_database
from tests.spendsense_infra.conftest import spendsense_config
from tests.spendsense_infra.test_config import refuse

# What the one problem line says for each of the loader's reasons.
SAID = {
    "not_sqlite": "is not an SQLite database",
    "truncated": "is shorter than its SQLite header says",
    "corrupt": "fails SQLite's quick_check",
    "not_utf8": "stores its text as UTF-16",
    "schema_mismatch": "is not a SpendSense database: its users table",
    "not_a_table": "has a view or a virtual table named {table} where the insights need a table",
    "bad_value": "has a value in {where} that is not ",
    "too_large_sum": "has {where} values whose absolute values add up past 9,007,199,254,740,991",
    "unreadable": "has a {table} table that SQLite cannot query",
}
# make check as CI runs it, with a deadline far above what it needs: a check that hangs fails.
MAKE_CHECK_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def hand_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_hand_database(tmp_path_factory.mktemp("hand") / "hand.db").read_bytes()


@pytest.mark.parametrize("name", BROKEN_KINDS)
def test_a_hostile_database_is_refused_in_one_line_naming_it(
    name: str, hand_bytes: bytes, tmp_path: Path
) -> None:
    content, reason = broken_copy(hand_bytes, tmp_path, name)
    path = tmp_path / "upload.db"
    path.write_bytes(content)
    code, _, where = reason.partition(":")

    (problem,) = refuse(path).problems

    assert problem.startswith(f"databaseFile={str(path)!r} ")
    assert SAID[code].format(table=where.partition(".")[0], where=where) in problem
    assert "\n" not in problem


def write_wal_database(path: Path) -> sqlite3.Connection:
    """A WAL-mode SpendSense file whose rows are all still in its -wal: the writer, left
    open, has not checkpointed them (closing it would)."""
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.executescript(SCHEMA_SQL)
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with writer:
        writer.execute("INSERT INTO users VALUES ('u-1', 'Uma')")
        writer.execute(
            "INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("t-1", "u-1", "a-1", "2025-03-15", -500, "dining", "Diner"),
        )
    return writer


def users_in(path: Path, *, immutable: bool) -> int:
    connection = open_read_only(path, immutable=immutable)
    (users,) = connection.execute("SELECT COUNT(*) FROM users").fetchone()
    connection.close()
    return users


def test_a_wal_mode_file_is_refused_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    writer = write_wal_database(path)
    # What the stack would upload is the main file alone: no rows in it yet.
    uploaded = tmp_path / "uploaded" / "wal.db"
    uploaded.parent.mkdir()
    shutil.copy(path, uploaded)
    local, deployed = users_in(path, immutable=False), users_in(uploaded, immutable=True)

    (problem,) = refuse(path).problems
    command = problem.partition("move them into the file first with `")[2].rstrip("`")
    writer.close()
    # The command, as the sqlite3 shell would run it.
    statements = command.removeprefix(f"sqlite3 {path} ").strip("'")
    fixer = sqlite3.connect(path)
    fixer.executescript(statements)
    fixer.close()

    assert (local, deployed) == (1, 0)
    assert problem.startswith(
        f"databaseFile={str(path)!r} is in WAL mode and its newest rows may still be in wal.db-wal"
    )
    assert command == (
        f"sqlite3 {path} 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;'"
    )
    assert spendsense_config(path).database_path == path
    assert users_in(path, immutable=True) == 1


def test_a_wal_mode_file_whose_rows_are_all_in_it_is_accepted(tmp_path: Path) -> None:
    """Closing the writer checkpoints every row into the main file and removes the -wal: the
    file alone, as a function opens it, holds them all."""
    path = tmp_path / "wal.db"
    write_wal_database(path).close()

    config = spendsense_config(path)

    assert not Path(f"{path}-wal").exists()
    assert config.database_path == path
    assert users_in(path, immutable=True) == 1


def test_a_file_checked_past_its_deadline_is_refused(
    hand_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadline already past, checked at every instruction: the first statement stops. make
    check has a deadline of its own, tighter than a function's."""
    path = tmp_path / "slow.db"
    path.write_bytes(hand_bytes)
    monkeypatch.setattr("spendsense_core.deadlines._PROGRESS_EVERY", 1)
    monkeypatch.setattr("spendsense_core.deadlines.UPLOAD_CHECK_DEADLINE_S", 0.0)

    (problem,) = refuse(path).problems
    open_read_only(path, immutable=True).close()  # a function's checks still have their time
    monkeypatch.setattr("spendsense_core.deadlines.CHECK_DEADLINE_S", 0.0)
    with pytest.raises(LoadError) as raised:
        open_read_only(path, immutable=True)

    assert raised.value.reason == "check_deadline"
    assert problem.startswith(f"databaseFile={str(path)!r} cannot be checked within ")
    assert "half of what a function has for it at a cold start" in problem


def test_make_check_refuses_an_endless_view_in_one_line(hand_bytes: bytes, tmp_path: Path) -> None:
    """`make check PROGRAM=spendsense` as CI runs it: before, it never finished on this file."""
    content, _ = broken_copy(hand_bytes, tmp_path, "endless-view-transactions")
    database = tmp_path / "endless.db"
    database.write_bytes(content)
    project = tmp_path / "spendsense"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROGRAM_DIR / name, project / name)
    stack_file = project / "Pulumi.hostile.yaml"
    stack_file.write_text(f"config:\n  spendsense-infra:databaseFile: {database}\n")

    done = subprocess.run(
        [sys.executable, "-m", "stack_check", "--program", "spendsense", "--stack", "hostile"]
        + ["--project-dir", str(project)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=MAKE_CHECK_TIMEOUT_S,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["# stack hostile (Pulumi.hostile.yaml)", "1 problem(s); nothing planned:"]
    (problem,) = lines[2:]
    assert problem.startswith(f"Pulumi.hostile.yaml: databaseFile={str(database)!r} has a view")
    assert "named transactions" in problem
