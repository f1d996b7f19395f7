"""An HTTP app's Lambda entry point: API Gateway events -> checks -> Mangum -> the app.

`http_handler(adapter, logger=...)` is the module-level `handler(event, context)` of an entry
point, `adapter` the app under Mangum: `wsgi(app)` for a WSGI app (Flask), `asgi(app)` for an
ASGI one (FastAPI, or a bare ASGI callable). Around it, on every invocation:
- the Lambda request id goes into every log line (`lambda_kit.logs.request_id_var`) and into
  the answer's `x-request-id` header, whether or not the app set one;
- a scheduled warm-up ping is answered without running the app;
- an event the adapters cannot read (`lambda_kit.events`) is a JSON 400 before it reaches them;
- with `guarded_prefix`, a path under it without the authorizer's context is a JSON 401;
- the adapter runs on an event loop of its own;
- an exception out of the adapter, or a server error that is not JSON, becomes a JSON 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_kit.events import (
    EventField,
    adapted_event,
    is_http_event,
    request_path,
    unreadable_field,
)
from lambda_kit.guard import UNAUTHORIZED_MESSAGE, authorizer_ran, is_guarded_path, route_key
from lambda_kit.logs import request_id_var

if TYPE_CHECKING:
    from mangum import Mangum

__all__ = ["REQUEST_ID_HEADER", "HttpHandler", "asgi", "http_handler", "wsgi"]

# Lower case, as Mangum gives every header name back.
REQUEST_ID_HEADER = "x-request-id"
JSON_TYPE = "application/json"

Adapter = Callable[[dict[str, Any], Any], dict[str, Any]]


def wsgi(app: Any) -> Mangum:
    """A WSGI app under Mangum. Mangum speaks ASGI, so the app is wrapped in a2wsgi's adapter:
    `Mangum(flask_app)` on the bare app would answer 500 to every request."""
    from a2wsgi import WSGIMiddleware

    return asgi(WSGIMiddleware(app))


def asgi(app: Any) -> Mangum:
    """An ASGI app under Mangum, lifespan off: "auto" runs the app's startup and shutdown on
    every invocation, so one-time work belongs at import (INIT)."""
    from mangum import Mangum

    return Mangum(app, lifespan="off")


def http_handler(
    adapter: Adapter, *, logger: logging.Logger, guarded_prefix: str | None = None
) -> HttpHandler:
    """The entry point's `handler(event, context)` around `adapter` (`wsgi(app)`, `asgi(app)`).

    `logger` writes the kit's own lines. With `guarded_prefix` ("/api"), the API's authorizer
    must have passed every request for that path or under it.
    """
    return HttpHandler(adapter, logger, guarded_prefix)


class HttpHandler:
    """What `http_handler` gives; `adapter` is an attribute, so a test can put another app in."""

    def __init__(
        self, adapter: Adapter, logger: logging.Logger, guarded_prefix: str | None = None
    ) -> None:
        self.adapter = adapter
        self.log = logger
        self.guarded_prefix = guarded_prefix

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        request_id = getattr(context, "aws_request_id", None)
        # For this invocation's lines only: one without an id must not log the last one's.
        token = request_id_var.set(request_id)
        try:
            return with_request_id(self._answer(event, context), request_id)
        finally:
            request_id_var.reset(token)

    def _answer(self, event: Any, context: Any) -> dict[str, Any]:
        if is_warmup_ping(event):
            return {"warmed": True}
        if not is_http_event(event):
            return self._unsupported_event(event)
        field = unreadable_field(event)
        if field is not None:
            return self._unsupported_event(event, field)
        if self._needs_authorizer(event) and not authorizer_ran(event):
            self.log.warning(
                "unauthorized: no authorizer context on a guarded path",
                extra={"routeKey": route_key(event)},
            )
            return error_response(401, "unauthorized", UNAUTHORIZED_MESSAGE)
        try:
            adapted = adapted_event(event)
        except ValueError:
            return malformed_body_response(event)
        return self._adapter_answer(adapted, context)

    def _needs_authorizer(self, event: dict[str, Any]) -> bool:
        return self.guarded_prefix is not None and is_guarded_path(
            request_path(event), self.guarded_prefix
        )

    def _adapter_answer(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Mangum's answer; if the adapters fail after all, the API's JSON 500 instead.

        A safety net, not a way of handling input: `lambda_kit.events` keeps every event the
        adapters cannot read away from them. An exception inside the app makes Mangum log it
        and answer a plain-text 500; one while it reads the event escapes it.
        """
        try:
            answer = run_on_new_event_loop(self.adapter, event, context)
        except Exception as error:
            self.log.error("adapter failed", extra={"error_type": type(error).__name__})
            return internal_error_response()
        if answer["statusCode"] >= 500 and _media_type(answer) != JSON_TYPE:
            self.log.error(
                "adapter answered a server error that is not JSON",
                extra={
                    "status": answer["statusCode"],
                    "content_type": _header(answer, "content-type"),
                },
            )
            return internal_error_response()
        return answer

    def _unsupported_event(self, event: Any, field: EventField | None = None) -> dict[str, Any]:
        """400 for an event that is not an HTTP request, or one with a field the adapters
        cannot read (named, with what API Gateway sends there; never its value)."""
        # Log the shape of the event, never its values: they may carry personal data.
        keys = sorted(map(str, event))[:20] if isinstance(event, dict) else type(event).__name__
        if field is None:
            self.log.warning("unsupported event", extra={"event_keys": keys})
            message = (
                "This function answers API Gateway HTTP events and scheduled warm-up pings only."
            )
        else:
            self.log.warning("unsupported event", extra={"event_keys": keys, "field": field.name})
            message = f"The event's {field.name} must be {field.expected}, as API Gateway sends it."
        return error_response(400, "unsupported_event", message)


def is_warmup_ping(event: Any) -> bool:
    """An EventBridge schedule that keeps containers warm: answered without running the app."""
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.events"
        and event.get("detail-type") == "Scheduled Event"
    )


def run_on_new_event_loop(adapter: Adapter, event: dict[str, Any], context: Any) -> Any:
    """Run the adapter on a new event loop, then close it and put back the thread's own.

    Mangum runs the app on asyncio.get_event_loop(), which fails once that loop was closed or
    `asyncio.run` has returned (pitfall 7); a loop per invocation also leaves nothing of one
    invocation's tasks to the next. The thread's loop (the one Mangum sets up when it is built,
    or a caller's) is left as it was found.
    """
    policy = asyncio.get_event_loop_policy()
    try:
        previous = policy.get_event_loop()
    except RuntimeError:
        previous = None
    loop = policy.new_event_loop()
    policy.set_event_loop(loop)
    try:
        return adapter(event, context)
    finally:
        policy.set_event_loop(previous)
        loop.close()


def with_request_id(answer: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """The answer with the Lambda request id in its headers, which finds the invocation's log
    lines; an app that sets the header itself keeps its own."""
    if not request_id or "statusCode" not in answer or _header(answer, REQUEST_ID_HEADER):
        return answer
    return {**answer, "headers": {**(answer.get("headers") or {}), REQUEST_ID_HEADER: request_id}}


def malformed_body_response(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("isBase64Encoded"):
        message = "The request body is not valid base64."
    else:
        message = "The request body is not valid UTF-8 text."
    return error_response(400, "malformed_body", message)


def internal_error_response() -> dict[str, Any]:
    return error_response(500, "internal_error", "The server failed to handle this request.")


def error_response(status: int, code: str, message: str) -> dict[str, Any]:
    """The API's JSON error shape, for the answers given before the app runs."""
    return {
        "statusCode": status,
        "headers": {"content-type": JSON_TYPE},
        "body": json.dumps({"error": {"code": code, "message": message}}),
        "isBase64Encoded": False,
    }


def _header(answer: dict[str, Any], name: str) -> str | None:
    """A header of Mangum's answer, in any case: single values in `headers`, repeated ones
    (payload 1.0) in `multiValueHeaders`."""
    for key, value in (answer.get("headers") or {}).items():
        if key.lower() == name:
            return value
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return ", ".join(values)
    return None


def _media_type(answer: dict[str, Any]) -> str:
    return (_header(answer, "content-type") or "").partition(";")[0].strip().lower()
