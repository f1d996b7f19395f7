"""Any body, any bytes: seeded fuzzing of analyze bodies through `lambda_handler.handler`.

The event fuzz test varies the event around a body; this one varies the body (tests/bodies.py):
random JSON trees and depths, every code point with lone surrogates as JSON escapes, huge and
odd numbers, duplicate keys, wrong types, truncated and corrupted JSON, other charsets, as text
or base64 in v2 and v1 events. With the offline provider nothing can fail upstream, so every
answer is a 200 analysis or the API's JSON 4xx (pitfall 40).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.backend.test_events_fuzz import FUZZ, Handler, assert_within_contract
from tests.bodies import Body, analyze_bodies
from tests.events import LambdaContext, http_api_v2_event, rest_v1_event

BODIES = 2_000
ANALYZE = "/api/iris/analyze"


@pytest.fixture
def handler(start_container: Callable[..., Any]) -> Handler:
    return start_container(IRIS_LLM_PROVIDER="offline").handler


def analyze_event(body: Body, as_base64: bool, payload_v2: bool) -> dict[str, Any]:
    """An analyze event carrying the body as text (lone surrogates and all, as a JSON event can)
    or in base64 (bytes always are)."""
    headers = {} if body.content_type is None else {"content-type": body.content_type}
    build = http_api_v2_event if payload_v2 else rest_v1_event
    event = build("POST", ANALYZE, headers=headers)
    if isinstance(body.content, str) and not as_base64:
        event["body"], event["isBase64Encoded"] = body.content, False
    else:
        event["body"] = base64.b64encode(body.as_bytes()).decode("ascii")
        event["isBase64Encoded"] = True
    return event


def assert_analysis_or_client_error(event: dict[str, Any], answer: dict[str, Any]) -> None:
    assert answer["statusCode"] in (200, 400, 413, 415), answer
    if answer["statusCode"] == 200:
        assert set(json.loads(answer["body"])) >= {"analysis", "model", "cached"}, answer


@settings(FUZZ, max_examples=BODIES)
@given(body=analyze_bodies(), as_base64=st.booleans(), payload_v2=st.booleans())
def test_any_analyze_body_is_answered_within_the_contract(
    handler: Handler, body: Body, as_base64: bool, payload_v2: bool
) -> None:
    event = analyze_event(body, as_base64, payload_v2)
    context = LambdaContext()

    answer = handler(event, context)

    assert_within_contract(event, answer, context)
    assert_analysis_or_client_error(event, answer)


DEEP = 100_000


@pytest.mark.parametrize(
    ("content", "code", "named"),
    [
        ("[" * DEEP + "]" * DEEP, "invalid_json", None),
        ('{"text": ' + "[" * DEEP + "]" * DEEP + "}", "invalid_json", None),
        ('{"text": ' + '{"a":' * DEEP + "1" + "}" * DEEP + "}", "invalid_json", None),
        ('{"text": "cut mid-emoji \\ud83d"}', "invalid_field", "'text'"),
        ('{"text": "\\udc00 alone"}', "invalid_field", "'text'"),
        ('{"text": ' + "9" * 4_301 + "}", "invalid_json", None),
        ('{"text": "x", "n": ' + "9" * 50_000 + "}", "invalid_json", None),
        ('{"text": "a"} trailing', "invalid_json", None),
        ('{"text": "raw \x00 control"}', "invalid_json", None),
    ],
    ids=[
        "deep-array",
        "deep-text",
        "deep-object",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "huge-int-text",
        "huge-int-elsewhere",
        "trailing-data",
        "raw-nul",
    ],
)
def test_bodies_the_parser_or_the_encoder_trip_over_are_client_errors(
    handler: Handler, content: str, code: str, named: str | None
) -> None:
    event = analyze_event(Body(content, "application/json"), as_base64=False, payload_v2=True)
    answer = handler(event, LambdaContext())

    assert answer["statusCode"] == 400, answer
    error = json.loads(answer["body"])["error"]
    assert error["code"] == code
    if named is not None:
        assert named in error["message"]


@pytest.mark.parametrize(
    "text",
    ["nul \u0000 inside", "bell \u0007 and escape \u001b", "\u0000", "del \u007f, nel \u0085"],
    ids=["nul", "c0-controls", "only-nul", "del-and-c1"],
)
def test_control_characters_written_as_escapes_are_analysed(handler: Handler, text: str) -> None:
    event = analyze_event(Body(json.dumps({"text": text}), "application/json"), False, True)
    answer = handler(event, LambdaContext())

    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["analysis"]
