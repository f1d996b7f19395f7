"""Every error of the API in its JSON shape, through the app: 400, 404, 405, 500, 503."""

from __future__ import annotations

import importlib
import logging
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.main
from api.main import create_app
from spendsense_core.database import Database, LocalFile, NotConfigured
from spendsense_core.queries import parse_insight_query
from tests.spendsense.test_routes import INSIGHT_ROUTES


def assert_error(answer: Any, status: int, code: str) -> dict[str, str]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in answer.text
    return body["error"]


@pytest.mark.parametrize("path", INSIGHT_ROUTES)
@pytest.mark.parametrize("query", ["", "?as_of=2025-03-15", "?user_id=", "?user_id=&as_of=x"])
def test_an_insight_without_user_id_is_invalid_query(
    client: TestClient, path: str, query: str
) -> None:
    error = assert_error(client.get(path + query), 400, "invalid_query")

    assert "user_id" in error["message"]


@pytest.mark.parametrize("path", INSIGHT_ROUTES)
@pytest.mark.parametrize(
    "as_of",
    [
        "2025-02-29",
        "2025-13-01",
        "2025-3-15",
        "15/03/2025",
        "2025-03-15T00:00",
        "20250315",
        "",
        "２０２５-03-15",
        # Real days whose windows would start before the calendar does (year 1).
        "0001-01-01",
        "0001-12-31",
    ],
)
def test_an_as_of_that_is_not_a_calendar_day_is_invalid_query(
    client: TestClient, path: str, as_of: str
) -> None:
    error = assert_error(
        client.get(path, params={"user_id": "u-1", "as_of": as_of}), 400, "invalid_query"
    )

    assert "as_of" in error["message"]


@pytest.mark.parametrize("path", INSIGHT_ROUTES)
def test_the_earliest_as_of_is_answered(client: TestClient, path: str) -> None:
    """From 0002-01-01 every window (three months back at most) starts within the calendar."""
    answer = client.get(path, params={"user_id": "u-1", "as_of": "0002-01-01"})

    assert answer.status_code == 200, answer.text


def test_a_leap_day_is_a_calendar_day(client: TestClient) -> None:
    answer = client.get(
        "/api/insights/weekly-recap", params={"user_id": "u-1", "as_of": "2024-02-29"}
    )

    assert (answer.status_code, answer.json()["from"]) == (200, "2024-02-23")


def test_a_user_id_longer_than_allowed_is_invalid_query(client: TestClient) -> None:
    answer = client.get("/api/insights/net-worth", params={"user_id": "u" * 129})

    assert_error(answer, 400, "invalid_query")


def test_the_query_parser_is_the_same_without_fastapi() -> None:
    """What an entry point without FastAPI gets for the cases FastAPI checks first."""
    assert parse_insight_query("u-1", "2025-03-15").as_of == date(2025, 3, 15)
    for user_id in (None, ""):
        with pytest.raises(Exception, match="user_id") as raised:
            parse_insight_query(user_id, None)
        assert raised.value.code == "invalid_query"  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", INSIGHT_ROUTES)
def test_an_unknown_user_is_user_not_found(client: TestClient, path: str) -> None:
    error = assert_error(client.get(path, params={"user_id": "u-404"}), 404, "user_not_found")

    assert "u-404" in error["message"]


@pytest.mark.parametrize(
    "path",
    ["/", "/nope", "/api", "/api/insights", "/api/insights/net-worth/", "/docs", "/openapi.json"],
)
def test_an_unknown_path_is_not_found(client: TestClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/health", "/api/stats", *INSIGHT_ROUTES])
def test_another_method_is_method_not_allowed(client: TestClient, method: str, path: str) -> None:
    answer = client.request(method, path, params={"user_id": "u-1"})

    assert_error(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "database",
    [
        pytest.param(lambda tmp: Database(LocalFile(tmp / "absent.db")), id="missing-file"),
        pytest.param(lambda tmp: Database(NotConfigured("nothing set")), id="not-configured"),
    ],
)
@pytest.mark.parametrize("path", ["/api/stats", *INSIGHT_ROUTES])
def test_data_that_cannot_be_had_is_data_unavailable(
    client_for: Callable[[Database], TestClient],
    tmp_path: Path,
    database: Callable[[Path], Database],
    path: str,
) -> None:
    unavailable = client_for(database(tmp_path))

    assert_error(unavailable.get(path, params={"user_id": "u-1"}), 503, "data_unavailable")
    assert unavailable.get("/health").status_code == 200


def test_a_bad_query_is_answered_before_the_data_is_needed(
    client_for: Callable[[Database], TestClient], tmp_path: Path
) -> None:
    unavailable = client_for(Database(LocalFile(tmp_path / "absent.db")))

    assert_error(unavailable.get("/api/insights/net-worth"), 400, "invalid_query")


def test_a_crash_is_a_json_500_without_its_details(
    monkeypatch: pytest.MonkeyPatch,
    hand_database: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash(connection: sqlite3.Connection, user_id: str, as_of: date) -> dict[str, Any]:
        raise RuntimeError("secret detail at /var/task/x.py")

    monkeypatch.setattr(api.main, "INSIGHTS", (("/api/insights/net-worth", crash),))
    database = Database(LocalFile(hand_database))
    client = TestClient(create_app(database))

    with caplog.at_level(logging.ERROR, logger="spendsense.app"):
        answer = client.get("/api/insights/net-worth", params={"user_id": "u-1"})
    database.close()

    assert_error(answer, 500, "internal_error")
    assert "secret detail" not in answer.text
    (record,) = caplog.records
    assert record.exc_info is not None and record.path == "/api/insights/net-worth"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "origins"),
    [("", ()), (" , ", ()), ("http://localhost:5173", ("http://localhost:5173",)),
     ("http://a.test, http://b.test", ("http://a.test", "http://b.test"))],
)  # fmt: skip
def test_cors_origins_are_a_comma_separated_list(value: str, origins: tuple[str, ...]) -> None:
    assert api.main.cors_origins({"CORS_ORIGINS": value}) == origins


def test_cors_is_added_only_when_origins_are_configured(hand_database: Path) -> None:
    database = Database(LocalFile(hand_database))
    preflight = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"}
    with_cors = TestClient(create_app(database, ("http://localhost:5173",)))
    without = TestClient(create_app(database))

    allowed = with_cors.options("/api/stats", headers=preflight)
    simple = with_cors.get("/api/stats", headers={"Origin": "http://localhost:5173"})
    other = with_cors.get("/api/stats", headers={"Origin": "http://evil.test"})
    bare = without.get("/api/stats", headers={"Origin": "http://localhost:5173"})
    database.close()

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert simple.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in bare.headers
    assert_error(without.options("/api/stats", headers=preflight), 405, "method_not_allowed")


def test_the_module_level_app_reads_its_environment(
    monkeypatch: pytest.MonkeyPatch, hand_database: Path
) -> None:
    from spendsense_core.database import forget_container_database

    monkeypatch.setenv("DB_PATH", str(hand_database))
    monkeypatch.setenv("CORS_ORIGINS", "http://localhost:5173")
    forget_container_database()
    try:
        module = importlib.reload(api.main)
        client = TestClient(module.app)
        stats = client.get("/api/stats", headers={"Origin": "http://localhost:5173"})
    finally:
        monkeypatch.delenv("DB_PATH")
        monkeypatch.delenv("CORS_ORIGINS")
        forget_container_database()
        importlib.reload(api.main)

    assert stats.json()["users"] == 3
    assert stats.headers["access-control-allow-origin"] == "http://localhost:5173"
