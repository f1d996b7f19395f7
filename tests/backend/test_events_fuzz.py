"""Any event, any bytes: seeded fuzzing of the Lambda entry points on the handler kit.

Hypothesis sends random events, and complete v2 and v1 API Gateway events (from
`tests/events.py`) with fields removed, replaced, retyped or stuffed with random text and bytes,
to each backend the kit serves (tests/backend/backends.py: IRIS's Flask app, SpendSense's
FastAPI app, one insight's framework-free app). Whatever arrives, the handler answers within
the API's promise: it never raises, it returns a dict with an int statusCode, never a 5xx (IRIS's
offline provider without a cache table, and SpendSense's local database, leave no dependency
that could fail), every answer from 400 up is the API's JSON error with the invocation's
request id, and the caller's event is left as it was. The run is seeded (`derandomize=True`),
so it is the same every time. Pitfalls 8 and 30 are the known causes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backend.backends import BACKENDS, Backend
from tests.events import LambdaContext, http_api_v2_event, rest_v1_event, scheduled_event

Handler = Callable[[Any, Any], Any]

# Per backend: the three share the kit's checks, so 4,500 events in all exercise them.
RANDOM_EVENTS = 500
CORRUPTED_EVENTS = 1_000
SNAKE_CASE = re.compile(r"[a-z]+(_[a-z]+)*")

# The app's handler is one container serving event after event, as in Lambda; the autouse
# environment fixture is meant to hold for all of them.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters that break naive handling: separators of paths, queries, cookies and headers,
# percent signs, controls, latin-1, the rest of the BMP, astral planes and lone surrogates
# (json.loads gives those for "\ud800", so a Lambda event can carry them).
TRICKY_CHARACTERS = (
    "%&=;:,/?#+ \t\r\n\x00\x7f\x80\xa0\xe9\xfcüß東京🌸\u2028\ufeff\ufffd\ud800\udfff"
)
CHARACTERS = st.one_of(
    st.characters(),
    st.sampled_from(TRICKY_CHARACTERS),
    st.characters(categories=["Cs"]),
)
TEXT = st.text(CHARACTERS, max_size=24)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    TEXT,
    st.binary(max_size=16),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)
    ),
    max_leaves=8,
)

# The names API Gateway's events use, so that random events often look like one.
EVENT_FIELDS = [
    "version",
    "resource",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "cookies",
    "requestContext",
    "body",
    "isBase64Encoded",
]
CONTEXT_FIELDS = ["http", "identity", "elb", "stage", "requestId", "path", "httpMethod"]
HTTP_FIELDS = ["method", "path", "sourceIp", "protocol", "userAgent"]
HEADER_NAMES = [
    "host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "content-type",
    "content-length",
    "transfer-encoding",
    "cookie",
    "Host",
    "Content-Type",
]


def loose_dict(names: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Dicts whose keys are mostly the given names, with `values` under them."""
    return st.dictionaries(st.one_of(st.sampled_from(names), TEXT), values, max_size=6)


RANDOM_EVENT = st.one_of(
    JSON_VALUES,
    loose_dict(EVENT_FIELDS, JSON_VALUES),
    st.fixed_dictionaries(
        {
            "version": st.one_of(st.sampled_from(["2.0", "1.0"]), JSON_VALUES),
            "requestContext": loose_dict(
                CONTEXT_FIELDS,
                st.one_of(loose_dict(HTTP_FIELDS, st.one_of(TEXT, JSON_VALUES)), JSON_VALUES),
            ),
        },
        optional={
            name: st.one_of(TEXT, loose_dict(HEADER_NAMES, st.one_of(TEXT, JSON_VALUES)))
            for name in EVENT_FIELDS
            if name not in ("version", "requestContext")
        },
    ),
)

HEADER_VALUES = st.one_of(
    st.sampled_from(["application/json", "text/plain", "8443", "example.com:8443", "chunked"]),
    TEXT,
)
QUERY_STRINGS = st.one_of(st.just(""), TEXT, st.sampled_from(["q=ü", "a=1&a=2", "q=%zz&%=="]))
# The apps' routes (each backend's and the others', which it answers 404), so that most events
# reach the views, with their own query or another; then anything at all.
ROUTES = sorted({route for backend in BACKENDS for route in backend.routes})
REQUEST_LINES = st.one_of(
    st.sampled_from(ROUTES),
    st.tuples(
        st.one_of(st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "DELETE", "get"]), TEXT),
        st.one_of(st.sampled_from(["/", ""]), TEXT.map(lambda text: "/" + text), TEXT),
        QUERY_STRINGS,
    ),
)
# The builders encode bodies as UTF-8: lone surrogates get into bodies by corruption instead.
BODIES = st.one_of(
    st.none(),
    st.builds(lambda text: json.dumps({"text": text}), st.text()),
    st.text(),
    st.binary(max_size=64),
)


@st.composite
def complete_event(draw: st.DrawFn) -> dict[str, Any]:
    """A whole v2 or v1 event, from the same builders the handler tests use."""
    method, path, query = draw(REQUEST_LINES)
    headers = {"content-type": "application/json"} if draw(st.booleans()) else {}
    headers.update(draw(st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_VALUES, max_size=2)))
    body = draw(BODIES)
    as_base64 = draw(st.booleans())
    if draw(st.booleans()):
        return http_api_v2_event(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            as_base64=as_base64,
            cookies=draw(st.lists(TEXT, max_size=2)),
        )
    parameters = parse_qs(query) or draw(
        st.dictionaries(TEXT, st.lists(TEXT, min_size=1, max_size=2), max_size=2)
    )
    return rest_v1_event(
        method, path, query=parameters, headers=headers, body=body, as_base64=as_base64
    )


def field_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path (keys and indexes, outermost first) of every field inside `value`."""
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    paths = []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(field_paths(child, (*prefix, key)))
    return paths


def retyped(value: Any) -> list[Any]:
    """The same content in other types: what a hand-written or mangled event might carry."""
    return [None, 0, 1.5, True, str(value), [value], {"value": value}, b"\xff\xfe"]


@st.composite
def corrupted_event(draw: st.DrawFn) -> dict[str, Any]:
    """A complete event with one to four fields removed, replaced, retyped or spliced into."""
    event = draw(complete_event())
    for _ in range(draw(st.integers(1, 4))):
        # Hypothesis favours the first choices: those are the fields a client fills in, the
        # fields that make an event an HTTP one come last.
        paths = field_paths(event)[::-1]
        if not paths:
            break
        *parents, key = draw(st.sampled_from(paths))
        parent = event
        for step in parents:
            parent = parent[step]
        value = parent[key]
        change = draw(st.sampled_from(["remove", "replace", "retype", "splice", "add", "flip"]))
        if change == "remove":
            del parent[key]
        elif change == "replace":
            parent[key] = draw(JSON_VALUES)
        elif change == "retype":
            parent[key] = draw(st.sampled_from(retyped(value)))
        elif change == "splice" and isinstance(value, str):
            at = draw(st.integers(0, len(value)))
            parent[key] = value[:at] + draw(TEXT) + value[at:]
        elif change == "add" and isinstance(value, dict):
            value[draw(st.one_of(st.sampled_from(HEADER_NAMES), TEXT))] = draw(
                st.one_of(TEXT, JSON_VALUES)
            )
        elif change == "flip":
            event["isBase64Encoded"] = not event.get("isBase64Encoded")
    return event


def answered_method(event: Any) -> str:
    """The method the app sees (Flask upper-cases it), as far as the event says."""
    if not isinstance(event, dict):
        return ""
    method = event.get("httpMethod")
    context = event.get("requestContext")
    if event.get("version") == "2.0" and isinstance(context, dict):
        http = context.get("http")
        method = http.get("method") if isinstance(http, dict) else None
    return method.upper() if isinstance(method, str) else ""


def assert_within_contract(event: Any, answer: Any, context: LambdaContext) -> None:
    assert isinstance(answer, dict), answer
    if answer == {"warmed": True}:
        assert isinstance(event, dict) and event.get("source") == "aws.events"
        return
    status = answer["statusCode"]
    assert type(status) is int, answer
    assert 200 <= status < 500, answer
    if status < 400:
        return
    headers = answer["headers"]
    assert headers["content-type"] == "application/json", answer
    assert headers["x-request-id"] == context.aws_request_id, answer
    assert answer["isBase64Encoded"] is False, answer
    if answered_method(event) == "HEAD" and answer["body"] == "":
        return  # A HEAD answer has the headers of the GET answer and no body.
    body = json.loads(answer["body"])
    assert set(body) == {"error"}, answer
    assert set(body["error"]) == {"code", "message"}, answer
    assert SNAKE_CASE.fullmatch(body["error"]["code"]), answer
    message = body["error"]["message"]
    assert isinstance(message, str) and message.endswith("."), answer


def send(handler: Handler, event: Any) -> None:
    """Send one event; check the answer, and that the caller's event is left as it was."""
    context = LambdaContext()
    sent = repr(event)
    answer = handler(event, context)
    assert repr(event) == sent, "the handler modified the caller's event"
    assert_within_contract(event, answer, context)


@settings(FUZZ, max_examples=RANDOM_EVENTS)
@given(event=RANDOM_EVENT)
def test_random_events_are_answered_within_the_contract(handler: Handler, event: Any) -> None:
    send(handler, event)


@settings(FUZZ, max_examples=CORRUPTED_EVENTS)
@given(event=corrupted_event())
def test_corrupted_events_are_answered_within_the_contract(
    handler: Handler, event: dict[str, Any]
) -> None:
    send(handler, event)


@pytest.mark.parametrize("kind", ["v2", "v1", "warm-up"])
def test_the_contract_check_accepts_real_answers(
    handler: Handler, backend: Backend, kind: str
) -> None:
    """The fuzz tests' check passes the answers to real events, so its failures mean something."""
    path, query = backend.ok_request
    event = {
        "v2": lambda: http_api_v2_event("GET", path, query=query),
        "v1": lambda: rest_v1_event("GET", path, query=parse_qs(query) or None),
        "warm-up": scheduled_event,
    }[kind]()
    context = LambdaContext()
    answer = handler(event, context)

    assert_within_contract(event, answer, context)
    assert answer == {"warmed": True} or answer["statusCode"] == 200


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": 500, "headers": {"content-type": "application/json"}, "body": "{}"},
        {"statusCode": "400", "headers": {}, "body": ""},
        {"statusCode": 404, "headers": {"content-type": "text/plain"}, "body": "Not Found"},
        {"statusCode": 400, "headers": {"content-type": "application/json"}, "body": "{}"},
        None,
    ],
    ids=["5xx", "text-status", "plain-text-error", "other-json", "none"],
)
def test_the_contract_check_refuses_answers_outside_it(answer: Any) -> None:
    context = LambdaContext()
    event = http_api_v2_event("GET", "/health")
    if isinstance(answer, dict):
        answer["headers"]["x-request-id"] = context.aws_request_id
        answer["isBase64Encoded"] = False

    with pytest.raises((AssertionError, KeyError)):
        assert_within_contract(event, answer, context)


def test_corrupted_events_start_from_complete_ones() -> None:
    """The corruption works on whole real-shaped events: every field of both payloads is in
    reach of a change."""
    v2 = http_api_v2_event("POST", "/x", query="a=1", body="b", cookies=["c=d"])
    v1 = rest_v1_event("POST", "/x", query={"a": ["1"]}, body=b"b")

    assert ("requestContext", "http", "method") in field_paths(v2)
    assert ("cookies", 0) in field_paths(v2)
    assert ("multiValueQueryStringParameters", "a", 0) in field_paths(v1)
    assert ("requestContext", "identity", "sourceIp") in field_paths(v1)
