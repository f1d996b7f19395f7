"""Complete API Gateway events through the real Lambda entry points, all on the handler kit.

Every answer is checked whole: status, headers (content type, the Lambda request id) and body.
What the kit does around an app (event checks, warm-up pings, the request id, the event loop,
lifespan off, the JSON safety net) is checked on each backend it serves (tests/backend/
backends.py): IRIS's Flask app, SpendSense's FastAPI app and one insight's framework-free app.
What the WSGI path adds (the body's length, cookies, binary answers) is checked on IRIS's.
Payload 2.0 (HTTP API, what the stacks deploy) and 1.0 (REST API proxy) events are both sent
wherever the two differ on the way in. Item numbers refer to the project's docs/pitfalls.md list.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from flask import Flask, Response, request
from mangum import Mangum

import lambda_handler
import lambda_kit
import server
from iris.app import create_app
from iris.llm import OFFLINE_MODEL
from iris.settings import Settings
from lambda_kit import HttpHandler
from lambda_kit.handler import run_on_new_event_loop
from tests.backend.backends import (
    FAILURE_DETAIL,
    SPENDSENSE_API,
    SPENDSENSE_INSIGHT,
    Backend,
    backend_id,
)
from tests.events import LambdaContext, http_api_v2_event, rest_v1_event, scheduled_event

Handler = Callable[[Any, Any], Any]
EventBuilder = Callable[..., dict[str, Any]]

ANALYZE = "/api/iris/analyze"
JSON_TYPE = {"Content-Type": "application/json"}
UTF8_TEXT = "Grüße, 東京 🌸"
SNAKE_CASE = re.compile(r"[a-z]+(_[a-z]+)*")
LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
BINARY = bytes(range(256))


@pytest.fixture
def cold_start(monkeypatch: pytest.MonkeyPatch) -> Callable[..., HttpHandler]:
    """A fresh IRIS container: the handler module imported again under the test's environment.

    `server` builds its app from the environment at import time; re-importing it here means
    no variable from the shell that first imported it (an OpenAI key, say) leaks into a test.
    """

    def start(**environ: str) -> HttpHandler:
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        importlib.reload(server)
        importlib.reload(lambda_handler)
        return lambda_handler.handler

    return start


@pytest.fixture
def iris_handler(cold_start: Callable[..., HttpHandler]) -> HttpHandler:
    return cold_start()


@pytest.fixture(params=[http_api_v2_event, rest_v1_event], ids=["v2", "v1"])
def make_event(request: pytest.FixtureRequest) -> EventBuilder:
    return request.param


def request_event(
    make_event: EventBuilder, method: str, path: str, query: str = "", **fields: Any
) -> dict[str, Any]:
    """An event for `path?query`: the raw query string (v2) or its parameters (v1)."""
    if make_event is rest_v1_event:
        return rest_v1_event(method, path, query=parse_qs(query) or None, **fields)
    return make_event(method, path, query=query, **fields)


def ok_event(backend: Backend, make_event: EventBuilder = http_api_v2_event, **fields: Any):
    return request_event(make_event, "GET", *backend.ok_request, **fields)


def probe_app() -> Flask:
    """The real app factory plus routes that report what Flask received."""
    app = create_app(Settings())

    @app.route("/probe", methods=["GET", "POST"])
    def probe() -> dict[str, Any]:
        data = request.get_data()
        return {
            "text": data.decode("utf-8"),
            "length": len(data),
            "args": request.args.to_dict(flat=False),
            "cookies": request.cookies.to_dict(),
        }

    @app.get("/probe/bytes")
    def probe_bytes() -> Response:
        return Response(BINARY, mimetype="application/octet-stream")

    return app


@pytest.fixture
def probe_handler(iris_handler: HttpHandler, monkeypatch: pytest.MonkeyPatch) -> HttpHandler:
    """IRIS's real handler, with the probe app wrapped exactly as the real app is."""
    monkeypatch.setattr(iris_handler, "adapter", lambda_kit.wsgi(probe_app()))
    return iris_handler


@pytest.fixture
def checks_only(handler: HttpHandler, monkeypatch: pytest.MonkeyPatch) -> HttpHandler:
    """The backend's real handler, with an app that fails the test if an event reaches it."""

    def refuse(event: Any, context: Any) -> Any:
        pytest.fail("the event reached Mangum and the app")

    monkeypatch.setattr(handler, "adapter", refuse)
    return handler


def invoke(handler: Handler, event: Any) -> tuple[dict[str, Any], LambdaContext]:
    context = LambdaContext()
    return handler(event, context), context


def invoke_bare(adapter: Handler, event: Any) -> tuple[dict[str, Any], LambdaContext]:
    """An adapter (Mangum) called without the kit around it, on a loop of its own as the kit
    gives it: what the kit's checks and fixes are compared with."""
    context = LambdaContext()
    return run_on_new_event_loop(adapter, event, context), context


def json_answer(answer: dict[str, Any], status: int, context: LambdaContext) -> Any:
    """Check what every JSON answer shares; return the parsed body."""
    assert answer["statusCode"] == status, answer
    assert type(answer["statusCode"]) is int, "a plain int, not an enum: what the runtime sends"
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["headers"]["x-request-id"] == context.aws_request_id
    assert answer["isBase64Encoded"] is False
    assert "Traceback" not in answer["body"]
    return json.loads(answer["body"])


def error_of(body: Any) -> dict[str, str]:
    """The API's error shape, {"error": {"code", "message"}}, and nothing else."""
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message"}
    assert SNAKE_CASE.fullmatch(error["code"]), error
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    return error


def logged_lines(out: str, message: str) -> list[dict[str, Any]]:
    """The JSON log lines written to stdout with this message."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] == message]


def analyze_event(
    make_event: EventBuilder,
    body: str,
    *,
    headers: dict[str, str] | None = None,
    as_base64: bool = False,
) -> dict[str, Any]:
    return make_event(
        "POST",
        ANALYZE,
        body=body,
        headers=JSON_TYPE if headers is None else headers,
        as_base64=as_base64,
    )


def has_content_length(event: dict[str, Any]) -> bool:
    return any(name.lower() == "content-length" for name in event["headers"])


# Routes, on every backend


def test_a_request_the_app_serves_answers_200(
    handler: HttpHandler, backend: Backend, make_event: EventBuilder
) -> None:
    answer, context = invoke(handler, ok_event(backend, make_event))

    assert json_answer(answer, 200, context) == backend.ok_body


def test_unknown_path_is_a_json_404(handler: HttpHandler, make_event: EventBuilder) -> None:
    answer, context = invoke(handler, make_event("GET", "/no/such/route"))

    assert error_of(json_answer(answer, 404, context))["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow(
    handler: HttpHandler, backend: Backend, make_event: EventBuilder
) -> None:
    method, path, allowed = backend.wrong_method
    answer, context = invoke(handler, make_event(method, path))

    assert error_of(json_answer(answer, 405, context))["code"] == "method_not_allowed"
    assert allowed in answer["headers"]["allow"].split(", ")


# IRIS's routes


@pytest.mark.parametrize("path", ["/health", "/api/iris/health"])
def test_health_answers_ok(iris_handler: HttpHandler, make_event: EventBuilder, path: str) -> None:
    answer, context = invoke(iris_handler, make_event("GET", path))

    body = json_answer(answer, 200, context)
    assert body["status"] == "ok"
    if path == "/health":
        assert body == {"status": "ok"}


def test_iris_health_reports_the_offline_provider_without_a_key(iris_handler: HttpHandler) -> None:
    answer, context = invoke(iris_handler, http_api_v2_event("GET", "/api/iris/health"))

    body = json_answer(answer, 200, context)
    assert body["provider"] == "offline"
    assert body["llmConfigured"] is True
    # Health names the model the way an analysis does, so a client can compare the two.
    analysis, context = invoke(iris_handler, analyze_event(http_api_v2_event, '{"text": "hi"}'))
    assert body["model"] == json_answer(analysis, 200, context)["model"] == OFFLINE_MODEL


@pytest.mark.parametrize("text", ["The cat sat on the mat.", UTF8_TEXT], ids=["ascii", "utf8"])
@pytest.mark.parametrize("as_base64", [False, True], ids=["plain", "base64"])
def test_analyze_answers_with_the_offline_provider(
    iris_handler: HttpHandler, make_event: EventBuilder, text: str, as_base64: bool
) -> None:
    event = analyze_event(make_event, json.dumps({"text": text}), as_base64=as_base64)
    assert not has_content_length(event)

    answer, context = invoke(iris_handler, event)

    body = json_answer(answer, 200, context)
    assert body["analysis"]
    assert "offline" in body["model"]
    assert isinstance(body["cached"], bool)


def test_get_on_analyze_is_a_json_405_naming_post(
    iris_handler: HttpHandler, make_event: EventBuilder
) -> None:
    answer, context = invoke(iris_handler, make_event("GET", ANALYZE))

    assert error_of(json_answer(answer, 405, context))["code"] == "method_not_allowed"
    assert "POST" in answer["headers"]["allow"].split(", ")


# Request bodies (pitfalls 3 and 12)


@pytest.mark.parametrize(
    "content_length",
    [None, "base64-length", "0", "9999", "chunked"],
    ids=["none", "b64len", "zero", "big", "chunked"],
)
@pytest.mark.parametrize("as_base64", [False, True], ids=["plain", "base64"])
def test_body_reaches_flask_byte_for_byte(
    probe_handler: Handler, make_event: EventBuilder, as_base64: bool, content_length: str | None
) -> None:
    """Whatever framing headers the event carries (if any), Flask reads the decoded body."""
    encoded = base64.b64encode(UTF8_TEXT.encode()).decode()
    headers = {}
    if content_length == "chunked":
        headers["Transfer-Encoding"] = "chunked"
    elif content_length is not None:
        headers["Content-Length"] = (
            str(len(encoded)) if content_length == "base64-length" else content_length
        )
    event = make_event("POST", "/probe", body=UTF8_TEXT, as_base64=as_base64, headers=headers)

    answer, context = invoke(probe_handler, event)

    body = json_answer(answer, 200, context)
    assert body["text"] == UTF8_TEXT
    assert body["length"] == len(UTF8_TEXT.encode("utf-8")) == 20


def test_without_the_length_fix_flask_sees_no_body(
    probe_handler: Handler, make_event: EventBuilder
) -> None:
    """Proof that the test above can fail: Mangum alone passes no content-length to Flask."""
    event = make_event("POST", "/probe", body=UTF8_TEXT)

    fixed, fixed_context = invoke(probe_handler, event)
    bare, bare_context = invoke_bare(probe_handler.adapter, event)

    assert json_answer(fixed, 200, fixed_context)["length"] == 20
    assert json_answer(bare, 200, bare_context)["length"] == 0


def test_analyze_body_without_content_length(
    iris_handler: HttpHandler, make_event: EventBuilder
) -> None:
    """API Gateway may omit content-length: `handler` answers 200 where bare Mangum gives 400."""
    event = analyze_event(make_event, json.dumps({"text": UTF8_TEXT}))
    assert not has_content_length(event)

    answer, context = invoke(iris_handler, event)
    bare, bare_context = invoke_bare(iris_handler.adapter, event)

    assert json_answer(answer, 200, context)["analysis"]
    error_of(json_answer(bare, 400, bare_context))
    assert not has_content_length(event), "the handler must not modify the caller's event"


@pytest.mark.parametrize(
    ("body", "as_base64", "message"),
    [
        ("not base64!", True, "The request body is not valid base64."),
        # pitfall 30: b64decode raises ValueError (not binascii.Error) for non-ASCII text.
        (UTF8_TEXT, True, "The request body is not valid base64."),
        # What JSON's "\ud800" decodes to: a str that no bytes on the wire can be.
        ('{"text": "\ud800"}', False, "The request body is not valid UTF-8 text."),
    ],
    ids=["bad-padding", "non-ascii", "lone-surrogate"],
)
def test_undecodable_body_is_a_json_400(
    checks_only: HttpHandler,
    backend: Backend,
    make_event: EventBuilder,
    body: str,
    as_base64: bool,
    message: str,
) -> None:
    event = request_event(make_event, "POST", *backend.ok_request, body="{}", headers=JSON_TYPE)
    event["body"], event["isBase64Encoded"] = body, as_base64

    answer, context = invoke(checks_only, event)

    assert answer == {
        "statusCode": 400,
        "headers": {"content-type": "application/json", "x-request-id": context.aws_request_id},
        "body": json.dumps({"error": {"code": "malformed_body", "message": message}}),
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("as_base64", [False, True], ids=["plain", "base64"])
def test_body_over_the_configured_limit_is_a_json_413(
    cold_start: Callable[..., HttpHandler], make_event: EventBuilder, as_base64: bool
) -> None:
    handler = cold_start(IRIS_MAX_BODY_BYTES="64")
    event = analyze_event(make_event, json.dumps({"text": "a" * 100}), as_base64=as_base64)

    answer, context = invoke(handler, event)

    assert error_of(json_answer(answer, 413, context))["code"] == "body_too_large"


def test_default_body_limit_is_well_under_lambdas_payload_limit(iris_handler: HttpHandler) -> None:
    """pitfall 12: Lambda refuses payloads over 6 MB; the app answers a JSON 413 well before."""
    limit = server.app.extensions["iris.settings"].max_body_bytes
    assert 4 * -(-limit // 3) < LAMBDA_PAYLOAD_LIMIT_BYTES / 2
    text = "a" * limit
    event = analyze_event(http_api_v2_event, json.dumps({"text": text}))

    answer, context = invoke(iris_handler, event)

    assert error_of(json_answer(answer, 413, context))["code"] == "body_too_large"


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}],
    ids=["text", "form", "none"],
)
def test_non_json_content_type_is_a_json_415(
    iris_handler: HttpHandler, make_event: EventBuilder, headers: dict[str, str]
) -> None:
    event = analyze_event(make_event, json.dumps({"text": "hello"}), headers=headers)

    answer, context = invoke(iris_handler, event)

    assert error_of(json_answer(answer, 415, context))["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body",
    ['{"text": ', "text=hello", "", "{'text': 'hello'}"],
    ids=["truncated", "form-encoded", "empty", "single-quotes"],
)
def test_malformed_json_is_a_json_400(
    iris_handler: HttpHandler, make_event: EventBuilder, body: str
) -> None:
    answer, context = invoke(iris_handler, analyze_event(make_event, body))

    error_of(json_answer(answer, 400, context))


@pytest.mark.parametrize(
    "payload",
    [
        {"text": 42},
        {"text": ["hello"]},
        {"text": None},
        {"text": {"value": "hello"}},
        {"text": ""},
        {"text": "   \n\t"},
        {},
        {"content": "hello"},
        ["hello"],
        "hello",
    ],
    ids=[
        "number",
        "list",
        "null",
        "object",
        "empty",
        "blank",
        "no-fields",
        "other-field",
        "array-body",
        "string-body",
    ],
)
def test_invalid_fields_are_a_json_400(
    iris_handler: HttpHandler, make_event: EventBuilder, payload: Any
) -> None:
    answer, context = invoke(iris_handler, analyze_event(make_event, json.dumps(payload)))

    error_of(json_answer(answer, 400, context))


# pitfall 53: an exception in the app


def test_an_app_exception_is_a_json_500_with_the_request_id_and_a_log_line(
    handler: HttpHandler,
    backend: Backend,
    make_event: EventBuilder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Lambda's Errors metric never moves for it: the answer and the app's own log line are
    what the alarms see, and neither may show the exception's details to the client."""
    backend.break_app(monkeypatch)
    capsys.readouterr()

    answer, context = invoke(handler, request_event(make_event, "GET", *backend.broken_request))

    assert error_of(json_answer(answer, 500, context))["code"] == "internal_error"
    assert FAILURE_DETAIL not in answer["body"] and "RuntimeError" not in answer["body"]
    (failure,) = logged_lines(capsys.readouterr().out, backend.failure_message)
    assert failure["level"] == "ERROR"
    assert failure["requestId"] == context.aws_request_id
    assert "RuntimeError" in json.dumps(failure)


# What API Gateway adds to a request, and binary answers


@pytest.mark.parametrize(
    "event",
    [
        http_api_v2_event("GET", "/probe", cookies=["session=abc", "theme=dark"]),
        rest_v1_event("GET", "/probe", headers={"Cookie": "session=abc; theme=dark"}),
    ],
    ids=["v2-cookies-list", "v1-cookie-header"],
)
def test_cookies_reach_flask(probe_handler: Handler, event: dict[str, Any]) -> None:
    answer, context = invoke(probe_handler, event)

    assert json_answer(answer, 200, context)["cookies"] == {"session": "abc", "theme": "dark"}


@pytest.mark.parametrize(
    "event",
    [
        http_api_v2_event("GET", "/probe", query="a=1&a=2&q=Gr%C3%BC%C3%9Fe"),
        rest_v1_event("GET", "/probe", query={"a": ["1", "2"], "q": ["Grüße"]}),
    ],
    ids=["v2-raw-query", "v1-multi-value"],
)
def test_repeated_query_parameters_reach_flask(
    probe_handler: Handler, event: dict[str, Any]
) -> None:
    answer, context = invoke(probe_handler, event)

    assert json_answer(answer, 200, context)["args"] == {"a": ["1", "2"], "q": ["Grüße"]}


def test_binary_answer_is_base64_encoded(probe_handler: Handler, make_event: EventBuilder) -> None:
    answer, context = invoke(probe_handler, make_event("GET", "/probe/bytes"))

    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"] == "application/octet-stream"
    assert answer["headers"]["x-request-id"] == context.aws_request_id
    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == BINARY


# pitfalls 1 and 2: how the app is wrapped


def test_bare_flask_app_under_mangum_answers_500(iris_handler: HttpHandler) -> None:
    """Mangum speaks ASGI: without the WSGI adapter every request is a 500."""
    event = http_api_v2_event("GET", "/health")

    answer, context = invoke(iris_handler, event)
    bare, _ = invoke_bare(Mangum(server.app, lifespan="off"), event)

    assert json_answer(answer, 200, context) == {"status": "ok"}
    assert bare["statusCode"] == 500
    assert isinstance(iris_handler.adapter.app, WSGIMiddleware)
    assert iris_handler.adapter.app.app is server.app


def test_the_spendsense_handler_serves_the_fastapi_app_itself(start_backend) -> None:
    import api.main

    handler = start_backend(SPENDSENSE_API)

    assert isinstance(handler.adapter, Mangum)
    assert handler.adapter.app is api.main.app


def test_lifespan_is_off(
    handler: HttpHandler, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    def lifespan_records() -> list[logging.LogRecord]:
        return [
            record
            for record in caplog.records
            if record.name == "mangum.lifespan" or "non-HTTP scope" in record.getMessage()
        ]

    assert handler.adapter.lifespan == "off"
    with caplog.at_level(logging.DEBUG):
        answer, context = invoke(handler, ok_event(backend))
    assert json_answer(answer, 200, context) == backend.ok_body
    assert lifespan_records() == []

    # The same check does see a lifespan cycle when one runs.
    with caplog.at_level(logging.DEBUG):
        auto = Mangum(handler.adapter.app, lifespan="auto")
        invoke_bare(auto, ok_event(backend))
    assert lifespan_records()


def test_fastapis_startup_never_runs_per_invocation(
    start_backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pitfall 48: with lifespan "auto", Mangum runs the app's startup and shutdown around
    every invocation (~200 ms each for some apps); one-time work belongs at import."""
    import api.main

    handler = start_backend(SPENDSENSE_API)
    startups: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        startups.append("startup")
        yield

    monkeypatch.setattr(api.main.app.router, "lifespan_context", lifespan)
    for _ in range(2):
        answer, context = invoke(handler, ok_event(SPENDSENSE_API))
        assert json_answer(answer, 200, context) == SPENDSENSE_API.ok_body
    assert startups == []

    invoke_bare(Mangum(api.main.app, lifespan="auto"), ok_event(SPENDSENSE_API))
    assert startups == ["startup"], "the check above would see a lifespan cycle"


# pitfalls 4 and 5: stages and the root path


def test_named_stage_prefix_is_not_a_route(handler: HttpHandler, backend: Backend) -> None:
    """A named stage puts its name in front of every path, so every route 404s.

    The stacks deploy the `$default` stage (and route), whose paths arrive unprefixed.
    """
    path, query = backend.ok_request
    staged = http_api_v2_event("GET", "/prod" + path, query=query)
    staged["requestContext"]["stage"] = "prod"
    default = ok_event(backend)
    assert default["requestContext"]["stage"] == default["routeKey"] == "$default"

    staged_answer, staged_context = invoke(handler, staged)
    answer, context = invoke(handler, default)

    assert error_of(json_answer(staged_answer, 404, staged_context))["code"] == "not_found"
    assert json_answer(answer, 200, context) == backend.ok_body


def test_root_path_reaches_the_app(handler: HttpHandler) -> None:
    """Through the `$default` route `/` reaches the app, which answers its own JSON 404."""
    answer, context = invoke(handler, http_api_v2_event("GET", "/"))

    assert error_of(json_answer(answer, 404, context))["code"] == "not_found"


# pitfall 6: the request id


def test_each_answer_carries_its_invocations_request_id(
    handler: HttpHandler, backend: Backend, make_event: EventBuilder
) -> None:
    """The app's answers too, whether or not the app sets the header itself."""
    answers = [invoke(handler, ok_event(backend, make_event)) for _ in range(2)]

    for answer, context in answers:
        assert json_answer(answer, 200, context) == backend.ok_body
    assert answers[0][1].aws_request_id != answers[1][1].aws_request_id


def test_request_id_is_lambdas_in_flasks_header_and_log(
    iris_handler: HttpHandler, make_event: EventBuilder, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [invoke(iris_handler, make_event("GET", "/health")) for _ in range(2)]

    request_logs = logged_lines(capsys.readouterr().out, "request")
    for (answer, context), entry in zip(answers, request_logs, strict=True):
        assert answer["headers"]["x-request-id"] == context.aws_request_id
        assert entry["requestId"] == context.aws_request_id
        assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/health", 200)


# pitfall 10: CORS belongs to API Gateway


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/health", {}, 200),
        ("POST", ANALYZE, JSON_TYPE, 200),
        ("OPTIONS", ANALYZE, {"Access-Control-Request-Method": "POST"}, 200),
    ],
    ids=["health", "analyze", "preflight"],
)
def test_the_app_adds_no_cors_headers(
    iris_handler: HttpHandler,
    make_event: EventBuilder,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    """The gateway's cors_configuration answers CORS; the app's own headers would be ignored
    there and would let a local run allow what the deployed API refuses."""
    body = json.dumps({"text": "hello"}) if method == "POST" else None
    event = make_event(
        method, path, headers={"Origin": "https://evil.example", **headers}, body=body
    )

    answer, context = invoke(iris_handler, event)

    assert answer["statusCode"] == status
    assert answer["headers"]["x-request-id"] == context.aws_request_id
    sent = [*answer["headers"], *(answer.get("multiValueHeaders") or {})]
    assert [name for name in sent if name.lower().startswith("access-control-")] == []


def test_no_backend_adds_cors_headers(handler: HttpHandler, backend: Backend) -> None:
    """Deployed, the gateway answers CORS for every backend (SpendSense's CORS_ORIGINS is for
    local runs only, and unset here)."""
    origin = {"Origin": "https://evil.example"}
    preflight = {**origin, "Access-Control-Request-Method": "GET"}
    path, _ = backend.ok_request
    answers = [
        invoke(handler, ok_event(backend, headers=origin)),
        invoke(handler, http_api_v2_event("OPTIONS", path, headers=preflight)),
    ]

    for answer, context in answers:
        assert answer["headers"]["x-request-id"] == context.aws_request_id
        sent = [*answer["headers"], *(answer.get("multiValueHeaders") or {})]
        assert [name for name in sent if name.lower().startswith("access-control-")] == []


# pitfall 7: the event loop


def _close_current_loop() -> None:
    # Closed before being replaced, so that no unclosed loop is left for the garbage collector.
    try:
        asyncio.get_event_loop_policy().get_event_loop().close()
    except RuntimeError:
        pass


def _after_asyncio_run() -> None:
    _close_current_loop()
    asyncio.run(asyncio.sleep(0))
    with pytest.raises(RuntimeError, match="no current event loop"):
        asyncio.get_event_loop()


def _after_loop_closed() -> None:
    _close_current_loop()
    assert asyncio.get_event_loop_policy().get_event_loop().is_closed()


@pytest.mark.parametrize("disturb", [_after_asyncio_run, _after_loop_closed], ids=["run", "closed"])
def test_handler_survives_a_lost_event_loop(
    handler: HttpHandler, backend: Backend, disturb: Callable[[], None]
) -> None:
    for _ in range(2):
        disturb()
        answer, context = invoke(handler, ok_event(backend))
        assert json_answer(answer, 200, context) == backend.ok_body


def test_each_invocation_runs_on_a_loop_of_its_own_and_leaves_the_threads_loop_as_it_was(
    handler: HttpHandler, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other code on the thread (a caller, Pulumi's tests in the same process) keeps its loop."""
    own = asyncio.new_event_loop()
    asyncio.set_event_loop(own)
    seen: list[asyncio.AbstractEventLoop] = []
    adapter = handler.adapter

    def recording(event: Any, context: Any) -> Any:
        seen.append(asyncio.get_event_loop())
        return adapter(event, context)

    monkeypatch.setattr(handler, "adapter", recording)
    try:
        for _ in range(2):
            answer, context = invoke(handler, ok_event(backend))
            assert json_answer(answer, 200, context) == backend.ok_body
        assert asyncio.get_event_loop() is own and not own.is_closed()
    finally:
        own.close()
    first, second = seen
    assert first is not second and first is not own
    assert first.is_closed() and second.is_closed()


# pitfall 8: events that are not HTTP requests


def test_warmup_ping_answers_without_the_app(checks_only: HttpHandler) -> None:
    answer, _ = invoke(checks_only, scheduled_event())

    assert answer == {"warmed": True}


S3_EVENT = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "iris-uploads"}, "object": {"key": "cv-jane-doe.pdf"}},
        }
    ]
}


def without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of `event` without the field at `path` (keys, outermost first)."""
    copy = json.loads(json.dumps(event))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return copy


ALB_EVENT = {
    "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:..."}},
    "httpMethod": "GET",
    "path": "/health",
    "headers": {},
    "body": "",
    "isBase64Encoded": False,
}


@pytest.mark.parametrize(
    "event",
    [
        S3_EVENT,
        {},
        [],
        "ping",
        None,
        {"key1": "value1", "key2": "value2", "key3": "value3"},
        {**scheduled_event(), "source": "aws.s3", "detail-type": "Object Created"},
        ALB_EVENT,
        {**ALB_EVENT, "version": "1.0"},
        # Shaped like HTTP events but missing fields Mangum reads (it raised KeyError).
        {"version": "2.0", "requestContext": {}},
        {"version": "2.0", "rawPath": "/health", "requestContext": {"http": {"method": "GET"}}},
        without(http_api_v2_event("GET", "/health"), "requestContext", "http", "method"),
        without(http_api_v2_event("GET", "/health"), "requestContext", "http", "sourceIp"),
        without(http_api_v2_event("GET", "/health"), "rawPath"),
        {**http_api_v2_event("GET", "/health"), "requestContext": None},
        {"version": "1.0", "requestContext": {}},
        without(rest_v1_event("GET", "/health"), "path"),
        without(rest_v1_event("GET", "/health"), "httpMethod"),
        {**rest_v1_event("GET", "/health"), "httpMethod": None},
    ],
    ids=[
        "s3",
        "empty",
        "list",
        "string",
        "null",
        "console",
        "eventbridge",
        "alb",
        "alb-versioned",
        "v2-empty-context",
        "v2-no-http-path",
        "v2-no-method",
        "v2-no-source-ip",
        "v2-no-raw-path",
        "v2-null-context",
        "v1-empty",
        "v1-no-path",
        "v1-no-method",
        "v1-null-method",
    ],
)
def test_non_http_event_is_a_json_400(event: Any, checks_only: HttpHandler) -> None:
    answer, context = invoke(checks_only, event)

    assert answer["statusCode"] == 400
    assert answer["headers"] == {
        "content-type": "application/json",
        "x-request-id": context.aws_request_id,
    }
    assert answer["isBase64Encoded"] is False
    assert error_of(json.loads(answer["body"]))["code"] == "unsupported_event"


def test_without_a_context_the_answer_has_no_request_id(checks_only: HttpHandler) -> None:
    """A local call without a Lambda context; the previous invocation's id must not stick."""
    invoke(checks_only, S3_EVENT)

    answer = checks_only(S3_EVENT, None)

    assert answer["statusCode"] == 400
    assert answer["headers"] == {"content-type": "application/json"}


def test_unsupported_event_logs_its_shape_not_its_values(
    checks_only: HttpHandler, backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    _, context = invoke(checks_only, S3_EVENT)
    checks_only(S3_EVENT, None)

    out = capsys.readouterr().out
    first, second = logged_lines(out, "unsupported event")
    assert first["logger"] == backend.logger_name
    assert first["event_keys"] == ["Records"]
    assert first["requestId"] == context.aws_request_id
    assert "requestId" not in second, "an invocation without an id must not log the last one's"
    assert "cv-jane-doe" not in out


# pitfall 30: raw bytes and odd values


@pytest.mark.parametrize(
    ("raw_query", "args"),
    [
        ("q=ü", {"q": ["ü"]}),
        ("q=Grüße 東京&q=🌸", {"q": ["Grüße 東京", "🌸"]}),
        ("a=%C3%BC&b=ü&c=a+b", {"a": ["ü"], "b": ["ü"], "c": ["a b"]}),
    ],
    ids=["latin-1", "cjk-emoji-repeated", "mixed-with-escapes"],
)
def test_raw_non_ascii_query_reaches_flask_as_sent(
    probe_handler: Handler, raw_query: str, args: dict[str, list[str]]
) -> None:
    """Some clients send the query unencoded; rawQueryString carries it as is."""
    event = http_api_v2_event("GET", "/probe", query=raw_query)

    answer, context = invoke(probe_handler, event)

    assert json_answer(answer, 200, context)["args"] == args
    assert event["rawQueryString"] == raw_query, "the handler must not modify the caller's event"


def test_without_the_query_fix_a2wsgi_answers_plain_text_500(probe_handler: Handler) -> None:
    """Proof that the test above can fail: a2wsgi decodes the query string as ASCII."""
    event = http_api_v2_event("GET", "/probe", query="q=ü")

    bare, _ = invoke_bare(probe_handler.adapter, event)

    assert bare["statusCode"] == 500
    assert bare["headers"]["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "path", ["/api/iris/東京", "/api/iris/%E6%9D%B1", "/api/iris/%ff", "/\x00\x7f", "/"]
)
def test_odd_paths_reach_the_app(handler: HttpHandler, make_event: EventBuilder, path: str) -> None:
    """Paths beyond latin-1 (a2wsgi passes them on as UTF-8), broken escapes, controls."""
    answer, context = invoke(handler, make_event("GET", path))

    assert error_of(json_answer(answer, 404, context))["code"] == "not_found"


def test_host_with_a_port_reaches_the_app(
    handler: HttpHandler, backend: Backend, make_event: EventBuilder
) -> None:
    event = ok_event(backend, make_event, headers={"Host": "api.example.com:8443"})

    answer, context = invoke(handler, event)

    assert json_answer(answer, 200, context) == backend.ok_body


def _set(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `event` with the field at the dotted `path` set to `value`."""
    copy = json.loads(json.dumps(event))
    *parents, name = path.split(".")
    parent = copy
    for key in parents:
        parent = parent[key]
    parent[name] = value
    return copy


V2_HEALTH = http_api_v2_event("GET", "/health")
V1_HEALTH = rest_v1_event("GET", "/health")

HOST_RULE = "a host name with an optional :port"
# Each kind of value the fuzz test (test_events_fuzz.py) found raising inside Mangum, a2wsgi or
# Starlette.
UNREADABLE_EVENTS = {
    "headers-not-an-object": (
        _set(V2_HEALTH, "headers", ["accept"]),
        "headers",
        "an object of text values",
    ),
    "header-value-a-number": (
        _set(V2_HEALTH, "headers.x-amzn-trace-id", 1),
        "headers",
        "an object of text values",
    ),
    "header-value-a-lone-surrogate": (
        _set(V2_HEALTH, "headers.user-agent", "\udc80"),
        "headers",
        "an object of text values",
    ),
    "v1-headers-a-string": (
        _set(V1_HEALTH, "headers", "Accept: */*"),
        "headers",
        "an object of text values",
    ),
    "cookies-a-string": (_set(V2_HEALTH, "cookies", "a=b"), "cookies", "a list of text"),
    "cookie-an-object": (_set(V2_HEALTH, "cookies", [{"a": "b"}]), "cookies", "a list of text"),
    "raw-query-a-list": (_set(V2_HEALTH, "rawQueryString", ["q=1"]), "rawQueryString", "text"),
    "path-a-lone-surrogate": (
        _set(V2_HEALTH, "requestContext.http.path", "/\ud800"),
        "requestContext.http.path",
        "text",
    ),
    "method-a-number": (
        _set(V2_HEALTH, "requestContext.http.method", 7),
        "requestContext.http.method",
        "text",
    ),
    "source-ip-null": (
        _set(V2_HEALTH, "requestContext.http.sourceIp", None),
        "requestContext.http.sourceIp",
        "text",
    ),
    "body-an-object": (_set(V2_HEALTH, "body", {"text": "hi"}), "body", "a string"),
    "base64-flag-a-string": (
        _set(V2_HEALTH, "isBase64Encoded", "false"),
        "isBase64Encoded",
        "a boolean",
    ),
    "host-port-not-a-number": (
        _set(V2_HEALTH, "headers.host", "api.example.com:https"),
        "headers.host",
        HOST_RULE,
    ),
    "host-a-bracket": (_set(V2_HEALTH, "headers.host", "["), "headers.host", HOST_RULE),
    "host-not-ascii": (
        _set(V1_HEALTH, "headers.Host", "api\uff0eexample.com"),
        "headers.host",
        HOST_RULE,
    ),
    "forwarded-port-empty": (
        _set(V2_HEALTH, "headers.x-forwarded-port", ""),
        "headers.x-forwarded-port",
        "a port number",
    ),
    # Starlette raised KeyError building the request's URL out of this scheme.
    "forwarded-proto-not-a-scheme": (
        _set(V2_HEALTH, "headers.x-forwarded-proto", "application/json"),
        "headers.x-forwarded-proto",
        "http or https",
    ),
    "v1-forwarded-proto-repeated": (
        _set(V1_HEALTH, "multiValueHeaders.X-Forwarded-Proto", ["https", "http"]),
        "headers.x-forwarded-proto",
        "http or https",
    ),
    "v1-query-a-list": (
        _set(V1_HEALTH, "queryStringParameters", ["q=1"]),
        "queryStringParameters",
        "an object of text values",
    ),
    "v1-query-value-a-list-of-objects": (
        _set(V1_HEALTH, "multiValueQueryStringParameters", {"q": [{}]}),
        "multiValueQueryStringParameters",
        "an object of text lists",
    ),
    "v1-query-value-a-lone-surrogate": (
        _set(V1_HEALTH, "queryStringParameters", {"q": "\ud800"}),
        "queryStringParameters",
        "an object of text values",
    ),
    "v1-multi-value-header-a-string": (
        _set(V1_HEALTH, "multiValueHeaders.Accept", "*/*"),
        "multiValueHeaders",
        "an object of text lists",
    ),
    "v1-identity-null": (
        _set(V1_HEALTH, "requestContext.identity", None),
        "requestContext.identity",
        "an object",
    ),
    "v1-path-a-number": (_set(V1_HEALTH, "path", 404), "path", "text"),
}


@pytest.mark.parametrize(
    "headers",
    [{"x-forwarded-proto": "ftp", "host": None}, {"host": "["}, {"host": "a\uff03b"}],
    ids=["scheme-without-host", "host-bracket", "host-nfkc"],
)
def test_without_the_server_header_checks_starlette_answers_500(
    start_backend, headers: dict[str, str | None]
) -> None:
    """Proof that the Host and X-Forwarded-Proto checks matter: Starlette builds the URL of a
    request it cannot route from them, and Python's URL parser (or, without a Host header, the
    table of each scheme's default port) raises."""
    handler = start_backend(SPENDSENSE_API)
    event = http_api_v2_event("GET", "/nowhere")
    for name, value in headers.items():
        if value is None:
            del event["headers"][name]
        else:
            event["headers"][name] = value

    bare, _ = invoke_bare(handler.adapter, event)
    answer, context = invoke(handler, event)

    assert bare["statusCode"] == 500
    assert error_of(json_answer(answer, 400, context))["code"] == "unsupported_event"


@pytest.mark.parametrize(
    ("event", "field", "expected"), UNREADABLE_EVENTS.values(), ids=UNREADABLE_EVENTS.keys()
)
def test_event_with_an_unreadable_field_is_a_json_400_naming_it(
    event: dict[str, Any],
    field: str,
    expected: str,
    checks_only: HttpHandler,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer, context = invoke(checks_only, event)

    message = f"The event's {field} must be {expected}, as API Gateway sends it."
    assert answer == {
        "statusCode": 400,
        "headers": {"content-type": "application/json", "x-request-id": context.aws_request_id},
        "body": json.dumps({"error": {"code": "unsupported_event", "message": message}}),
        "isBase64Encoded": False,
    }
    (logged,) = logged_lines(capsys.readouterr().out, "unsupported event")
    assert logged["field"] == field
    assert logged["requestId"] == context.aws_request_id


def test_unreadable_event_log_names_the_field_not_its_value(
    checks_only: HttpHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    event = _set(V2_HEALTH, "cookies", "session=cv-jane-doe")

    answer, _ = invoke(checks_only, event)

    out = capsys.readouterr().out
    (logged,) = logged_lines(out, "unsupported event")
    assert logged["field"] == "cookies"
    assert "cv-jane-doe" not in out + answer["body"]


@pytest.mark.parametrize("backend", [SPENDSENSE_API, SPENDSENSE_INSIGHT], ids=backend_id)
@pytest.mark.parametrize("user_id", ["ü", "Grüße 東京", "🌸"], ids=["latin-1", "cjk", "emoji"])
def test_raw_non_ascii_query_reaches_the_asgi_apps_as_sent(
    handler: HttpHandler, backend: Backend, user_id: str
) -> None:
    """Starlette and the insight app read the query string as latin-1 bytes: raw UTF-8 would
    reach them garbled ("Ã¼"), percent-encoded it reaches them as the client typed it."""
    event = http_api_v2_event("GET", backend.ok_request[0], query=f"user_id={user_id}")

    answer, context = invoke(handler, event)
    bare, _ = invoke_bare(handler.adapter, event)

    error = error_of(json_answer(answer, 404, context))
    assert error == {"code": "user_not_found", "message": f"No user with user_id {user_id!r}."}
    assert repr(user_id) not in json.loads(bare["body"])["error"]["message"]


# The last safety net: whatever the adapters do, the answer is the API's JSON


def _failing_app(error: Exception) -> Callable[..., Any]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise error

    return app


def test_adapter_answering_plain_text_500_becomes_a_json_500(
    handler: HttpHandler,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    make_event: EventBuilder,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Mangum answers text/plain "Internal Server Error" when the ASGI app raises."""
    failing = lambda_kit.asgi(_failing_app(RuntimeError("secret-detail")))
    monkeypatch.setattr(handler, "adapter", failing)
    event = request_event(make_event, "GET", *backend.ok_request)
    bare, _ = invoke_bare(failing, event)
    assert (bare["statusCode"], bare["body"]) == (500, "Internal Server Error")
    capsys.readouterr()
    caplog.clear()

    with caplog.at_level(logging.ERROR, logger="mangum"):
        answer, context = invoke(handler, event)

    assert error_of(json_answer(answer, 500, context)) == {
        "code": "internal_error",
        "message": "The server failed to handle this request.",
    }
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert logged == [
        {
            **logged[0],
            "level": "ERROR",
            "logger": backend.logger_name,
            "message": "adapter answered a server error that is not JSON",
            "requestId": context.aws_request_id,
            "status": 500,
            "content_type": "text/plain; charset=utf-8",
        }
    ]
    # Mangum itself logs the exception, with its type, on its own logger.
    (mangum_record,) = [record for record in caplog.records if record.name == "mangum.http"]
    assert mangum_record.exc_info and mangum_record.exc_info[0] is RuntimeError


@pytest.mark.parametrize(
    "error", [KeyError("secret-detail"), UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate")]
)
def test_exception_escaping_the_adapter_becomes_a_json_500(
    handler: HttpHandler,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    make_event: EventBuilder,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
) -> None:
    def raising(event: Any, context: Any) -> Any:
        raise error

    monkeypatch.setattr(handler, "adapter", raising)

    answer, context = invoke(handler, request_event(make_event, "GET", *backend.ok_request))

    assert error_of(json_answer(answer, 500, context))["code"] == "internal_error"
    out = capsys.readouterr().out
    logged = json.loads(out)
    assert logged["message"] == "adapter failed"
    assert logged["error_type"] == type(error).__name__
    assert logged["requestId"] == context.aws_request_id
    assert "secret-detail" not in out and "exception" not in logged
