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
import socket
import ssl
import threading
import time
from contextvars import ContextVar
from typing import Any, NamedTuple

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_ANSWER_BYTES",
    "ChatAnswer",
    "ChatCompletionsClient",
    "ChatError",
    "chat_completions_url",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
USER_AGENT = "iris-analysis/1"
# A completion of OPENAI_MAX_TOKENS (16,384 at most) is some tens of kB; anything bigger is
# not an answer, and must not reach Lambda's 6 MB response limit or the cache.
MAX_ANSWER_BYTES = 1_048_576
READ_CHUNK_BYTES = 65_536


# A NamedTuple: a frozen dataclass costs every cold start about 0.7 ms to build.
class ChatAnswer(NamedTuple):
    content: str | None
    model: str
    finish_reason: str | None
    request_id: str | None
    # What the call cost (`usage.total_tokens`), when the answer says.
    total_tokens: int | None = None


class ChatError(Exception):
    """One failed attempt.

    `kind` is "timeout" (no whole answer in time), "connection" (refused, reset, TLS, DNS),
    "status" (an HTTP error status), "malformed" (a 200 that is not a chat completion),
    "too_large" (a body over MAX_ANSWER_BYTES) or "request" (the request could not be built
    or sent, e.g. a header value http.client refuses).
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


# The monotonic deadline of the attempt running in this context, for the connection classes.
_attempt_deadline: ContextVar[float | None] = ContextVar("iris_chat_deadline", default=None)
# The watchdog cuts a little after the deadline: a silent server trips the socket's own read
# timeout first, which names the failure better (ReadTimeoutError).
WATCHDOG_GRACE_S = 0.1


def _headers_by_deadline(connection: HTTPConnection, read_headers: Any) -> Any:
    """`read_headers()`, its socket shut once the attempt's deadline passes.

    http.client reads the status line and headers line by line, each socket read under the
    read timeout: headers sent a byte at a time would never trip it.
    """
    deadline = _attempt_deadline.get()
    if deadline is None or connection.sock is None:
        return read_headers()
    wait_s = max(deadline - time.monotonic(), 0.0) + WATCHDOG_GRACE_S
    watchdog = threading.Timer(wait_s, _shut, (connection.sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return read_headers()
    finally:
        watchdog.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed: nothing left to cut
        pass


class _DeadlineHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        return _headers_by_deadline(self, super().getresponse)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        return _headers_by_deadline(self, super().getresponse)


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


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
        # A new mapping: the default one is urllib3's module-level dict, shared by every pool.
        self._http.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def complete(
        self,
        api_key: str,
        *,
        model: str,
        max_completion_tokens: int,
        messages: list[dict[str, str]],
        timeout_s: float,
    ) -> ChatAnswer:
        """One attempt, over within `timeout_s`: connecting, the headers and the whole body."""
        deadline = time.monotonic() + timeout_s
        token = _attempt_deadline.set(deadline)
        try:
            response = self._http.request(
                "POST",
                self.url,
                body=_request_body(model, max_completion_tokens, messages),
                headers={
                    "Authorization": f"Bearer {api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                redirect=False,
                preload_content=False,
            )
        except Exception as error:
            raise _attempt_error(error, deadline) from None
        finally:
            _attempt_deadline.reset(token)

        request_id = response.headers.get("x-request-id")
        try:
            data = _read_body(response, deadline)
        except Exception as error:
            # Cut mid-body: the connection cannot serve another request.
            response.close()
            failure = _attempt_error(error)
            failure.status, failure.request_id = response.status, request_id
            raise failure from None
        response.release_conn()
        if response.status != 200:
            raise ChatError(
                "status",
                error_type="HTTPStatus",
                status=response.status,
                code=_error_code(data),
                request_id=request_id,
                retry_after_s=_retry_after_s(response.headers),
            )
        return _answer(data, request_id)


def _request_body(model: str, max_completion_tokens: int, messages: list[dict[str, str]]) -> bytes:
    return json.dumps(
        {"model": model, "max_completion_tokens": max_completion_tokens, "messages": messages}
    ).encode("utf-8")


def _attempt_error(error: Exception, deadline: float | None = None) -> ChatError:
    """Any failure of an attempt as a ChatError that keeps only the type's name.

    An exception's message can carry the request: http.client's "Invalid header value"
    quotes the Authorization header, key included. A connection cut at `deadline` (see
    `_headers_by_deadline`) is a timeout.
    """
    if isinstance(error, ChatError):
        return error
    error_type = type(error).__name__
    # urllib3 2 makes a refused connection (NewConnectionError) a ConnectTimeoutError
    # too: it must be caught first, or a dead endpoint would read as a slow one.
    if isinstance(error, NewConnectionError):
        return ChatError("connection", error_type=error_type)
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError):
        return ChatError("timeout", error_type=error_type)
    if deadline is not None and time.monotonic() >= deadline:
        return ChatError("timeout", error_type="AnswerDeadline")
    if isinstance(error, HTTPError):
        return ChatError("connection", error_type=error_type)
    return ChatError("request", error_type=error_type)


def _read_body(response: Any, deadline: float) -> bytes:
    """The whole body by `deadline` (a `time.monotonic()` value), at most MAX_ANSWER_BYTES.

    urllib3's read timeout bounds each socket read, not the body: an upstream sending a byte
    every so often would never trip it. Each read is given only the time left, and the body
    is cut once the deadline passes or it outgrows the cap.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise ChatError("too_large", error_type="AnswerTooLarge")
    chunks: list[bytes] = []
    size = 0
    while True:
        time_left = deadline - time.monotonic()
        if time_left <= 0:
            raise ChatError("timeout", error_type="AnswerDeadline")
        _limit_next_read(response, time_left)
        chunk = response.read1(READ_CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ChatError("too_large", error_type="AnswerTooLarge")
        chunks.append(chunk)


def _limit_next_read(response: Any, seconds: float) -> None:
    """Let the next socket read wait `seconds` at most (the socket's own timeout)."""
    sock = getattr(response.connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


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
