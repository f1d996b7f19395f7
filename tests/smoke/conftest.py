"""The APIs the smoke test runs against: the real local API on loopback (IRIS, or SpendSense in
either shape over its sample database; open, or with API keys), the same with a deliberately
broken function, and servers that never answer."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_api.apps import IRIS, SPENDSENSE, build_api
from local_api.gateway import LambdaHandler
from tests.local_api.support import spendsense_container, write_sample_database

# A '$' and a '%' in the key: neither make nor a shell may mangle it on its way to the tool.
API_KEY = "smoke-key-$9f2c%41e7d0b8"
OTHER_KEY = "smoke-key-2-0c5d7b1e9a34"
ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")

Serve = Callable[[object], str]
Breakage = Callable[[LambdaHandler], LambdaHandler]


@pytest.fixture
def serve_api(serve: Serve) -> Callable[..., str]:
    """The local API (`python -m local_api`'s app) around the real handler; `breakage` wraps
    the function, as a bad release would."""

    def start(breakage: Breakage | None = None, origins: tuple[str, ...] = ORIGINS) -> str:
        api = build_api(IRIS, origins, os.environ)
        if breakage is not None:
            api.functions["api"] = breakage(api.functions["api"])
        return serve(api)

    return start


@pytest.fixture
def api_url(serve_api: Callable[..., str]) -> str:
    return serve_api()


@pytest.fixture
def keyed_api_url(serve_api: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The local API with the real authorizer, as a stack with `apiKeys` set (keys set
    directly are read on every call, so no container state needs resetting)."""
    monkeypatch.setenv("IRIS_API_KEYS", f"{OTHER_KEY},{API_KEY}")
    return serve_api()


@pytest.fixture(scope="session")
def spendsense_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_database(tmp_path_factory.mktemp("spendsense"))


@pytest.fixture
def serve_spendsense(serve: Serve, spendsense_database: Path) -> Iterator[Callable[..., str]]:
    """SpendSense's local API in a shape, over the sample database (with API keys when
    `keyed`); `breakage` wraps every function, as a bad release would."""
    with contextlib.ExitStack() as containers:

        def start(deployment: str, breakage: Breakage | None = None, keyed: bool = False) -> str:
            keys = f"{OTHER_KEY},{API_KEY}" if keyed else None
            containers.enter_context(spendsense_container(spendsense_database, keys=keys))
            api = build_api(SPENDSENSE, ORIGINS, os.environ, deployment)
            if breakage is not None:
                api.functions.update({key: breakage(f) for key, f in api.functions.items()})
            return serve(api)

        yield start


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog does) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def refused_url() -> str:
    """A loopback port nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    return f"http://127.0.0.1:{port}"
