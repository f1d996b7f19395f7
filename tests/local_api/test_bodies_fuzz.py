"""Any body, any bytes, over HTTP: the local API turns each into the event API Gateway would
send (text or base64 by content type) for the real handler, offline; every answer is a 200
analysis or the API's JSON 4xx, as through the deployed path (tests/backend's twin)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings

import lambda_handler
import server
from tests.backend.test_events_fuzz import FUZZ, SNAKE_CASE
from tests.bodies import Body, analyze_bodies
from tests.local_api.support import ALLOWED_ORIGIN, call, iris_api

ORIGINS = (ALLOWED_ORIGIN,)
BODIES = 500


@pytest.fixture
def url(serve: Callable[[object], str]) -> Iterator[str]:
    """The local API around a fresh offline container, as `python -m local_api` runs it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IRIS_LLM_PROVIDER", "offline")
        importlib.reload(server)
        importlib.reload(lambda_handler)
        yield serve(iris_api(lambda_handler.handler, ORIGINS))


def post(url: str, body: Body) -> tuple[int, str | None, bytes]:
    headers = [] if body.content_type is None else [("Content-Type", body.content_type)]
    reply = call(url, "POST", "/api/iris/analyze", headers=headers, body=body.as_bytes())
    return reply.status, reply.headers.get("Content-Type"), reply.body


def assert_within_contract(status: int, content_type: str | None, raw: bytes) -> None:
    assert status in (200, 400, 413, 415), (status, raw)
    assert content_type == "application/json", (status, raw)
    answer = json.loads(raw)
    if status == 200:
        assert set(answer) >= {"analysis", "model", "cached"}, answer
        return
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, answer
    assert SNAKE_CASE.fullmatch(answer["error"]["code"]), answer


@settings(FUZZ, max_examples=BODIES)
@given(body=analyze_bodies())
def test_any_analyze_body_is_answered_within_the_contract(url: str, body: Body) -> None:
    assert_within_contract(*post(url, body))


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ('{"text": ' + "[" * 50_000 + "]" * 50_000 + "}", "invalid_json"),
        ('{"text": "cut mid-emoji \\ud83d"}', "invalid_field"),
        ('{"text": ' + "9" * 4_301 + "}", "invalid_json"),
    ],
    ids=["deep", "lone-surrogate", "huge-int"],
)
def test_the_known_culprits_are_client_errors(url: str, content: str, code: str) -> None:
    status, content_type, raw = post(url, Body(content, "application/json"))

    assert status == 400, raw
    assert json.loads(raw)["error"]["code"] == code


def test_the_contract_check_refuses_answers_outside_it() -> None:
    error = json.dumps({"error": {"code": "internal_error", "message": "Failed."}}).encode()
    cases: list[Callable[[], None]] = [
        lambda: assert_within_contract(500, "application/json", error),
        lambda: assert_within_contract(400, "text/plain", b"Bad Request"),
        lambda: assert_within_contract(400, "application/json", b'{"message": "x"}'),
    ]
    for case in cases:
        with pytest.raises(AssertionError):
            case()
