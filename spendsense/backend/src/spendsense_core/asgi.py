"""ASGI pieces with no framework: a JSON answer and the safety net that turns a crash into one."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from spendsense_core.errors import error_body

__all__ = ["JsonSafetyNet", "send_json"]

logger = logging.getLogger("spendsense.app")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

INTERNAL_ERROR = error_body("internal_error", "The server failed to answer; try again later.")


async def send_json(
    send: Send, status: int, body: Any, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class JsonSafetyNet:
    """Any exception the app lets through becomes a JSON 500 `internal_error`.

    The traceback goes to the log only. Without this, Mangum answers a plain-text 500 and
    Starlette's own error middleware re-raises after answering.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            logger.exception("request failed", extra={"path": scope.get("path")})
            # Once the status line is out, a second answer cannot follow it.
            if not started:
                await send_json(send, 500, INTERNAL_ERROR)
