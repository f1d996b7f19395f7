"""Fixtures for the analyze path: a loopback OpenAI API, moto SSM/DynamoDB, fresh containers;
and for the handler kit's tests, every backend it serves (tests/backend/backends.py).

The OpenAI API is mocked at the HTTP level: a real HTTP server on 127.0.0.1 answers with the
shapes api.openai.com sends (tests/backend/openai_stub.py).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from moto import mock_aws
from pytest_httpserver import HTTPServer

import lambda_handler
import server
from iris.logs import forget_secrets
from lambda_kit import HttpHandler
from lambda_kit.aws import forget_clients
from lambda_kit.parameters import forget_secure_parameters
from spendsense_core.database import forget_container_database
from tests.backend.backends import BACKENDS, IRIS, Backend, backend_id
from tests.backend.openai_stub import MODEL_ALIAS, OPENAI_KEY, OpenAIStub
from tests.events import LambdaContext, http_api_v2_event
from tests.spendsense.conftest import write_hand_database
from tests.spendsense.entry_points import clear_environment, logger_restored

ANALYZE = "/api/iris/analyze"
JSON_TYPE = {"Content-Type": "application/json"}
REGION = "eu-west-1"

KEY_PARAMETER = "/iris/test/openai-api-key"
CACHE_TABLE = "iris-test-analysis-cache"


@pytest.fixture(scope="session")
def loopback_server() -> Iterator[HTTPServer]:
    # Threaded: a reply that sleeps past the client's timeout must not hold up the next test.
    http = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    http.start()
    yield http
    http.clear()
    http.stop()


@pytest.fixture
def openai_api(loopback_server: HTTPServer) -> OpenAIStub:
    loopback_server.clear()
    stub = OpenAIStub(base_url=loopback_server.url_for("/v1"))
    loopback_server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        stub.handle
    )
    return stub


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    raw_body: str
    headers: dict[str, str]
    request_id: str


@dataclass
class Container:
    """One Lambda container: the real handler over the app built from the environment."""

    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    app: Flask

    def invoke(self, event: dict[str, Any], context: LambdaContext | None = None) -> Answer:
        """Send the event; `context` defaults to a fresh one with 29 s to run."""
        context = context or LambdaContext()
        answer = self.handler(event, context)
        assert answer["headers"]["content-type"] == "application/json", answer
        assert answer["headers"]["x-request-id"] == context.aws_request_id
        return Answer(
            status=answer["statusCode"],
            body=json.loads(answer["body"]),
            raw_body=answer["body"],
            headers=answer["headers"],
            request_id=context.aws_request_id,
        )

    def analyze(
        self,
        payload: Any,
        *,
        event: Callable[..., dict[str, Any]] = http_api_v2_event,
        headers: dict[str, str] | None = None,
        context: LambdaContext | None = None,
    ) -> Answer:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return self.invoke(
            event("POST", ANALYZE, body=body, headers=JSON_TYPE if headers is None else headers),
            context,
        )


@pytest.fixture
def start_container() -> Iterator[Callable[..., Container]]:
    """Start a fresh container (new app, no AWS clients, SSM unread) under extra variables:
    its INIT (the modules' import) runs here, as Lambda runs it before the first event.

    The variables are undone and the modules rebuilt afterwards, so no later test meets an
    app pointing at this test's loopback server or table.
    """
    with pytest.MonkeyPatch.context() as patch:

        def start(**environ: str) -> Container:
            for name, value in environ.items():
                patch.setenv(name, value)
            new_container()
            importlib.reload(server)
            importlib.reload(lambda_handler)
            return Container(lambda_handler.handler, server.app)

        yield start
    new_container()
    importlib.reload(server)
    importlib.reload(lambda_handler)


@pytest.fixture(autouse=True)
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts as a new container would, and leaves nothing for the next one; no
    SpendSense variable of the shell reaches it."""
    clear_environment(monkeypatch)
    new_container()
    yield
    new_container()


def new_container() -> None:
    """Forget what a container keeps between invocations: SSM values, the secrets the log
    masks, and AWS clients."""
    forget_secure_parameters()
    forget_secrets()
    forget_clients()


def openai_environment(stub: OpenAIStub, **overrides: str) -> dict[str, str]:
    return {
        "IRIS_LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": stub.base_url,
        "OPENAI_MODEL": MODEL_ALIAS,
        "OPENAI_MAX_TOKENS": "300",
        "OPENAI_TIMEOUT_S": "2",
        "OPENAI_MAX_RETRIES": "0",
        **overrides,
    }


@pytest.fixture
def openai_container(
    start_container: Callable[..., Container], openai_api: OpenAIStub
) -> Callable[..., Container]:
    """A container whose provider is the loopback OpenAI API; keyword arguments override env."""
    return lambda **overrides: start_container(**openai_environment(openai_api, **overrides))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@dataclass
class CacheTable:
    client: Any
    name: str = CACHE_TABLE

    def items(self) -> list[dict[str, Any]]:
        return self.client.scan(TableName=self.name)["Items"]


@pytest.fixture
def cache_table(aws: None) -> CacheTable:
    """The cache table as the stack declares it: `pk` hash key, TTL on `expires_at`."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=CACHE_TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=CACHE_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    return CacheTable(client)


@dataclass
class KeyParameter:
    client: Any
    name: str = KEY_PARAMETER
    value: str = OPENAI_KEY


@pytest.fixture
def key_parameter(aws: None) -> KeyParameter:
    """The deployed set-up: the OpenAI key in an SSM SecureString."""
    client = boto3.client("ssm", region_name=REGION)
    client.put_parameter(Name=KEY_PARAMETER, Value=OPENAI_KEY, Type="SecureString")
    return KeyParameter(client)


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], list[dict[str, Any]]]:
    """The JSON log lines written so far (the iris logger writes to stdout)."""

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


@pytest.fixture(scope="session")
def spendsense_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SpendSense's hand-built database (tests/spendsense/conftest.py), as a local DB_PATH."""
    return write_hand_database(tmp_path_factory.mktemp("spendsense") / "hand.db")


@pytest.fixture(params=BACKENDS, ids=backend_id)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def start_backend(spendsense_database: Path) -> Iterator[Callable[[Backend], HttpHandler]]:
    """Start a backend's entry point as a new container; everything it changed (modules built
    from the test's environment, the container's database, the logs) is undone afterwards."""
    started: list[Backend] = []
    with pytest.MonkeyPatch.context() as patch, logger_restored():

        def start(backend: Backend) -> HttpHandler:
            started.append(backend)
            return backend.start(patch, spendsense_database)

        yield start
    forget_container_database()
    if IRIS in started:
        new_container()
        importlib.reload(server)
        importlib.reload(lambda_handler)


@pytest.fixture
def handler(backend: Backend, start_backend: Callable[[Backend], HttpHandler]) -> HttpHandler:
    """The backend's real `handler`, in a new container."""
    return start_backend(backend)
