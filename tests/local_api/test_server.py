"""The local API over real HTTP, in front of the real Lambda handler and authorizer."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from mangum import Mangum

from iris_infra.components.routes import Route
from local_api.apps import IRIS, build_api
from local_api.cors import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_MAX_AGE_SECONDS,
    CorsPolicy,
)
from local_api.gateway import PAYLOAD_LIMIT_BYTES, LocalHttpApi
from tests.local_api.support import ALLOWED_ORIGIN, OTHER_ORIGIN, Recorder, call, iris_api

KEY_1 = "local-key-1-5b0e3c9a7d214f68"
KEY_2 = "local-key-2-c41f9e7a0b3d2e85"
ORIGINS = (ALLOWED_ORIGIN, "http://127.0.0.1:5173")
JSON = ("Content-Type", "application/json")

Serve = Callable[[object], str]


def real_api(recorder: Recorder | None = None) -> LocalHttpApi:
    """The app `python -m local_api` serves, built from the test's environment."""
    api = build_api(IRIS, ORIGINS, os.environ)
    if recorder is not None:
        recorder.handler, api.functions["api"] = api.functions["api"], recorder
    return api


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(real_api())


@pytest.fixture
def keyed_url(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local API with API keys configured, as the stack with `apiKeys` set."""
    monkeypatch.setenv("IRIS_API_KEYS", f"{KEY_1},{KEY_2}")
    return serve(real_api())


def test_health_answers_through_the_real_handler(url: str) -> None:
    reply = call(url, "GET", "/health")

    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"status": "ok"}
    assert reply.headers["X-Request-Id"]


def test_analyze_answers_offline_through_the_real_handler(url: str) -> None:
    reply = call(
        url,
        "POST",
        "/api/iris/analyze",
        headers=[JSON],
        body=json.dumps({"text": "Sepal 5.1 cm, petal 1.4 cm — which iris?"}).encode(),
    )

    assert reply.status == 200, reply.body
    answer = reply.json()
    assert answer["analysis"]
    assert "offline" in answer["model"]
    assert answer["cached"] is False


def test_a_chunked_body_without_content_length_reaches_the_app(url: str) -> None:
    """No content-length in the event (pitfall 3): the handler must still pass the body on."""
    reply = call(
        url,
        "POST",
        "/api/iris/analyze",
        headers=[JSON],
        body=json.dumps({"text": "chunked iris text"}).encode(),
        chunked=True,
    )

    assert reply.status == 200, reply.body
    assert reply.json()["analysis"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/", 404, "not_found"),
        ("POST", "/health", 405, "method_not_allowed"),
    ],
)
def test_other_routes_reach_the_function_through_default(
    url: str, method: str, path: str, status: int, code: str
) -> None:
    reply = call(url, method, path)

    assert reply.status == status
    assert reply.json()["error"]["code"] == code


def test_preflight_from_an_allowed_origin_is_answered_by_the_gateway(serve: Serve) -> None:
    recorder = Recorder()
    url = serve(real_api(recorder))

    reply = call(
        url,
        "OPTIONS",
        "/api/iris/analyze",
        headers=[
            ("Origin", ALLOWED_ORIGIN),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-api-key"),
        ],
    )

    assert reply.status == 204
    assert reply.body == b""
    assert reply.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert reply.headers["Access-Control-Allow-Methods"] == ",".join(CORS_ALLOW_METHODS)
    assert reply.headers["Access-Control-Allow-Headers"] == ",".join(CORS_ALLOW_HEADERS)
    assert reply.headers["Access-Control-Max-Age"] == str(CORS_MAX_AGE_SECONDS)
    assert recorder.events == []


def test_preflight_from_another_origin_gets_no_cors_headers(url: str) -> None:
    reply = call(
        url,
        "OPTIONS",
        "/api/iris/analyze",
        headers=[("Origin", OTHER_ORIGIN), ("Access-Control-Request-Method", "POST")],
    )

    assert reply.status == 204
    assert not [name for name in reply.headers if name.lower().startswith("access-control-")]


def test_an_actual_request_from_an_allowed_origin_gets_the_gateway_cors_headers(url: str) -> None:
    reply = call(url, "GET", "/api/iris/health", headers=[("Origin", "http://127.0.0.1:5173")])

    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert reply.headers["Access-Control-Expose-Headers"] == "x-request-id,retry-after"
    assert reply.headers["X-Request-Id"]


def test_an_actual_request_from_another_origin_gets_no_cors_headers(url: str) -> None:
    reply = call(url, "GET", "/api/iris/health", headers=[("Origin", OTHER_ORIGIN)])

    assert reply.status == 200
    assert "Access-Control-Allow-Origin" not in reply.headers


def test_cors_headers_from_the_function_are_replaced_by_the_gateway(serve: Serve) -> None:
    """API Gateway ignores the integration's CORS headers when CORS is configured."""

    def permissive_function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "statusCode": 200,
            "headers": {
                "content-type": "application/json",
                "access-control-allow-origin": "*",
                "access-control-allow-credentials": "true",
            },
            "body": "{}",
        }

    url = serve(iris_api(permissive_function, ORIGINS))

    from_other = call(url, "GET", "/health", headers=[("Origin", OTHER_ORIGIN)])
    from_allowed = call(url, "GET", "/health", headers=[("Origin", ALLOWED_ORIGIN)])

    assert not [name for name in from_other.headers if name.lower().startswith("access-control")]
    assert from_allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Access-Control-Allow-Credentials" not in from_allowed.headers


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ([], 401, {"message": "Unauthorized"}),
        ([("X-API-Key", "")], 401, {"message": "Unauthorized"}),
        ([("X-API-Key", KEY_1[:-1])], 403, {"message": "Forbidden"}),
        ([("X-API-Key", f"{KEY_1},{KEY_2}")], 403, {"message": "Forbidden"}),
        ([("X-API-Key", KEY_1), ("X-API-Key", KEY_2)], 403, {"message": "Forbidden"}),
    ],
    ids=["no-key", "empty-key", "wrong-key", "both-keys-in-one", "header-twice"],
)
def test_guarded_routes_refuse_without_a_valid_key(
    keyed_url: str, headers: list[tuple[str, str]], status: int, body: dict[str, str]
) -> None:
    reply = call(keyed_url, "GET", "/api/iris/health", headers=headers)

    assert (reply.status, reply.json()) == (status, body)


@pytest.mark.parametrize("key", [KEY_1, KEY_2])
def test_guarded_routes_answer_with_either_rotation_key(keyed_url: str, key: str) -> None:
    health = call(keyed_url, "GET", "/api/iris/health", headers=[("X-API-Key", key)])
    analyze = call(
        keyed_url,
        "POST",
        "/api/iris/analyze",
        headers=[("X-API-Key", key), JSON],
        body=b'{"text": "petal width 0.2 cm"}',
    )

    assert health.status == 200 and health.json()["status"] == "ok"
    assert analyze.status == 200, analyze.body


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/api/iris/nope", 404, "not_found"),
        ("GET", "/api/iris/analyze", 405, "method_not_allowed"),
        ("DELETE", "/api/iris/analyze", 405, "method_not_allowed"),
        ("PUT", "/api/iris/health", 405, "method_not_allowed"),
    ],
)
def test_every_path_under_api_iris_needs_a_key(
    keyed_url: str, method: str, path: str, status: int, code: str
) -> None:
    without_key = call(keyed_url, method, path)
    with_key = call(keyed_url, method, path, headers=[("X-API-Key", KEY_1)])

    assert (without_key.status, without_key.json()) == (401, {"message": "Unauthorized"})
    assert with_key.status == status
    assert with_key.json()["error"]["code"] == code


def test_head_under_api_iris_needs_a_key(keyed_url: str) -> None:
    """HEAD has no body to check, so only the status: the gateway, not the app, says no."""
    assert call(keyed_url, "HEAD", "/api/iris/health").status == 401
    assert call(keyed_url, "HEAD", "/api/iris/health", headers=[("X-API-Key", KEY_1)]).status == 200


@pytest.mark.parametrize(
    ("path", "requested_method"),
    [("/api/iris/nope", "POST"), ("/api/iris/analyze", "DELETE"), ("/api/iris/analyze", "POST")],
)
def test_preflights_under_api_iris_need_no_key(
    keyed_url: str, path: str, requested_method: str
) -> None:
    reply = call(
        keyed_url,
        "OPTIONS",
        path,
        headers=[("Origin", ALLOWED_ORIGIN), ("Access-Control-Request-Method", requested_method)],
    )

    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_a_greedy_route_event_carries_its_route_key_and_path_parameters(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRIS_API_KEYS", KEY_1)
    recorder = Recorder()
    url = serve(real_api(recorder))

    reply = call(url, "GET", "/api/iris/some/where", headers=[("X-API-Key", KEY_1)])

    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"
    (event,) = recorder.events
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /api/iris/{proxy+}"
    assert event["pathParameters"] == {"proxy": "some/where"}
    assert event["rawPath"] == "/api/iris/some/where"
    assert event["requestContext"]["authorizer"] == {"lambda": {"keySlot": "key-1"}}


def test_open_routes_and_preflights_need_no_key(keyed_url: str) -> None:
    health = call(keyed_url, "GET", "/health")
    preflight = call(
        keyed_url,
        "OPTIONS",
        "/api/iris/analyze",
        headers=[("Origin", ALLOWED_ORIGIN), ("Access-Control-Request-Method", "POST")],
    )

    assert health.status == 200
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_a_refusal_to_an_allowed_origin_carries_cors_headers(keyed_url: str) -> None:
    """As on AWS, so the browser app can read the 401/403 instead of a CORS error."""
    reply = call(keyed_url, "POST", "/api/iris/analyze", headers=[("Origin", ALLOWED_ORIGIN)])

    assert reply.status == 401
    assert reply.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def test_the_function_sees_the_authorizer_context_and_never_refused_requests(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IRIS_API_KEYS", f"{KEY_1},{KEY_2}")
    recorder = Recorder()
    url = serve(real_api(recorder))

    call(url, "GET", "/api/iris/health", headers=[("X-API-Key", "wrong")])
    call(url, "GET", "/api/iris/health")
    reply = call(url, "GET", "/api/iris/health", headers=[("X-API-Key", KEY_2)])

    assert reply.status == 200
    (event,) = recorder.events
    assert event["routeKey"] == "GET /api/iris/health"
    assert event["requestContext"]["authorizer"] == {"lambda": {"keySlot": "key-2"}}


def test_a_failing_function_gets_the_gateway_500(serve: Serve) -> None:
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    url = serve(iris_api(broken, ORIGINS))

    reply = call(url, "GET", "/health")

    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert b"secret internals" not in reply.body


def test_the_request_becomes_a_complete_payload_2_event(serve: Serve) -> None:
    recorder = Recorder()
    url = serve(real_api(recorder))

    reply = call(
        url,
        "GET",
        "/api/iris/health?tag=a&tag=b&q=petal%20length&empty=",
        headers=[
            ("Cookie", "session=abc; theme=dark"),
            ("X-Trace", "one"),
            ("X-Trace", "two"),
            ("User-Agent", "local-api-test/1.0"),
            ("Origin", ALLOWED_ORIGIN),
        ],
    )

    assert reply.status == 200
    (event,) = recorder.events
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /api/iris/health"
    assert event["rawPath"] == "/api/iris/health"
    assert event["rawQueryString"] == "tag=a&tag=b&q=petal%20length&empty="
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "petal length", "empty": ""}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-trace"] == "one,two"
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["origin"] == ALLOWED_ORIGIN
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == url.rsplit(":", 1)[1]
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert event["isBase64Encoded"] is False
    assert "body" not in event and "pathParameters" not in event
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/api/iris/health",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "local-api-test/1.0",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == "GET /api/iris/health"
    assert context["requestId"].endswith("=")
    assert isinstance(context["timeEpoch"], int)
    lambda_context = recorder.contexts[0]
    assert lambda_context.aws_request_id == reply.headers["X-Request-Id"]
    assert lambda_context.function_name
    assert 0 < lambda_context.get_remaining_time_in_millis() <= 30_000


def test_multiple_cookies_come_back_as_separate_set_cookie_headers(serve: Serve) -> None:
    def sets_cookies(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "statusCode": 201,
            "headers": {"content-type": "text/plain"},
            "cookies": ["a=1; Path=/; HttpOnly", "b=2; Max-Age=60, c=3"],
            "body": "made",
        }

    url = serve(iris_api(sets_cookies, ORIGINS))

    reply = call(url, "GET", "/health")

    assert reply.status == 201
    assert reply.headers.get_all("Set-Cookie") == ["a=1; Path=/; HttpOnly", "b=2; Max-Age=60, c=3"]
    assert reply.body == b"made"


def test_a_body_over_the_gateway_quota_is_refused_unread(serve: Serve) -> None:
    recorder = Recorder()
    url = serve(iris_api(recorder, ORIGINS))

    reply = call(
        url,
        "POST",
        "/api/iris/analyze",
        headers=[JSON, ("Content-Length", str(PAYLOAD_LIMIT_BYTES + 1))],
    )

    assert (reply.status, reply.json()) == (413, {"message": "Request Entity Too Large"})
    assert recorder.events == []


def test_an_asgi_handler_finds_an_event_loop_on_every_request_thread(serve: Serve) -> None:
    """Lambda calls a handler on its main thread, where Mangum's `asyncio.get_event_loop()`
    makes a loop; each request thread here must have one too (pitfall 7)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"status": "ok"}'})

    url = serve(iris_api(Mangum(app, lifespan="off"), ORIGINS))

    replies = [call(url, "GET", "/health") for _ in range(3)]

    assert [(reply.status, reply.json()) for reply in replies] == [(200, {"status": "ok"})] * 3


def test_a_table_without_default_leaves_unmatched_requests_to_the_gateway(serve: Serve) -> None:
    recorder = Recorder()
    api = LocalHttpApi(
        (Route("GET /health", "api"),), {"api": recorder}, CorsPolicy(allow_origins=ORIGINS)
    )
    url = serve(api)

    reply = call(url, "GET", "/elsewhere")

    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
    assert recorder.events == []


def test_a_table_api_gateway_would_refuse_is_refused_naming_the_route() -> None:
    with pytest.raises(ValueError, match="route 'GET /stats' reaches function 'stats'"):
        LocalHttpApi(
            (Route("GET /health", "api"), Route("GET /stats", "stats")),
            {"api": Recorder()},
            CorsPolicy(allow_origins=ORIGINS),
        )
