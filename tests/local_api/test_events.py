"""Request -> payload 2.0 event and result -> response, as API Gateway translates them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local_api.events import authorizer_event, http_api_event, http_response, query_parameters


def request(
    method: str = "POST",
    path: str = "/api/iris/analyze",
    *,
    body: bytes = b"",
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Request:
    environ = EnvironBuilder(
        method=method,
        path=path,
        query_string=query,
        data=body,
        content_type=content_type,
        headers=headers,
    ).get_environ()
    return Request(environ)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "text/csv; charset=utf-8",
        "application/problem+json",
        "application/xml",
    ],
)
def test_text_bodies_are_passed_as_text(content_type: str) -> None:
    body = "petal 1.4 cm — Iris setosa".encode()

    event = http_api_event(request(body=body, content_type=content_type), "$default", body)

    assert event["isBase64Encoded"] is False
    assert event["body"] == "petal 1.4 cm — Iris setosa"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", b"\x00\xff\x10binary"),
        ("image/png", b"\x89PNG\r\n\x1a\n"),
        ("application/x-www-form-urlencoded", b"text=iris"),
        (None, b'{"text": "no content type"}'),
        ("text/plain", b"\xff\xfe not utf-8"),
    ],
)
def test_other_bodies_are_base64_encoded(content_type: str | None, body: bytes) -> None:
    event = http_api_event(request(body=body, content_type=content_type), "$default", body)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_a_raw_utf8_query_string_reaches_the_event_as_text() -> None:
    """Some clients send non-ASCII unencoded; the deployed path hands it to the app as UTF-8."""
    environ = EnvironBuilder(method="GET", path="/api/iris/health").get_environ()
    environ["QUERY_STRING"] = "q=ü&x=%C3%BC".encode().decode("latin-1")

    event = http_api_event(Request(environ), "GET /api/iris/health", b"")

    assert event["rawQueryString"] == "q=ü&x=%C3%BC"
    assert event["queryStringParameters"] == {"q": "ü", "x": "ü"}


def test_the_event_carries_no_content_length_of_its_own() -> None:
    """The translator adds none: the handler must cope when API Gateway sends none."""
    req = request(method="GET", path="/health")

    event = http_api_event(req, "GET /health", b"")

    assert "content-length" not in event["headers"]
    assert "body" not in event


def test_hop_by_hop_headers_are_not_passed_on() -> None:
    """A transfer-encoding in the event would make werkzeug ignore the body it is given."""
    req = request(headers={"Transfer-Encoding": "chunked", "Connection": "keep-alive"})

    event = http_api_event(req, "POST /api/iris/analyze", b'{"text": "x"}')

    assert "transfer-encoding" not in event["headers"]
    assert "connection" not in event["headers"]


def test_query_parameters_are_decoded_and_repeated_names_joined() -> None:
    assert query_parameters("a=1&b=x%20y&a=2&c=&d=%2C") == {
        "a": "1,2",
        "b": "x y",
        "c": "",
        "d": ",",
    }


def test_cookies_become_a_list_and_leave_the_headers() -> None:
    req = request(method="GET", path="/health", headers={"Cookie": "a=1; b=two;c=3"})

    event = http_api_event(req, "GET /health", b"")

    assert event["cookies"] == ["a=1", "b=two", "c=3"]
    assert "cookie" not in event["headers"]


def test_the_authorizer_event_is_the_request_without_its_body() -> None:
    req = request(headers={"X-API-Key": "k1"}, query="v=1")
    event = http_api_event(req, "POST /api/iris/analyze", b'{"text": "x"}')

    auth = authorizer_event(event, ["k1"])

    assert auth["type"] == "REQUEST"
    assert auth["version"] == "2.0"
    assert auth["identitySource"] == ["k1"]
    assert auth["routeKey"] == "POST /api/iris/analyze"
    assert auth["routeArn"].endswith("/$default/POST/api/iris/analyze")
    assert auth["headers"]["x-api-key"] == "k1"
    assert auth["queryStringParameters"] == {"v": "1"}
    assert auth["requestContext"] == event["requestContext"]
    assert "body" not in auth and "isBase64Encoded" not in auth


def test_a_base64_result_is_decoded_and_cookies_become_set_cookie_headers() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00"
    response = http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "image/png", "X-Request-Id": "r-1"},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": base64.b64encode(png).decode(),
            "isBase64Encoded": True,
        }
    )

    assert response.status_code == 201
    assert response.get_data() == png
    assert response.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-request-id"] == "r-1"


@pytest.mark.parametrize("result", [{"answer": 42}, ["a", "b"], "plain"])
def test_a_result_without_status_code_is_a_200_json_body(result: Any) -> None:
    response = http_response(result)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.get_data()) == result


def test_a_result_with_broken_base64_is_a_gateway_500() -> None:
    response = http_response({"statusCode": 200, "body": "%%%", "isBase64Encoded": True})

    assert response.status_code == 500
    assert json.loads(response.get_data()) == {"message": "Internal Server Error"}


def test_no_content_type_is_invented_for_a_result_without_one() -> None:
    response = http_response({"statusCode": 204})

    assert response.status_code == 204
    assert "content-type" not in response.headers
