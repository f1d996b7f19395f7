"""A raw HTTP client, a recording Lambda handler and SpendSense's sample database and
containers for the local API's tests.

http.client rather than urllib: the tests send repeated headers, OPTIONS preflights and
chunked bodies, and read repeated response headers.
"""

from __future__ import annotations

import http.client
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from iris_infra.apps.iris import routes as iris_routes
from local_api import PROJECT_DIR
from local_api.apps import SPENDSENSE, SPENDSENSE_S3_VARIABLES
from local_api.cors import CorsPolicy
from local_api.gateway import LambdaHandler, LocalHttpApi
from spendsense_core.database import forget_container_database

ALLOWED_ORIGIN = "http://localhost:5173"
OTHER_ORIGIN = "https://evil.example"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    chunked: bool = False,
) -> Reply:
    """Send one request exactly as given (repeated headers stay repeated)."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            if chunked:
                connection.putheader("Transfer-Encoding", "chunked")
            else:
                connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if body is not None:
            if chunked:
                half = len(body) // 2
                for chunk in (body[:half], body[half:], b""):
                    connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            else:
                connection.send(body)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


@dataclass
class Recorder:
    """A Lambda handler that records each event, then answers with `handler` (or 200 "{}")."""

    handler: LambdaHandler | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        if self.handler is None:
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": "{}",
            }
        return self.handler(event, context)


def iris_api(function: LambdaHandler, origins: Sequence[str]) -> LocalHttpApi:
    """The local API on IRIS's route table with `function` as its one function."""
    return LocalHttpApi(
        iris_routes.ROUTES,
        {iris_routes.API_FUNCTION: function},
        CorsPolicy(allow_origins=tuple(origins)),
    )


def read_line(stream, timeout_s: float) -> str:
    """One line from a subprocess pipe, or "" when none comes in time."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0] if lines else ""


def read_banner(stream, timeout_s: float) -> str:
    """The local API's start-up line from its stdout, after any log lines its functions write
    at INIT (SpendSense's log the database load); "" when none comes in time."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        line = read_line(stream, left)
        if not line or " local API on http" in line:
            return line
    return ""


def write_sample_database(directory: Path) -> Path:
    """SpendSense's sample database, as `make spendsense-db` writes it."""
    path = directory / "spendsense.db"
    subprocess.run(
        [sys.executable, str(PROJECT_DIR / "spendsense" / "scripts" / "make_db.py"), "--out", path],
        check=True,
        capture_output=True,
    )
    return path


# The modules whose import is a SpendSense function's INIT, in import order: what the entry
# points share (it reads the environment), the app, and the entry points.
SPENDSENSE_INIT_MODULES = (
    "spendsense_core.lambda_entry",
    "api.main",
    *SPENDSENSE.entry_points("split").values(),
)


@contextmanager
def spendsense_container(database: Path, *, keys: str | None = None) -> Iterator[None]:
    """SpendSense's functions as fresh containers over `database` (with API keys, and what the
    stack adds beside them, when `keys` are given): each entry point that an earlier test
    imported is imported again (one process holds every function)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DB_PATH", str(database))
        for name in ("SPENDSENSE_API_KEYS", "SPENDSENSE_REQUIRE_AUTHORIZER"):
            patch.delenv(name, raising=False)
        if keys is not None:
            patch.setenv("SPENDSENSE_API_KEYS", keys)
            for name, value in SPENDSENSE.function_environment(os.environ).items():
                patch.setenv(name, value)
        for name in SPENDSENSE_S3_VARIABLES:
            patch.delenv(name, raising=False)
        forget_container_database()
        for name in SPENDSENSE_INIT_MODULES:
            if name in sys.modules:
                importlib.reload(sys.modules[name])
        try:
            yield
        finally:
            forget_container_database()
