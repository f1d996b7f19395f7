"""A loopback stand-in for OpenAI's chat-completions endpoint, speaking its shapes.

Used by the tests (through fixtures in conftest.py) and by the benchmark; it runs on
pytest-httpserver's server, which needs no pytest to start.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

OPENAI_KEY = "sk-proj-T3stKey0nly4Loopback9f8e7d6c5b4a3210"
MODEL_ALIAS = "gpt-4o-mini"
MODEL_SNAPSHOT = "gpt-4o-mini-2024-07-18"

# Error bodies as api.openai.com sends them; the messages quote details a client must not see.
OPENAI_ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "message": "This model's maximum context length is 128000 tokens. However, your "
        "messages resulted in 130512 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    },
    401: {
        "message": "Incorrect API key provided: sk-proj-***********************3210. You can "
        "find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    },
    403: {
        "message": "Project `proj_Zx8k2Lq` does not have access to model `gpt-4o-mini`",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    },
    408: {
        "message": "Request timed out while reading the request body from 203.0.113.7.",
        "type": "server_error",
        "param": None,
        "code": "timeout",
    },
    409: {
        "message": "Another request for org-Q1w2E3r4 is being processed; try again.",
        "type": "invalid_request_error",
        "param": None,
        "code": "conflict",
    },
    429: {
        "message": "Rate limit reached for gpt-4o-mini in organization org-Q1w2E3r4 on requests "
        "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}


@dataclass
class Reply:
    status: int = 200
    content: str | None = "Summary: a test.\nSentiment: neutral.\nTopics: testing."
    model: str = MODEL_SNAPSHOT
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # A 200 that is not a chat completion: a proxy's, captive portal's or gateway's page.
    page: str | None = None
    # "stop", "length", "content_filter" or "tool_calls" (which sends a tool call, no content).
    finish_reason: str = "stop"
    # A completion without any choice, as some compatible endpoints answer a filtered prompt.
    no_choices: bool = False
    # Send the body one byte every `drip_s` seconds (its Content-Length declared up front).
    drip_s: float = 0.0
    # Send the body in pieces with no Content-Length (chunked): its size shows only at the end.
    chunked: bool = False
    # False: a completion without `usage`, as some OpenAI-compatible servers answer.
    usage: bool = True
    # Bill every byte: each message's UTF-8 bytes plus 4 for its formatting, 3 to prime the
    # reply, and the completion's bytes (a real tokenizer never counts more), rather than a
    # token a word.
    billed_in_bytes: bool = False


PORTAL_PAGE = "<!doctype html><html><body><h1>Sign in to continue</h1></body></html>"


@dataclass
class OpenAIStub:
    """The loopback chat-completions endpoint: records each request, answers the next reply.

    `api_key`, `model_alias` and `model_snapshot` are what the test containers are configured
    with and what the stub answers; `error_messages` holds every upstream error text it sent.
    Each recorded request has its `headers`, `json`, `received_at` (`time.monotonic()`) and,
    when answered 200, the tokens `billed` for it (reported in `usage` or not).
    """

    base_url: str
    api_key: str = OPENAI_KEY
    model_alias: str = MODEL_ALIAS
    model_snapshot: str = MODEL_SNAPSHOT
    requests: list[dict[str, Any]] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    _replies: list[Reply] = field(default_factory=list)
    _default: Reply = field(default_factory=Reply)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # When set, only this key is accepted; any other bearer gets OpenAI's 401.
    accepted_key: str | None = None

    def reply(self, status: int = 200, **reply: Any) -> None:
        """Answer the next request with this reply (queued), then with the default one."""
        self._replies.append(Reply(status=status, **reply))

    def always(self, status: int = 200, **reply: Any) -> None:
        """Answer every request not answered by a queued reply with this one."""
        self._default = Reply(status=status, **reply)

    def handle(self, request: Request) -> Response:
        with self._lock:
            sent = json.loads(request.get_data())
            self.requests.append(
                {"headers": dict(request.headers), "json": sent, "received_at": time.monotonic()}
            )
            reply = self._replies.pop(0) if self._replies else self._default
            if self.accepted_key and request.headers.get("Authorization") != (
                f"Bearer {self.accepted_key}"
            ):
                reply = Reply(status=401)
            if reply.status == 200 and reply.page is None:
                self.requests[-1]["billed"] = total_tokens(reply, sent)
            headers = {"x-request-id": f"req_{len(self.requests):032x}", **reply.headers}
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.page is not None:
            return Response(reply.page, reply.status, headers, "text/html")
        if reply.status != 200:
            error = OPENAI_ERRORS[reply.status]
            self.error_messages.append(error["message"])
            return Response(json.dumps({"error": error}), reply.status, headers, "application/json")
        body = json.dumps(chat_completion(reply, sent)).encode()
        if reply.drip_s:
            headers["Content-Length"] = str(len(body))
            return Response(_drip(body, reply.drip_s), 200, headers, "application/json")
        if reply.chunked:
            pieces = (body[n : n + 65_536] for n in range(0, len(body), 65_536))
            return Response(pieces, 200, headers, "application/json")
        return Response(body, 200, headers, "application/json")


def _drip(body: bytes, every_s: float) -> Iterator[bytes]:
    for n in range(len(body)):
        yield body[n : n + 1]
        time.sleep(every_s)


def chat_completion(reply: Reply, sent: dict[str, Any]) -> dict[str, Any]:
    completion = _completion(reply, sent)
    if not reply.usage:
        del completion["usage"]
    return completion


def total_tokens(reply: Reply, sent: dict[str, Any]) -> int:
    """The `usage.total_tokens` the stub answers `sent` with."""
    return sum(_token_counts(reply, sent))


def _token_counts(reply: Reply, sent: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) tokens, counted as one token a word, or as bytes."""
    if reply.billed_in_bytes:
        prompt_tokens = 3 + sum(len(m["content"].encode()) + 4 for m in sent["messages"])
        return prompt_tokens, len((reply.content or "").encode())
    prompt_tokens = sum(len(m["content"].split()) for m in sent["messages"])
    return prompt_tokens, len((reply.content or "").split())


def _completion(reply: Reply, sent: dict[str, Any]) -> dict[str, Any]:
    prompt_tokens, completion_tokens = _token_counts(reply, sent)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content,
        "refusal": None,
        "annotations": [],
    }
    if reply.finish_reason == "tool_calls":
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_Qb8XzJ2vN5cRkP1mA7sD4fGh",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
            }
        ]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": reply.finish_reason,
    }
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [] if reply.no_choices else [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }
