"""`lambda_kit.events`: which API Gateway events the adapters can read, and the copy they are given.

The whole answers to such events (status, headers, body) are checked through the real handler
in test_handler.py; these tests hold each function to its own job. Item numbers refer to the
project's docs/pitfalls.md list.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lambda_kit.events import (
    adapted_event,
    ascii_query,
    body_length,
    is_http_event,
    undecodable_path,
    unreadable_field,
)
from tests.events import http_api_v2_event, rest_v1_event

UTF8_TEXT = "Grüße, 東京 🌸"


def v2(**fields: Any) -> dict[str, Any]:
    return {**http_api_v2_event("GET", "/health", cookies=["a=b"]), **fields}


def v1(**fields: Any) -> dict[str, Any]:
    return {**rest_v1_event("GET", "/health", query={"q": ["1"]}), **fields}


@pytest.mark.parametrize(
    "event",
    [
        http_api_v2_event("POST", "/x", query="a=1", body=UTF8_TEXT, cookies=["a=b"]),
        rest_v1_event("POST", "/x", query={"a": ["1", "2"]}, body=b"\x00\xff"),
        # API Gateway sends null for what a request does not have.
        v2(headers=None, rawQueryString=None, cookies=None, body=None, isBase64Encoded=None),
        v1(headers=None, multiValueHeaders=None, body=None),
        v1(queryStringParameters=None, multiValueQueryStringParameters=None),
        {
            "version": "2.0",
            "rawPath": "/",
            "requestContext": {"http": v2()["requestContext"]["http"]},
        },
        {"resource": "/", "path": "/", "httpMethod": "GET", "requestContext": {}},
        v1(requestContext={"identity": {"sourceIp": None}}),
        v2(headers={"host": "api.example.com:8443", "x-forwarded-port": "8443"}),
        v2(headers={"host": "api.example.com"}),
    ],
    ids=[
        "v2",
        "v1",
        "v2-nulls",
        "v1-null-headers",
        "v1-null-query",
        "v2-minimal",
        "v1-minimal",
        "v1-null-source-ip",
        "host-with-port",
        "host-without-port",
    ],
)
def test_complete_events_are_readable(event: dict[str, Any]) -> None:
    assert is_http_event(event)
    assert unreadable_field(event) is None


# test_handler.py sends an event for each field and checks the whole answer; these are the
# cases where finding the field takes more than a type check.
@pytest.mark.parametrize(
    ("event", "field"),
    [
        (v2(headers={b"accept": "*/*"}), "headers"),
        (v2(rawPath=None), "rawPath"),
        (v2(requestContext={"http": "GET /health"}), "requestContext.http.method"),
        (v2(headers={"Host": "[::1]:443"}), "headers.host"),
        (v2(headers={"host": "api.example.com:8443:1"}), "headers.host"),
        (v1(multiValueHeaders={"X-Forwarded-Port": ["443", "443"]}), "headers.x-forwarded-port"),
        (v1(requestContext={"identity": {"sourceIp": 7}}), "requestContext.identity.sourceIp"),
        (v1(path="/\ud800"), "path"),
    ],
    ids=[
        "header-name-bytes",
        "raw-path-null",
        "http-not-an-object",
        "host-ipv6",
        "host-two-ports",
        "v1-repeated-port",
        "v1-source-ip-number",
        "v1-path-lone-surrogate",
    ],
)
def test_the_first_unreadable_field_is_named(event: dict[str, Any], field: str) -> None:
    found = unreadable_field(event)

    assert found is not None and found.name == field


@pytest.mark.parametrize(
    ("query", "encoded"),
    [
        ("", ""),
        ("a=1&b=%20&c=+d&%zz", "a=1&b=%20&c=+d&%zz"),
        ("q=ü", "q=%C3%BC"),
        ("q=Grüße&x=%C3%BC", "q=Gr%C3%BC%C3%9Fe&x=%C3%BC"),
        ("city=東京&flower=🌸", "city=%E6%9D%B1%E4%BA%AC&flower=%F0%9F%8C%B8"),
    ],
    ids=["empty", "ascii-as-is", "latin-1", "mixed", "cjk-and-emoji"],
)
def test_ascii_query_encodes_only_what_is_not_ascii(query: str, encoded: str) -> None:
    """pitfall 30: a2wsgi decodes the query string as ASCII; what is ASCII already (percent
    escapes, even broken ones, `+`) must reach the app exactly as sent."""
    assert ascii_query(query) == encoded


@pytest.mark.parametrize(
    ("body", "as_base64", "length"),
    [(None, False, 0), (UTF8_TEXT, False, 20), (UTF8_TEXT, True, 20), (b"\x00\xff", True, 2)],
    ids=["none", "utf8", "base64", "binary"],
)
def test_body_length_is_the_decoded_length(
    body: str | bytes | None, as_base64: bool, length: int
) -> None:
    event = http_api_v2_event("POST", "/x", body=body, as_base64=as_base64)

    assert body_length(event) == length


@pytest.mark.parametrize(
    ("body", "as_base64"),
    [("not base64!", True), (UTF8_TEXT, True), ("\ud800", True), ("a\udfffb", False)],
    ids=["bad-padding", "non-ascii-base64", "surrogate-base64", "surrogate-text"],
)
def test_body_length_of_an_undecodable_body_is_a_value_error(body: str, as_base64: bool) -> None:
    """pitfall 30: b64decode of non-ASCII text raises ValueError, not binascii.Error."""
    event = {**http_api_v2_event("POST", "/x"), "body": body, "isBase64Encoded": as_base64}

    with pytest.raises(ValueError):
        body_length(event)


def test_adapted_event_is_a_copy_with_the_length_and_an_ascii_query() -> None:
    event = http_api_v2_event(
        "POST", "/x", query="q=ü", body=UTF8_TEXT, headers={"Content-Length": "3"}
    )
    original = copy.deepcopy(event)

    adapted = adapted_event(event)

    assert event == original
    assert adapted["rawQueryString"] == "q=%C3%BC"
    assert adapted["headers"]["content-length"] == "20"
    assert "Content-Length" not in adapted["headers"]
    assert adapted["body"] is event["body"]


def test_adapted_v1_event_has_the_length_in_both_header_fields() -> None:
    headers = {"Content-Length": "28", "Transfer-Encoding": "chunked"}
    event = rest_v1_event("POST", "/x", body=UTF8_TEXT, as_base64=True, headers=headers)

    adapted = adapted_event(event)

    assert adapted["headers"]["content-length"] == "20"
    assert adapted["multiValueHeaders"]["content-length"] == ["20"]
    assert "rawQueryString" not in adapted
    assert not any(
        name.lower() == "transfer-encoding"
        for name in [*adapted["headers"], *adapted["multiValueHeaders"]]
    )


@pytest.mark.parametrize(
    ("path", "undecodable"),
    [
        ("/api/iris/analyze", "/api/iris/analyze"),
        ("/api/%69ris/analyze", "/api/%2569ris/analyze"),
        ("/api/iris%2Fanalyze", "/api/iris%252Fanalyze"),
        ("/%", "/%25"),
    ],
)
def test_mangum_decodes_an_undecodable_path_back_to_what_api_gateway_delivered(
    path: str, undecodable: str
) -> None:
    from mangum.handlers.utils import strip_api_gateway_path

    assert undecodable_path(path) == undecodable
    assert strip_api_gateway_path(undecodable, api_gateway_base_path="/") == path


def test_the_v2_path_mangum_reads_is_escaped_in_a_copy_and_v1_is_left_alone() -> None:
    event = http_api_v2_event("GET", "/api/%69ris/health")
    before = copy.deepcopy(event)

    adapted = adapted_event(event)

    assert adapted["requestContext"]["http"]["path"] == "/api/%2569ris/health"
    assert adapted["rawPath"] == "/api/%69ris/health"
    assert event == before
    # A REST API delivers the path still encoded: Mangum's one decoding is the right one.
    assert adapted_event(rest_v1_event("GET", "/api/%69ris"))["path"] == "/api/%69ris"
