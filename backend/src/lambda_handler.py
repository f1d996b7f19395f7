"""Lambda entry point (the image's CMD): API Gateway events -> Mangum -> a2wsgi -> Flask.

Mangum speaks ASGI and Flask speaks WSGI, so the app is wrapped in a2wsgi's adapter;
`Mangum(app)` on the bare Flask app would answer 500 to every request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from typing import Any

from a2wsgi import WSGIMiddleware
from mangum import Mangum

from iris.app import REQUEST_ID_HEADER
from iris.logs import request_id_var
from server import app

log = logging.getLogger("iris")

# lifespan="off": Flask has no startup/shutdown hooks, and "auto" would run the
# lifespan cycle on every invocation.
asgi_handler = Mangum(WSGIMiddleware(app), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Flask sets it again for the requests it serves; this covers the answers given before.
    request_id = getattr(context, "aws_request_id", None)
    request_id_var.set(request_id)
    if is_warmup_ping(event):
        return {"warmed": True}
    if not is_http_event(event):
        return unsupported_event_response(event, request_id)
    try:
        event = with_body_length(event)
    except binascii.Error:
        return error_response(
            400, "malformed_body", "The request body is not valid base64.", request_id
        )
    _ensure_event_loop()
    return asgi_handler(event, context)


def is_warmup_ping(event: Any) -> bool:
    """An EventBridge schedule that keeps containers warm: answered without running Flask."""
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def is_http_event(event: Any) -> bool:
    """API Gateway HTTP API (payload 2.0 or 1.0) or REST API proxy events, whole enough to serve.

    Mangum picks its event handler from the presence of a key or two, then indexes the fields
    it needs: an incomplete event (a hand-written console test, say) would raise KeyError
    inside it. So the check is on those fields: for payload 2.0 `requestContext.http`'s
    method, path and source address; for payload 1.0 and REST APIs `httpMethod` and `path`.
    """
    if not isinstance(event, dict):
        return False
    request_context = event.get("requestContext")
    # A load balancer's event ("elb") is not API Gateway's, whatever else it carries.
    if not isinstance(request_context, dict) or "elb" in request_context:
        return False
    if event.get("version") == "2.0":
        http = request_context.get("http")
        return (
            isinstance(http, dict)
            and _are_text(http, "method", "path")
            and "sourceIp" in http
            and isinstance(event.get("rawPath"), str)
        )
    if "version" in event or "resource" in event:
        return _are_text(event, "httpMethod", "path")
    return False


def _are_text(fields: dict[str, Any], *names: str) -> bool:
    return all(isinstance(fields.get(name), str) for name in names)


def with_body_length(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event whose content-length is the length of the decoded body.

    The WSGI adapter reads exactly content-length bytes: an event without the header
    (API Gateway does not always send it) or with the base64 length would lose the body,
    and so would a `transfer-encoding: chunked` header (werkzeug then ignores the length).
    The event always carries the whole body, so neither header describes it.
    """
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        length = len(base64.b64decode(body))
    else:
        length = len(body.encode("utf-8"))

    fixed = dict(event)
    fixed["headers"] = _with_length(event.get("headers") or {}, str(length))
    if event.get("multiValueHeaders"):
        fixed["multiValueHeaders"] = _with_length(event["multiValueHeaders"], [str(length)])
    return fixed


def _with_length(headers: dict[str, Any], value: Any) -> dict[str, Any]:
    """Headers are case-insensitive: drop every spelling of the framing headers first."""
    kept = {
        key: val
        for key, val in headers.items()
        if key.lower() not in ("content-length", "transfer-encoding")
    }
    kept["content-length"] = value
    return kept


def unsupported_event_response(event: Any, request_id: str | None = None) -> dict[str, Any]:
    # Log the shape of the event, never its values: they may carry personal data.
    keys = sorted(map(str, event))[:20] if isinstance(event, dict) else type(event).__name__
    log.warning("unsupported event", extra={"event_keys": keys})
    return error_response(
        400,
        "unsupported_event",
        "This function answers API Gateway HTTP events and scheduled warm-up pings only.",
        request_id,
    )


def error_response(
    status: int, code: str, message: str, request_id: str | None = None
) -> dict[str, Any]:
    """The API's JSON error shape, for the answers given before Flask runs.

    Like the app's answers, it carries the Lambda request id (when there is one), which
    finds the invocation's log lines.
    """
    headers = {"content-type": "application/json"}
    if request_id:
        headers[REQUEST_ID_HEADER.lower()] = request_id
    return {
        "statusCode": status,
        "headers": headers,
        "body": json.dumps({"error": {"code": code, "message": message}}),
        "isBase64Encoded": False,
    }


def _ensure_event_loop() -> None:
    """Mangum runs each request on asyncio.get_event_loop(), which fails once a loop was closed."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())
