"""Fixtures for the local API: an in-process server on a free port, and a fresh authorizer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import make_server

from iris import aws
from iris.parameters import forget_secure_parameters


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


@pytest.fixture(autouse=True)
def fresh_authorizer() -> Iterator[None]:
    """The authorizer keeps the keys it read: start each test as a new container."""
    forget_secure_parameters()
    aws.forget_clients()
    yield
    forget_secure_parameters()
    aws.forget_clients()
