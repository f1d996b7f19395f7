"""Databases made to break the answers: each is refused when loaded (INIT, or the request that
retries the load) and answered 503, or served as the API documents; a query that runs away is
stopped at its deadline and answered 503, never waited for. Both shapes: the FastAPI app
(`handler.handler`) and an insight's own app (`insights.<name>.handler`)."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

import api.main
from api.main import INSIGHTS, create_app
from spendsense_core.database import Database, LocalFile
from spendsense_core.deadlines import QUERY_DEADLINE_S, is_interrupted, time_bound
from spendsense_core.insight_app import insight_app
from spendsense_core.insights import net_worth
from spendsense_core.schema import COLUMN_KINDS, MAX_TOTAL_CENTS, SCHEMA_SQL
from spendsense_core.sqlite_file import LoadError, open_read_only
from tests.events import LambdaContext, http_api_v2_event
from tests.spendsense.conftest import broken_copy, write_hand_database

API = "handler.handler"
NET_WORTH = "insights.net_worth.handler"
SLACK_S = 1.5
ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"


def runaway(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
    """An insight whose query never ends."""
    connection.execute(ENDLESS).fetchone()
    raise AssertionError("an endless query ended")


def test_a_statement_past_its_deadline_is_stopped() -> None:
    connection = sqlite3.connect(":memory:")
    started = time.monotonic()
    with time_bound(connection, 0.2), pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute(ENDLESS).fetchone()
    elapsed_s = time.monotonic() - started

    assert is_interrupted(raised.value)
    assert elapsed_s < 0.2 + SLACK_S
    # Outside the bound, statements run as long as they need.
    assert connection.execute("SELECT 1").fetchone() == (1,)
    connection.close()


def runaway_client(shape: str, database: Database, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """net-worth answered by `runaway`, through the FastAPI app or the insight's own app."""
    if shape == "api":
        monkeypatch.setattr(api.main, "INSIGHTS", ((net_worth.PATH, runaway),))
        return TestClient(api.main.create_app(database))
    return TestClient(insight_app(net_worth.PATH, runaway, database))


@pytest.mark.parametrize("shape", ["api", "insight"])
def test_a_query_that_runs_away_is_a_json_503_and_the_next_request_is_served(
    shape: str,
    hand_database: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = Database(LocalFile(hand_database))
    client = runaway_client(shape, database, monkeypatch)

    started = time.monotonic()
    with caplog.at_level("WARNING", logger="spendsense.data"):
        answer = client.get(net_worth.PATH, params={"user_id": "u-1"})
    elapsed_s = time.monotonic() - started
    with database.connection() as connection:
        (users,) = connection.execute("SELECT COUNT(*) FROM users").fetchone()
    database.close()

    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "data_unavailable"
    assert elapsed_s < QUERY_DEADLINE_S + SLACK_S
    (record,) = caplog.records
    assert (record.message, record.deadlineS) == ("query deadline", QUERY_DEADLINE_S)  # type: ignore[attr-defined]
    assert users == 3


@pytest.mark.parametrize("command", [API, NET_WORTH])
@pytest.mark.parametrize("name", ["endless-view-transactions", "endless-view-users"])
def test_an_endless_view_is_refused_at_init_and_by_every_request(
    command: str,
    name: str,
    start_entry: Callable[..., Any],
    hand_database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before, INIT never ended on the first file, and every route on the second."""
    content, reason = broken_copy(hand_database.read_bytes(), tmp_path, name)
    path = tmp_path / "hostile.db"
    path.write_bytes(content)

    handler = start_entry(command, DB_PATH=str(path))
    route = "/api/stats" if command == API else net_worth.PATH
    answer = handler(http_api_v2_event("GET", route, query="user_id=u-1"), LambdaContext())
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "data_unavailable"
    failures = [line for line in lines if line["message"] == "database unavailable"]
    assert [line["reason"] for line in failures] == [reason, reason]  # INIT, then the request


@pytest.mark.parametrize("command", [API, NET_WORTH])
def test_a_query_that_runs_away_in_a_function_is_a_json_503(
    command: str,
    start_entry: Callable[..., Any],
    hand_database: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(net_worth, "compute", runaway)
    # The API's fresh import below takes the runaway into its routes: they are put back after.
    monkeypatch.setattr(api.main, "INSIGHTS", api.main.INSIGHTS)
    handler = start_entry(command, DB_PATH=str(hand_database))

    started = time.monotonic()
    answer = handler(http_api_v2_event("GET", net_worth.PATH, query="user_id=u-1"), LambdaContext())
    elapsed_s = time.monotonic() - started

    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"]["code"] == "data_unavailable"
    assert elapsed_s < QUERY_DEADLINE_S + SLACK_S


# Any one value anywhere: refused when loaded, naming its column, or served as the API documents.

# The schema without NOT NULL or keys: any value may go anywhere, as in a file of any schema.
LOOSE_SCHEMA = (
    SCHEMA_SQL.replace(" NOT NULL", "")
    .replace(", PRIMARY KEY (user_id, category)", "")
    .replace(" PRIMARY KEY", "")
)
ROW_COUNTS = {"users": 3, "accounts": 8, "transactions": 17, "budgets": 3}
ANY_VALUE = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-MAX_TOTAL_CENTS, MAX_TOTAL_CENTS),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.sampled_from(["2025-03-01", "2025-02-30", "0001-06-01", "checking", "loan", "u-1", ""]),
)
# Bytes stored as text, as a writer that never checks its encoding leaves them.
AS_TEXT = st.binary(min_size=1, max_size=8).map(lambda raw: ("text", raw))
PLACEMENTS = st.tuples(
    st.sampled_from([(table, column) for table, kinds in COLUMN_KINDS.items() for column in kinds]),
    st.one_of(ANY_VALUE.map(lambda value: ("value", value)), AS_TEXT),
    st.booleans(),  # every row, or one
    st.integers(0, 16),
)


@pytest.fixture(scope="module")
def loose_database(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The hand database's rows under LOOSE_SCHEMA."""
    directory = tmp_path_factory.mktemp("loose")
    source = sqlite3.connect(write_hand_database(directory / "hand.db"))
    path = directory / "loose.db"
    loose = sqlite3.connect(path)
    with loose:
        loose.executescript(LOOSE_SCHEMA)
        for table in COLUMN_KINDS:
            rows = source.execute(f"SELECT * FROM {table}").fetchall()
            loose.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    source.close()
    loose.close()
    return path.read_bytes()


def numbers_are_integers(answer: Any, key: str = "") -> bool:
    if isinstance(answer, dict):
        return all(numbers_are_integers(value, name) for name, value in answer.items())
    if isinstance(answer, list):
        return all(numbers_are_integers(item, key) for item in answer)
    if isinstance(answer, float):
        return key == "share"
    return True


@settings(derandomize=True, database=None, deadline=None, max_examples=40)
@given(placement=PLACEMENTS)
def test_any_value_anywhere_is_refused_by_its_column_or_served_within_the_contract(
    loose_database: bytes, placement: tuple[tuple[str, str], tuple[str, Any], bool, int]
) -> None:
    (table, column), (how, value), every_row, row = placement
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "edited.db"
        path.write_bytes(loose_database)
        writer = sqlite3.connect(path)
        stored = "CAST(? AS TEXT)" if how == "text" else "?"
        where = "" if every_row else f" WHERE rowid = {row % ROW_COUNTS[table] + 1}"
        with writer:
            writer.execute(f"UPDATE {table} SET {column} = {stored}{where}", (value,))
        writer.close()
        database = Database(LocalFile(path))
        loaded = database.prepare()
        reason = None if loaded else _reason_of(path)
        answers = _every_answer(database) if loaded else []
        database.close()

    if not loaded:
        assert reason in (f"bad_value:{table}.{column}", f"too_large_sum:{table}.{column}")
        return
    for status, body in answers:
        assert status in (200, 404), body
        assert numbers_are_integers(body), body
        for item in body.get("categories", body.get("budgets", body.get("suggestions", []))):
            assert isinstance(item["category"], str)
        assert all(isinstance(name, str) for name in body.get("byCategory", {}))


def _reason_of(path: Path) -> str:
    try:
        open_read_only(path, immutable=False).close()
    except LoadError as error:
        return error.reason
    raise AssertionError("refused once, then loaded")


def _every_answer(database: Database) -> list[tuple[int, Any]]:
    """Every route for two users, through the API app and through each insight's own app."""
    whole = TestClient(create_app(database))
    answers = [whole.get("/api/stats")]
    for path, compute in INSIGHTS:
        alone = TestClient(insight_app(path, compute, database))
        for user in ("u-1", "u-3"):
            answers += [client.get(path, params={"user_id": user}) for client in (whole, alone)]
    return [(answer.status_code, answer.json()) for answer in answers]
