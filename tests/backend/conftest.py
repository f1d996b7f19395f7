"""Fixtures for the analyze path: a loopback OpenAI API, moto SSM/DynamoDB, fresh containers.

The OpenAI API is mocked at the HTTP level (the SDK talks through httpx2, which respx does
not intercept): a real HTTP server on 127.0.0.1 answers with the shapes api.openai.com sends.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from flask import Flask
from moto import mock_aws
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import lambda_handler
import server
from iris.parameters import read_secure_parameter
from tests.events import LambdaContext, http_api_v2_event

ANALYZE = "/api/iris/analyze"
JSON_TYPE = {"Content-Type": "application/json"}
REGION = "eu-west-1"

OPENAI_KEY = "sk-proj-T3stKey0nly4Loopback9f8e7d6c5b4a3210"
MODEL_ALIAS = "gpt-4o-mini"
MODEL_SNAPSHOT = "gpt-4o-mini-2024-07-18"
KEY_PARAMETER = "/iris/test/openai-api-key"
CACHE_TABLE = "iris-test-analysis-cache"

# Error bodies as api.openai.com sends them; the messages quote details a client must not see.
OPENAI_ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 130512 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    },
    401: {
        "message": "Incorrect API key provided: sk-proj-***********************3210. You can "
        "find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    },
    403: {
        "message": "Project `proj_Zx8k2Lq` does not have access to model `gpt-4o-mini`",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    },
    408: {
        "message": "Request timed out while reading the request body from 203.0.113.7.",
        "type": "server_error",
        "param": None,
        "code": "timeout",
    },
    409: {
        "message": "Another request for org-Q1w2E3r4 is being processed; try again.",
        "type": "invalid_request_error",
        "param": None,
        "code": "conflict",
    },
    429: {
        "message": "Rate limit reached for gpt-4o-mini in organization org-Q1w2E3r4 on requests "
        "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}


@dataclass
class Reply:
    status: int = 200
    content: str | None = "Summary: a test.\nSentiment: neutral.\nTopics: testing."
    model: str = MODEL_SNAPSHOT
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class OpenAIStub:
    """The loopback chat-completions endpoint: records each request, answers the next reply.

    `api_key`, `model_alias` and `model_snapshot` are what the test containers are configured
    with and what the stub answers; `error_messages` holds every upstream error text it sent.
    Each recorded request has its `headers`, `json` and `received_at` (`time.monotonic()`).
    """

    base_url: str
    api_key: str = OPENAI_KEY
    model_alias: str = MODEL_ALIAS
    model_snapshot: str = MODEL_SNAPSHOT
    requests: list[dict[str, Any]] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    _replies: list[Reply] = field(default_factory=list)
    _default: Reply = field(default_factory=Reply)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, status: int = 200, **reply: Any) -> None:
        """Answer the next request with this reply (queued), then with the default one."""
        self._replies.append(Reply(status=status, **reply))

    def always(self, status: int = 200, **reply: Any) -> None:
        """Answer every request not answered by a queued reply with this one."""
        self._default = Reply(status=status, **reply)

    def handle(self, request: Request) -> Response:
        with self._lock:
            sent = json.loads(request.get_data())
            self.requests.append(
                {"headers": dict(request.headers), "json": sent, "received_at": time.monotonic()}
            )
            reply = self._replies.pop(0) if self._replies else self._default
            headers = {"x-request-id": f"req_{len(self.requests):032x}", **reply.headers}
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.status != 200:
            error = OPENAI_ERRORS[reply.status]
            self.error_messages.append(error["message"])
            return Response(json.dumps({"error": error}), reply.status, headers, "application/json")
        return Response(json.dumps(chat_completion(reply, sent)), 200, headers, "application/json")


def chat_completion(reply: Reply, sent: dict[str, Any]) -> dict[str, Any]:
    prompt_tokens = sum(len(m["content"].split()) for m in sent["messages"])
    completion_tokens = len((reply.content or "").split())
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": reply.content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }


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
    """Start a fresh container (new app, empty caches, SSM unread) under extra variables.

    The variables are undone and the modules rebuilt afterwards, so no later test meets an
    app pointing at this test's loopback server or table.
    """
    with pytest.MonkeyPatch.context() as patch:

        def start(**environ: str) -> Container:
            for name, value in environ.items():
                patch.setenv(name, value)
            read_secure_parameter.cache_clear()
            importlib.reload(server)
            importlib.reload(lambda_handler)
            return Container(lambda_handler.handler, server.app)

        yield start
    read_secure_parameter.cache_clear()
    importlib.reload(server)
    importlib.reload(lambda_handler)


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
