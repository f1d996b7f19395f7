"""Translation between HTTP and what API Gateway HTTP API exchanges with Lambda (payload 2.0).

The shapes follow AWS's documentation of the Lambda proxy integration and of Lambda
authorizers for HTTP APIs: lower-case header names, duplicate headers and query parameters
joined with commas, cookies in their own list, bodies as text or base64, and on the way back
one Set-Cookie header per entry of the response's `cookies`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

REGION = "local"
ACCOUNT_ID = "000000000000"
API_ID = "local"
STAGE = "$default"

# Connection-level headers describe one hop; API Gateway buffers the body and does not
# hand them to the function (a stray transfer-encoding would make Flask drop the body).
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Bodies of these types reach the function as text; everything else is base64-encoded.
TEXT_MEDIA_TYPES = frozenset(
    {"application/json", "application/javascript", "application/xml", "application/ecmascript"}
)


@dataclass
class LambdaContext:
    """The attributes of the context object the Lambda Python runtime passes to a handler."""

    function_name: str
    timeout_s: float = 30.0
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + self.aws_request_id[:8]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_api_event(
    request: Request,
    route_key: str,
    body: bytes,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway sends to the integration for this request; a route
    with path variables adds their decoded values as pathParameters."""
    raw_path, raw_query = _raw_target(request)
    headers = {
        name.lower(): value
        for name, value in request.headers.items()
        if name.lower() not in HOP_BY_HOP_HEADERS
    }
    cookie_header = headers.pop("cookie", "")
    source_ip = request.remote_addr or "127.0.0.1"
    # The gateway appends the caller's address and states its own scheme and port.
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-port"] = str(request.environ.get("SERVER_PORT", ""))
    headers.setdefault("x-amzn-trace-id", _trace_id())

    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": source_ip,
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": _api_request_id(),
            "routeKey": route_key,
            "stage": STAGE,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    cookies = [part.strip() for part in cookie_header.split(";") if part.strip()]
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = query_parameters(raw_query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        event["body"], event["isBase64Encoded"] = event_body(body, headers.get("content-type"))
    return event


def authorizer_event(event: Mapping[str, Any], identity: list[str]) -> dict[str, Any]:
    """The payload 2.0 REQUEST authorizer event for an integration event (no body)."""
    context = event["requestContext"]
    method, path = context["http"]["method"], event["rawPath"]
    route_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{path}"
    authorizer = {
        key: value for key, value in event.items() if key not in ("body", "isBase64Encoded")
    }
    return {"type": "REQUEST", "routeArn": route_arn, "identitySource": identity, **authorizer}


def query_parameters(raw_query: str) -> dict[str, str]:
    """Decoded query parameters, repeated names joined with commas (payload 2.0)."""
    joined: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        joined.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def event_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """(body, isBase64Encoded): text types as text, anything else (or not UTF-8) in base64."""
    if is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type.startswith("text/")
        or media_type in TEXT_MEDIA_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def http_response(result: Any) -> Response:
    """The HTTP response API Gateway makes of a function's payload 2.0 result."""
    if not (isinstance(result, Mapping) and "statusCode" in result):
        # A result without statusCode is taken as a JSON body with status 200.
        return gateway_response(200, result)

    headers = Headers()
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in HOP_BY_HOP_HEADERS:
            headers.add(name.lower(), str(value))
    for cookie in result.get("cookies") or []:
        headers.add("set-cookie", cookie)

    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error:
            return gateway_response(500, {"message": "Internal Server Error"})
    else:
        data = body.encode("utf-8")
    return PlainResponse(data, status=int(result["statusCode"]), headers=headers)


def gateway_response(status: int, payload: Any) -> Response:
    """An answer API Gateway gives by itself, e.g. {"message": "Unauthorized"}."""
    return PlainResponse(
        json.dumps(payload), status=status, headers={"content-type": "application/json"}
    )


class PlainResponse(Response):
    """A response without the text/plain content type werkzeug would add on its own."""

    default_mimetype = None


def _raw_target(request: Request) -> tuple[str, str]:
    """The path and query string as API Gateway hands them on: an HTTP API percent-decodes the
    path (rawPath and requestContext.http.path alike, `%2F` included), once, and keeps the
    query string as the client sent it (raw UTF-8 as text)."""
    return request.path, request.query_string.decode("utf-8", "replace")


def _api_request_id() -> str:
    # API Gateway's request ids look like "JKJaXmPLvHcESHA=".
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")[:15] + "="


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
