"""The framework-free app of one insight answers exactly as the FastAPI app does on that route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import INSIGHTS, create_app
from spendsense_core.database import Database, LocalFile
from spendsense_core.insight_app import insight_app
from tests.spendsense.conftest import write_hand_database

QUERIES = [
    "user_id=u-1",
    "user_id=u-1&as_of=2025-03-09",
    "user_id=u-2",
    "user_id=u-3&as_of=2025-02-01",
    "as_of=2025-03-15",
    "",
    "user_id=",
    "user_id=u-404",
    "user_id=u-1&as_of=2025-02-30",
    "user_id=u-1&as_of=2025-3-1",
    "user_id=u-404&user_id=u-1",  # the last value wins in both
    "user_id=u%2D1&as_of=2025%2D03%2D15",
    "user_id=%C3%A9",
    "user_id=u-1&as_of=2025-03-15&unknown=1",
]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path = write_hand_database(tmp_path_factory.mktemp("insight-app") / "hand.db")
    database = Database(LocalFile(path))
    yield database
    database.close()


@pytest.fixture(scope="module")
def full_app(database: Database) -> TestClient:
    return TestClient(create_app(database))


def same_answer(one: Any, other: Any) -> None:
    assert one.status_code == other.status_code, (one.text, other.text)
    assert one.headers["content-type"] == other.headers["content-type"] == "application/json"
    if one.status_code == 200:
        assert one.json() == other.json()
    else:
        assert one.json()["error"]["code"] == other.json()["error"]["code"]


@pytest.mark.parametrize(("path", "insight"), INSIGHTS, ids=[path for path, _ in INSIGHTS])
@pytest.mark.parametrize("query", QUERIES)
def test_an_insight_answers_as_the_full_app_does(
    full_app: TestClient, database: Database, path: str, insight: Any, query: str
) -> None:
    single = TestClient(insight_app(path, insight, database))
    url = f"{path}?{query}" if query else path

    same_answer(single.get(url), full_app.get(url))


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/insights/spending-analysis", 404, "not_found"),
        ("GET", "/health", 404, "not_found"),
        ("GET", "/api/insights/net-worth/", 404, "not_found"),
        ("POST", "/api/insights/net-worth", 405, "method_not_allowed"),
        ("HEAD", "/api/insights/net-worth", 405, "method_not_allowed"),
    ],
)
def test_one_insights_app_serves_its_route_only(
    database: Database, method: str, path: str, status: int, code: str
) -> None:
    (net_worth,) = [insight for route, insight in INSIGHTS if route.endswith("/net-worth")]
    single = TestClient(insight_app("/api/insights/net-worth", net_worth, database))

    answer = single.request(method, path, params={"user_id": "u-1"})

    assert answer.status_code == status
    if method != "HEAD":
        assert answer.json()["error"]["code"] == code
    if status == 405:
        assert answer.headers["allow"] == "GET"


def test_unavailable_data_and_a_crash_are_json(tmp_path: Path) -> None:
    def crash(connection: Any, user_id: str, as_of: date) -> dict[str, Any]:
        raise RuntimeError("detail")

    missing = Database(LocalFile(tmp_path / "absent.db"))
    unavailable = TestClient(insight_app("/x", crash, missing)).get("/x?user_id=u-1")
    hand = Database(LocalFile(write_hand_database(tmp_path / "hand.db")))
    crashed = TestClient(insight_app("/x", crash, hand)).get("/x?user_id=u-1")
    hand.close()

    assert (unavailable.status_code, unavailable.json()["error"]["code"]) == (
        503,
        "data_unavailable",
    )
    assert (crashed.status_code, crashed.json()["error"]["code"]) == (500, "internal_error")
    assert "detail" not in crashed.text
