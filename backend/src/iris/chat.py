"""A small client for OpenAI's chat-completions endpoint, on urllib3.

IRIS makes one kind of call, `POST {base}/chat/completions`, for one POST route. The `openai`
package takes about 450 ms to import and 30 MB of the image for it; urllib3 is already loaded
by botocore in the deployed function. This module speaks exactly the part of the API IRIS
uses: the request body, the bearer key, the answer's `model`, `choices[0].message.content`,
`finish_reason` and `usage.total_tokens`, and an error's status, `error.code`, `x-request-id`
and `Retry-After`.

One attempt per call, no retries here: the caller retries against its own deadline
(`iris.llm`). Every failure is a `ChatError` whose fields are safe to log: nothing of the key,
the request or the upstream's error message.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ChatAnswer",
    "ChatCompletionsClient",
    "ChatError",
    "chat_completions_url",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
USER_AGENT = "iris-analysis/1"


@dataclass(frozen=True)
class ChatAnswer:
    content: str | None
    model: str
    finish_reason: str | None
    request_id: str | None
    # What the call cost (`usage.total_tokens`), when the answer says.
    total_tokens: int | None = None


class ChatError(Exception):
    """One failed attempt.

    `kind` is "timeout" (no answer in time), "connection" (refused, reset, TLS, DNS), "status"
    (an HTTP error status) or "malformed" (a 200 that is not a chat completion).
    """

    def __init__(
        self,
        kind: str,
        *,
        error_type: str,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"chat completion failed: {kind} ({error_type})")
        self.kind = kind
        self.error_type = error_type
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after_s = retry_after_s


def chat_completions_url(base_url: str | None) -> str:
    """`{base}/chat/completions`, `base` being OPENAI_BASE_URL (or OpenAI's own API)."""
    return f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/chat/completions"


class ChatCompletionsClient:
    """One connection pool and one TLS context for the life of the container.

    Both are built in the constructor, which the deployed function runs at INIT: the TLS
    context loads the system's CA certificates once, not on the first request's connection.
    """

    def __init__(self, base_url: str | None) -> None:
        self.url = chat_completions_url(base_url)
        self._http = urllib3.PoolManager(
            retries=False, ssl_context=ssl.create_default_context(), maxsize=4
        )

    def complete(
        self,
        api_key: str,
        *,
        model: str,
        max_completion_tokens: int,
        messages: list[dict[str, str]],
        timeout_s: float,
    ) -> ChatAnswer:
        body = json.dumps(
            {"model": model, "max_completion_tokens": max_completion_tokens, "messages": messages}
        ).encode("utf-8")
        try:
            response = self._http.request(
                "POST",
                self.url,
                body=body,
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                redirect=False,
            )
        # urllib3 2 makes a refused connection (NewConnectionError) a ConnectTimeoutError
        # too: it must be caught first, or a dead endpoint would read as a slow one.
        except NewConnectionError as error:
            raise ChatError("connection", error_type=type(error).__name__) from None
        except (ConnectTimeoutError, ReadTimeoutError) as error:
            raise ChatError("timeout", error_type=type(error).__name__) from None
        except HTTPError as error:
            raise ChatError("connection", error_type=type(error).__name__) from None

        request_id = response.headers.get("x-request-id")
        if response.status != 200:
            raise ChatError(
                "status",
                error_type="HTTPStatus",
                status=response.status,
                code=_error_code(response.data),
                request_id=request_id,
                retry_after_s=_retry_after_s(response.headers),
            )
        return _answer(response.data, request_id)


def _answer(data: bytes, request_id: str | None) -> ChatAnswer:
    """The completion in a 200's body, or ChatError("malformed") for anything else."""
    try:
        completion = json.loads(data)
        choices = completion["choices"]
        model = completion["model"]
        first = choices[0] if choices else {}
        content = first.get("message", {}).get("content") if first else None
        finish_reason = first.get("finish_reason") if first else None
        well_formed = (
            isinstance(model, str)
            and isinstance(choices, list)
            and (content is None or isinstance(content, str))
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        # ValueError covers bad JSON and bytes that are not UTF-8.
        well_formed = False
    if not well_formed:
        raise ChatError(
            "malformed", error_type="MalformedAnswer", status=200, request_id=request_id
        )
    return ChatAnswer(content, model, finish_reason, request_id, _total_tokens(completion))


def _total_tokens(completion: dict[str, Any]) -> int | None:
    """`usage.total_tokens` when it is a whole number >= 0, else None (the caller estimates)."""
    usage = completion.get("usage")
    tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        return None
    return tokens


def _error_code(data: bytes) -> str | None:
    """OpenAI's `error.code` (e.g. "invalid_api_key"); never its message, which may quote."""
    try:
        code = json.loads(data)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _retry_after_s(headers: Any) -> float | None:
    """The server's `retry-after-ms`, else `retry-after` (seconds), as seconds.

    An HTTP-date `Retry-After`, a negative or NaN value counts as none.
    """
    for name, seconds_per_unit in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            wait = float(headers.get(name, "")) * seconds_per_unit
        except ValueError:
            continue
        # False for NaN and negative values; an infinite wait never fits, so is never waited.
        if wait >= 0:
            return wait
    return None
