"""Lambda entry point (the image's CMD): API Gateway events -> Mangum -> a2wsgi -> Flask.

Mangum speaks ASGI and Flask speaks WSGI, so the app is wrapped in a2wsgi's adapter;
`Mangum(app)` on the bare Flask app would answer 500 to every request.

Events the adapters cannot read (see `http_events`) are answered here, in the API's JSON
error shape, before they reach them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from a2wsgi import WSGIMiddleware
from mangum import Mangum

from http_events import EventField, adapted_event, is_http_event, unreadable_field
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
    field = unreadable_field(event)
    if field is not None:
        return unsupported_event_response(event, request_id, field)
    try:
        event = adapted_event(event)
    except ValueError:
        return malformed_body_response(event, request_id)
    _ensure_event_loop()
    return adapter_answer(event, context, request_id)


def is_warmup_ping(event: Any) -> bool:
    """An EventBridge schedule that keeps containers warm: answered without running Flask."""
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def adapter_answer(event: dict[str, Any], context: Any, request_id: str | None) -> dict[str, Any]:
    """Mangum's answer; if the adapters fail after all, the API's JSON 500 instead.

    A safety net, not a way of handling input: `http_events` keeps every event the adapters
    cannot read away from them. An exception inside them makes Mangum log it and
    answer a plain-text 500; one while it reads the event escapes it.
    """
    try:
        answer = asgi_handler(event, context)
    except Exception as error:
        log.error("adapter failed", extra={"error_type": type(error).__name__})
        return internal_error_response(request_id)
    if _is_plain_server_error(answer):
        content_type = (answer.get("headers") or {}).get("content-type")
        log.error(
            "adapter answered a server error that is not JSON",
            extra={"status": answer["statusCode"], "content_type": content_type},
        )
        return internal_error_response(request_id)
    return answer


def _is_plain_server_error(answer: dict[str, Any]) -> bool:
    headers = answer.get("headers") or {}
    return answer["statusCode"] >= 500 and headers.get("content-type") != "application/json"


def unsupported_event_response(
    event: Any, request_id: str | None = None, field: EventField | None = None
) -> dict[str, Any]:
    """400 for an event that is not an HTTP request, or one with a field the adapters cannot
    read (named, with what API Gateway sends there; never its value)."""
    # Log the shape of the event, never its values: they may carry personal data.
    keys = sorted(map(str, event))[:20] if isinstance(event, dict) else type(event).__name__
    if field is None:
        log.warning("unsupported event", extra={"event_keys": keys})
        message = "This function answers API Gateway HTTP events and scheduled warm-up pings only."
    else:
        log.warning("unsupported event", extra={"event_keys": keys, "field": field.name})
        message = f"The event's {field.name} must be {field.expected}, as API Gateway sends it."
    return error_response(400, "unsupported_event", message, request_id)


def malformed_body_response(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    if event.get("isBase64Encoded"):
        message = "The request body is not valid base64."
    else:
        message = "The request body is not valid UTF-8 text."
    return error_response(400, "malformed_body", message, request_id)


def internal_error_response(request_id: str | None) -> dict[str, Any]:
    return error_response(
        500, "internal_error", "The server failed to handle this request.", request_id
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
