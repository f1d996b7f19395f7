"""Builders for complete, real-shaped API Gateway events and a Lambda context.

The shapes follow AWS's documented examples: HTTP API payload 2.0 (lower-case headers,
rawPath/rawQueryString, a `cookies` list) and REST API / payload 1.0 proxy events
(`resource`, `httpMethod`, multi-value headers and query parameters).
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_ID = "123456789012"
API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"


def _encode_body(body: str | bytes | None, as_base64: bool) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if as_base64 or isinstance(body, bytes):
        return base64.b64encode(raw).decode("ascii"), True
    return body, False


def http_api_v2_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    as_base64: bool = False,
    cookies: list[str] | None = None,
    route_key: str = "$default",
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event, without a content-length header unless given."""
    encoded, is_b64 = _encode_body(body, as_base64)
    all_headers = {
        "accept": "application/json",
        "host": DOMAIN,
        "user-agent": "pytest",
        "x-amzn-trace-id": "Root=1-5e7fe714-fee6909429159440eb352c40",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if query:
        params = parse_qs(query, keep_blank_values=True)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    if cookies:
        event["cookies"] = cookies
    if encoded is not None:
        event["body"] = encoded
    return event


def rest_v1_event(
    method: str,
    path: str,
    *,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: str | bytes | None = None,
    as_base64: bool = False,
) -> dict[str, Any]:
    """A REST API proxy (payload 1.0) event, with multi-value headers and query parameters."""
    encoded, is_b64 = _encode_body(body, as_base64)
    all_headers = {
        "Accept": "application/json",
        "Host": DOMAIN,
        "User-Agent": "pytest",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    all_headers.update(headers or {})
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": DOMAIN,
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "pytest"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "body": encoded,
        "isBase64Encoded": is_b64,
    }


def scheduled_event() -> dict[str, Any]:
    """What an EventBridge schedule (the warm-up ping) sends."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "eu-west-1",
        "resources": [f"arn:aws:events:eu-west-1:{ACCOUNT_ID}:rule/iris-dev-warmup"],
        "detail": {},
    }


@dataclass
class LambdaContext:
    """The attributes of the context object the Python runtime passes to a handler.

    As in Lambda, the remaining time counts down from the start of the invocation (creation
    here): `remaining_ms` is what the invocation has left when it starts.
    """

    function_name: str = "iris-dev-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/iris-dev-api"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"
    remaining_ms: int = 29_000
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.remaining_ms / 1000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
