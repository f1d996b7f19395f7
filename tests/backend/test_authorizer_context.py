"""With IRIS_REQUIRE_AUTHORIZER (set beside apiKeys), /api/iris/* is served only to events that
carry the authorizer's context, however the path is spelt and whatever route matched it; the
path Flask routes on is the one API Gateway delivered, not decoded again (pitfall 41).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from iris.authorizer_context import GUARDED_PREFIX, path_shape
from lambda_kit.guard import authorizer_ran, is_guarded_path
from tests.backend.conftest import Container
from tests.events import LambdaContext, http_api_v2_event, rest_v1_event

API_KEY = "iris-test-key-2b7d0e9c41f3a8"
TEXT = "Sepal 5.1 cm, petal 1.4 cm"
CONTEXT = {"keySlot": "key-1"}

# (method, the canonical path, the route API Gateway gives it) for every guarded route.
GUARDED = [
    ("POST", "/api/iris/analyze", "POST /api/iris/analyze"),
    ("GET", "/api/iris/health", "GET /api/iris/health"),
    ("GET", "/api/iris/elsewhere", "GET /api/iris/{proxy+}"),
]


def spellings(path: str) -> dict[str, str]:
    """Other spellings of a path, as an event may carry them after API Gateway's decoding."""
    head, _, tail = path.removeprefix("/api/iris/").partition("/")
    return {
        "encoded-letter": "/api/%69ris/" + path.removeprefix("/api/iris/"),
        "encoded-first": "/%61pi/iris/" + path.removeprefix("/api/iris/"),
        "encoded-last": f"/api/iris/%{ord(head[0]):02x}{head[1:]}{tail}",
        "double-encoded": "/api/%2569ris/" + path.removeprefix("/api/iris/"),
        "slash-upper": "/api/iris%2F" + path.removeprefix("/api/iris/"),
        "slash-lower": "/api%2firis%2f" + path.removeprefix("/api/iris/"),
        "slash-double-encoded": "/api/iris%252F" + path.removeprefix("/api/iris/"),
        "upper-case": path.upper(),
        "mixed-case": "/Api/IRIS/" + path.removeprefix("/api/iris/"),
        "repeated-slashes": "/" + path.replace("/", "//"),
        "trailing-slash": path + "/",
    }


CASES = [
    pytest.param(method, canonical, route_key, variant, id=f"{canonical}-{name}")
    for method, canonical, route_key in GUARDED
    for name, variant in {"canonical": canonical, **spellings(canonical)}.items()
]


def guarded_event(
    method: str, path: str, route_key: str, *, context: dict[str, Any] | None
) -> dict[str, Any]:
    body = json.dumps({"text": TEXT}) if method == "POST" else None
    event = http_api_v2_event(
        method,
        path,
        headers={"content-type": "application/json", "x-api-key": API_KEY},
        body=body,
        route_key=route_key,
    )
    if context is not None:
        event["requestContext"]["authorizer"] = {"lambda": context}
    return event


@pytest.fixture
def guarded(start_container: Callable[..., Container]) -> Container:
    return start_container(IRIS_LLM_PROVIDER="offline", IRIS_REQUIRE_AUTHORIZER="true")


@pytest.fixture
def open_api(start_container: Callable[..., Container]) -> Container:
    return start_container(IRIS_LLM_PROVIDER="offline")


@dataclass
class Reply:
    status: int
    body: Any


def send(container: Container, event: dict[str, Any]) -> Reply:
    """The handler's answer; JSON, or werkzeug's HTML for the redirect of a path with
    repeated slashes (to the canonical path, which API Gateway then guards)."""
    answer = container.handler(event, LambdaContext())
    if answer["headers"]["content-type"] == "application/json":
        return Reply(answer["statusCode"], json.loads(answer["body"]))
    assert answer["statusCode"] == 308, answer
    return Reply(308, None)


def assert_only_the_canonical_path_is_served(reply: Reply, path: str, canonical: str) -> None:
    """The canonical path gets the route's own answer (a 404 for a path no view has); any
    other spelling an error or a redirect, never the view's answer."""
    if path == canonical:
        assert reply.status == (404 if canonical == "/api/iris/elsewhere" else 200), reply
    else:
        assert reply.status in (308, 404, 405), reply


@pytest.mark.parametrize("route_key", ["own", "$default"])
@pytest.mark.parametrize(("method", "canonical", "own_route", "path"), CASES)
def test_without_the_authorizers_context_no_spelling_of_a_guarded_path_is_served(
    guarded: Container, method: str, canonical: str, own_route: str, path: str, route_key: str
) -> None:
    event = guarded_event(
        method, path, own_route if route_key == "own" else "$default", context=None
    )
    answer = guarded.invoke(event)

    assert answer.status == 401, answer.body
    assert answer.body == {
        "error": {
            "code": "unauthorized",
            "message": "This route needs a valid API key, checked by the API's authorizer: "
            "send it in the X-API-Key header.",
        }
    }


@pytest.mark.parametrize("require", [True, False], ids=["required", "not-required"])
@pytest.mark.parametrize(("method", "canonical", "own_route", "path"), CASES)
def test_with_the_context_only_the_path_api_gateway_matched_reaches_the_view(
    start_container: Callable[..., Container],
    method: str,
    canonical: str,
    own_route: str,
    path: str,
    require: bool,
) -> None:
    """Decoded once: a `%` that survived API Gateway's decoding is not decoded again, so only
    the canonical path is the route's own; every other spelling is an error, never a serving."""
    environment = {"IRIS_REQUIRE_AUTHORIZER": "true"} if require else {}
    container = start_container(IRIS_LLM_PROVIDER="offline", **environment)
    for route_key in (own_route, "$default"):
        reply = send(container, guarded_event(method, path, route_key, context=CONTEXT))

        assert_only_the_canonical_path_is_served(reply, path, canonical)


@pytest.mark.parametrize(("method", "canonical", "own_route", "path"), CASES)
def test_without_the_setting_nothing_changes_for_clients(
    open_api: Container, method: str, canonical: str, own_route: str, path: str
) -> None:
    """No apiKeys: no authorizer and no context, the canonical paths are served as before."""
    for route_key in (own_route, "$default"):
        reply = send(open_api, guarded_event(method, path, route_key, context=None))

        assert_only_the_canonical_path_is_served(reply, path, canonical)


@pytest.mark.parametrize(
    "authorizer",
    [
        {"lambda": {}},
        {"lambda": {"keySlot": ""}},
        {"lambda": {"keySlot": "admin"}},
        {"lambda": {"keySlot": "key-0"}},
        {"lambda": {"keySlot": 1}},
        {"lambda": "key-1"},
        {"keySlot": "key-1"},
        {"jwt": {"claims": {"sub": "x"}}},
        None,
        "key-1",
    ],
    ids=[
        "empty",
        "blank-slot",
        "not-a-slot",
        "slot-zero",
        "number",
        "lambda-is-text",
        "context-outside-lambda",
        "jwt",
        "null",
        "text",
    ],
)
def test_anything_but_our_authorizers_context_is_refused(guarded: Container, authorizer: Any):
    event = guarded_event("POST", "/api/iris/analyze", "POST /api/iris/analyze", context=None)
    event["requestContext"]["authorizer"] = authorizer

    assert guarded.invoke(event).status == 401


def test_the_authorizers_own_answer_is_accepted(
    guarded: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The context the function checks for is the one authorizer.handler returns."""
    monkeypatch.setenv("IRIS_API_KEYS", API_KEY)
    import authorizer

    event = guarded_event("POST", "/api/iris/analyze", "POST /api/iris/analyze", context=None)
    decision = authorizer.handler({**event, "identitySource": [API_KEY]}, None)
    assert decision["isAuthorized"] is True
    event["requestContext"]["authorizer"] = {"lambda": decision["context"]}

    answer = guarded.invoke(event)
    assert answer.status == 200, answer.body
    assert answer.body["analysis"]


def test_a_v1_event_is_checked_too(guarded: Container) -> None:
    event = rest_v1_event(
        "POST",
        "/api/%69ris/analyze",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"text": TEXT}),
    )
    assert guarded.invoke(event).status == 401


def test_open_paths_stay_open(guarded: Container) -> None:
    assert guarded.invoke(http_api_v2_event("GET", "/health", route_key="GET /health")).status == (
        200
    )
    missing = guarded.invoke(http_api_v2_event("GET", "/nowhere"))
    assert (missing.status, missing.body["error"]["code"]) == (404, "not_found")


def test_a_refusal_is_logged_with_the_route_and_the_paths_shape_only(
    guarded: Container, logs: Callable[[], list[dict[str, Any]]]
) -> None:
    event = guarded_event("POST", "/api/%2569ris/analyze", "$default", context=None)
    context = LambdaContext()
    logs()

    guarded.invoke(event, context)

    (line,) = [entry for entry in logs() if entry["message"].startswith("unauthorized")]
    assert line["level"] == "WARNING"
    assert line["routeKey"] == "$default"
    assert line["path_shape"] == "/api/<8%>/analyze"
    assert line["requestId"] == context.aws_request_id
    everything = json.dumps(line)
    assert API_KEY not in everything and TEXT not in everything and "2569" not in everything


@pytest.mark.parametrize(
    ("path", "guarded"),
    [
        ("/api/iris", True),
        ("/api/iris/", True),
        ("/API/Iris/x", True),
        ("///api//iris//analyze", True),
        ("/api/%69ris/analyze", True),
        ("/api/%25%36%39ris/analyze", True),
        ("/api%2Firis", True),
        ("/api/irisx", False),
        ("/api/ir%zzis", False),
        ("/health", False),
        ("", False),
    ],
)
def test_guarded_paths(path: str, guarded: bool) -> None:
    assert is_guarded_path(path, GUARDED_PREFIX) is guarded


def test_the_path_shape_keeps_route_words_only() -> None:
    assert path_shape("/api/iris/analyze") == "/api/iris/analyze"
    assert path_shape("/api/secret-ish/%41") == "/api/<10>/<3%>"
    assert path_shape("/a" * 20).endswith("/<1>/<13 more>")


def test_authorizer_ran_reads_only_the_lambda_context() -> None:
    assert authorizer_ran({"requestContext": {"authorizer": {"lambda": CONTEXT}}})
    assert not authorizer_ran({"requestContext": {"authorizer": {"lambda": {}}}})
    assert not authorizer_ran(None)
