"""The Lambda entry points the handler kit serves, as the handler and event-fuzz tests see them.

IRIS's `lambda_handler.handler` (Flask through a2wsgi), SpendSense's `handler.handler` (the
FastAPI app) and one insight's `insights.net_worth.handler` (the framework-free app): each
started as a new container (its modules imported again), each with a request it answers 200, a
request whose work a test can make raise, and the routes its events should often hit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambda_kit import HttpHandler
from spendsense_core.database import Database
from tests.spendsense.entry_points import clear_environment, start_entry_point

NET_WORTH = "/api/insights/net-worth"
# u-1 of tests/spendsense/conftest.py's hand-built database.
NET_WORTH_OF_U1 = {
    "userId": "u-1",
    "assetsCents": 1_750_000,
    "liabilitiesCents": 475_000,
    "netWorthCents": 1_275_000,
}
# Raised by a broken route; it must never reach an answer.
FAILURE_DETAIL = "secret-detail"


@dataclass(frozen=True)
class Backend:
    name: str
    start: Callable[[pytest.MonkeyPatch, Path], HttpHandler]
    # (path, query) answered 200 with `ok_body`.
    ok_request: tuple[str, str]
    ok_body: dict[str, Any]
    # (path, query) that raises once `break_app` has run, and the app's log line about it.
    broken_request: tuple[str, str]
    break_app: Callable[[pytest.MonkeyPatch], None]
    failure_message: str
    # (method, path, a method the answer's Allow header names).
    wrong_method: tuple[str, str, str]
    # (method, path, query) of the app's own routes, for events that reach its views.
    routes: tuple[tuple[str, str, str], ...]
    # The logger the kit writes this backend's lines with.
    logger_name: str


def backend_id(backend: Backend) -> str:
    """The test id of a case on this backend."""
    return backend.name


def _start_iris(patch: pytest.MonkeyPatch, database: Path) -> HttpHandler:
    import lambda_handler
    import server
    from tests.backend.conftest import new_container

    patch.setenv("IRIS_LLM_PROVIDER", "offline")
    new_container()
    importlib.reload(server)
    return importlib.reload(lambda_handler).handler


def _spendsense_start(command: str) -> Callable[[pytest.MonkeyPatch, Path], HttpHandler]:
    def start(patch: pytest.MonkeyPatch, database: Path) -> HttpHandler:
        clear_environment(patch)
        patch.setenv("DB_PATH", str(database))
        return start_entry_point(command)

    return start


def _break_iris(patch: pytest.MonkeyPatch) -> None:
    """/api/iris/health reads the settings; make that raise."""
    import iris.health

    def failing() -> Any:
        raise RuntimeError(FAILURE_DETAIL)

    patch.setattr(iris.health, "current_settings", failing)


def _break_database(patch: pytest.MonkeyPatch) -> None:
    """Every data route opens the database's connection; make that raise."""

    def failing(self: Database) -> Any:
        raise RuntimeError(FAILURE_DETAIL)

    patch.setattr(Database, "connection", failing)


IRIS = Backend(
    name="iris",
    start=_start_iris,
    ok_request=("/health", ""),
    ok_body={"status": "ok"},
    broken_request=("/api/iris/health", ""),
    break_app=_break_iris,
    failure_message="unhandled error",
    wrong_method=("POST", "/health", "GET"),
    routes=(
        ("GET", "/health", ""),
        ("GET", "/api/iris/health", ""),
        ("POST", "/api/iris/analyze", ""),
    ),
    logger_name="iris",
)
SPENDSENSE_API = Backend(
    name="spendsense-api",
    start=_spendsense_start("handler.handler"),
    ok_request=(NET_WORTH, "user_id=u-1"),
    ok_body=NET_WORTH_OF_U1,
    broken_request=(NET_WORTH, "user_id=u-1"),
    break_app=_break_database,
    failure_message="request failed",
    wrong_method=("POST", "/health", "GET"),
    routes=(
        ("GET", "/health", ""),
        ("GET", "/api/stats", ""),
        ("GET", NET_WORTH, "user_id=u-1"),
        ("GET", "/api/insights/weekly-recap", "user_id=u-1&as_of=2025-03-15"),
    ),
    logger_name="spendsense",
)
SPENDSENSE_INSIGHT = Backend(
    name="spendsense-insight",
    start=_spendsense_start("insights.net_worth.handler"),
    ok_request=(NET_WORTH, "user_id=u-1"),
    ok_body=NET_WORTH_OF_U1,
    broken_request=(NET_WORTH, "user_id=u-1"),
    break_app=_break_database,
    failure_message="request failed",
    wrong_method=("POST", NET_WORTH, "GET"),
    routes=(
        ("GET", NET_WORTH, "user_id=u-1"),
        ("GET", NET_WORTH, "user_id=u-3&as_of=2025-01-05"),
        ("GET", NET_WORTH, "user_id=nobody"),
    ),
    logger_name="spendsense",
)
BACKENDS = (IRIS, SPENDSENSE_API, SPENDSENSE_INSIGHT)
