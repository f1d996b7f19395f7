"""Fixtures shared by every test: no test may reach AWS or OpenAI; `serve` runs a WSGI app on
loopback for the tests that talk HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server

from iris.logs import forget_secrets

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
}
_IRIS_ENV = (
    "IRIS_LLM_PROVIDER",
    "OPENAI_MODEL",
    "OPENAI_MAX_TOKENS",
    "OPENAI_TIMEOUT_S",
    "OPENAI_MAX_RETRIES",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_API_KEY_PARAM",
    "IRIS_API_KEYS",
    "IRIS_API_KEYS_PARAM",
    "IRIS_CACHE_TABLE",
    "IRIS_CACHE_TTL_HOURS",
    "IRIS_MAX_BODY_BYTES",
    "IRIS_LOG_LEVEL",
    "IRIS_REQUIRE_AUTHORIZER",
    "IRIS_LLM_DAILY_TOKEN_BUDGET",
    "IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER",
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials and a clean IRIS environment for every test, and no secret left
    registered for log redaction by the test before (it would mask other tests' records)."""
    for name in _IRIS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in _AWS_ENV.items():
        monkeypatch.setenv(name, value)
    yield
    forget_secrets()


@pytest.fixture
def serve() -> Iterator[Callable[[object], str]]:
    """Start a WSGI app on 127.0.0.1:<free port> in a thread; returns its base URL."""
    running = []

    def start(app: object) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        # A short poll interval: shutdown() waits up to one interval.
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
