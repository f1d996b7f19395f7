"""The analyzers on their own: the offline one, and the OpenAI one against a loopback API.

The OpenAI cases go through IRIS's chat-completions client over HTTP to 127.0.0.1, against a
server answering with OpenAI's shapes; the route-level
behaviour (status codes, bodies, logs, the deadline a Lambda invocation sets) is in
test_analyze.py.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from iris.llm import (
    MIN_ATTEMPT_S,
    OFFLINE_MODEL,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    Analysis,
    AnalyzerError,
    ApiKey,
    OfflineAnalyzer,
    OpenAIAnalyzer,
    answer_identity,
    build_analyzer,
)
from iris.settings import LLM_BUDGET_S, Settings
from lambda_kit import parameters


def deadline(seconds: float = LLM_BUDGET_S) -> float:
    """A deadline `seconds` from now, as the analyze route computes one."""
    return time.monotonic() + seconds


# Offline analyzer


def test_offline_analysis_counts_words_sentences_and_keywords() -> None:
    text = "The cat sat on the mat. The cat was happy! Was the mat happy too?"

    result = OfflineAnalyzer().analyze(text, deadline())

    assert result.model == OFFLINE_MODEL == "offline-v1"
    assert result.analysis.splitlines() == [
        f"Words: 15; sentences: 3; characters: {len(text)}.",
        "Sentiment: positive (score +2; 2 positive, 0 negative word(s)).",
        "Top keywords: cat (2), mat (2), happy (2), sat (1).",
    ]


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("A great, helpful and clear answer.", "positive"),
        ("The build failed again: a slow, broken mess.", "negative"),
        ("Good ideas, bad execution.", "mixed"),
        ("The meeting is on Tuesday at noon.", "neutral"),
    ],
)
def test_offline_sentiment_comes_from_the_lexicon(text: str, sentiment: str) -> None:
    assert f"Sentiment: {sentiment} " in OfflineAnalyzer().analyze(text, deadline()).analysis


def test_offline_analysis_is_deterministic_and_unicode_aware() -> None:
    text = "Grüße aus 東京 🌸. Grüße!"

    first, second = (
        OfflineAnalyzer().analyze(text, deadline()),
        OfflineAnalyzer().analyze(text, deadline()),
    )

    assert first == second
    assert first.analysis.startswith("Words: 4; sentences: 2;")
    assert "grüße (2), aus (1), 東京 (1)" in first.analysis


# What the cache key is built from


def test_the_answer_identity_changes_with_everything_that_changes_the_answer() -> None:
    base = Settings(llm_provider="openai", openai_api_key="sk-x")
    variants = [
        base,
        dataclasses.replace(base, openai_model="gpt-4o-2024-08-06"),
        dataclasses.replace(base, openai_max_tokens=64),
        dataclasses.replace(base, openai_base_url="http://127.0.0.1:9/v1"),
        Settings(),
    ]

    identities = [answer_identity(settings) for settings in variants]

    assert len({repr(sorted(identity.items())) for identity in identities}) == len(variants)
    assert all(identity["promptVersion"] == PROMPT_VERSION for identity in identities)
    assert "sk-x" not in repr(identities), "the key must never be part of a cache key"


def test_the_answer_identity_ignores_what_does_not_change_the_answer() -> None:
    base = Settings(llm_provider="openai", openai_api_key="sk-x")
    same = dataclasses.replace(
        base, openai_api_key="sk-y", openai_timeout_s=3, openai_max_retries=0, cache_ttl_hours=1
    )

    assert answer_identity(base) == answer_identity(same)
    assert answer_identity(Settings()) == answer_identity(Settings(openai_model="other"))


# Choosing the analyzer


def test_offline_settings_build_the_offline_analyzer() -> None:
    assert isinstance(build_analyzer(Settings()), OfflineAnalyzer)


def test_openai_without_a_key_is_not_configured(openai_api: Any) -> None:
    analyzer = build_analyzer(Settings(llm_provider="openai", openai_base_url=openai_api.base_url))

    with pytest.raises(AnalyzerError) as raised:
        analyzer.analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (503, "llm_not_configured")
    assert raised.value.detail == {"reason": "no_key_configured"}
    assert openai_api.requests == []


def test_the_key_is_read_from_ssm(openai_api: Any, key_parameter: Any) -> None:
    settings = Settings(
        llm_provider="openai",
        openai_api_key_param=key_parameter.name,
        openai_base_url=openai_api.base_url,
        openai_max_retries=0,
    )

    build_analyzer(settings).analyze("hello", deadline())

    assert openai_api.requests[0]["headers"]["Authorization"] == f"Bearer {key_parameter.value}"


def test_the_key_is_trusted_for_iris_secret_max_age_s(
    key_parameter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past IRIS_SECRET_MAX_AGE_S the key is read again: a rotation reaches warm containers."""
    clock = [1_000.0]
    monkeypatch.setattr(parameters, "_now", lambda: clock[0])
    key = ApiKey(
        Settings(
            llm_provider="openai", openai_api_key_param=key_parameter.name, secret_max_age_s=60
        )
    )
    assert key.get() == key_parameter.value
    key_parameter.client.put_parameter(
        Name=key_parameter.name, Value="sk-rotated", Type="SecureString", Overwrite=True
    )

    clock[0] += 59
    assert key.get() == key_parameter.value
    clock[0] += 1
    assert key.get() == "sk-rotated"


def test_an_unreadable_key_parameter_is_not_configured(aws: None) -> None:
    settings = Settings(llm_provider="openai", openai_api_key_param="/iris/test/absent")

    with pytest.raises(AnalyzerError) as raised:
        build_analyzer(settings).analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (503, "llm_not_configured")
    assert raised.value.detail == {"reason": "ParameterNotFound", "parameter": "/iris/test/absent"}


# The OpenAI analyzer over HTTP


def openai_analyzer(stub: Any, **settings: Any) -> OpenAIAnalyzer:
    values = {
        "llm_provider": "openai",
        "openai_api_key": stub.api_key,
        "openai_model": stub.model_alias,
        "openai_max_tokens": 300,
        "openai_base_url": stub.base_url,
        "openai_timeout_s": 2.0,
        "openai_max_retries": 0,
        **settings,
    }
    return OpenAIAnalyzer(Settings(**values))


def test_openai_request_and_answer(openai_api: Any) -> None:
    text = "Grüße! The launch went well."

    result = openai_analyzer(openai_api).analyze(text, deadline())

    (sent,) = openai_api.requests
    assert sent["headers"]["Authorization"] == f"Bearer {openai_api.api_key}"
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert sent["json"]["max_completion_tokens"] == 300
    assert "max_tokens" not in sent["json"]
    assert sent["json"]["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": text},
    ]
    # The answer names the snapshot that actually answered, not the alias asked for.
    assert result == Analysis(
        analysis="Summary: a test.\nSentiment: neutral.\nTopics: testing.",
        model="gpt-4o-mini-2024-07-18",
    )


@pytest.mark.parametrize(
    ("upstream", "status", "code"),
    [
        (400, 502, "llm_upstream_error"),
        (401, 502, "llm_auth_failed"),
        (403, 502, "llm_auth_failed"),
        (429, 502, "llm_rate_limited"),
        (500, 502, "llm_upstream_error"),
        (503, 502, "llm_upstream_error"),
    ],
)
def test_openai_errors_map_to_the_contracts_codes(
    openai_api: Any, upstream: int, status: int, code: str
) -> None:
    openai_api.always(upstream)

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api).analyze("hello", deadline())

    error = raised.value
    assert (error.status, error.code) == (status, code)
    assert error.detail["upstream_status"] == upstream
    assert error.detail["upstream_request_id"] == "req_" + "1".rjust(32, "0")
    assert error.detail["attempts"] == 1
    assert openai_api.error_messages[0] not in error.message
    assert len(openai_api.requests) == 1, "max_retries=0 must mean a single attempt"


def test_a_slow_answer_is_a_timeout(openai_api: Any) -> None:
    openai_api.always(delay_s=0.6)

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_timeout_s=0.2).analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (504, "llm_timeout")
    assert raised.value.detail == {"error_type": "ReadTimeoutError", "attempts": 1}


def test_an_unreachable_endpoint_is_an_upstream_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    analyzer = OpenAIAnalyzer(
        Settings(
            llm_provider="openai",
            openai_base_url=f"http://127.0.0.1:{port}/v1",
            openai_max_retries=0,
            openai_api_key="sk-unused",
        )
    )

    with pytest.raises(AnalyzerError) as raised:
        analyzer.analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (502, "llm_upstream_error")
    # A refused connection is not a timeout (pitfall 35): urllib3 2 makes one a subclass
    # of the other.
    assert raised.value.detail == {"error_type": "NewConnectionError", "attempts": 1}


# Retries: against the request's deadline


@pytest.mark.parametrize(
    ("upstream", "code"),
    [
        (408, "llm_upstream_error"),
        (409, "llm_upstream_error"),
        (429, "llm_rate_limited"),
        (500, "llm_upstream_error"),
        (503, "llm_upstream_error"),
    ],
)
def test_retryable_failures_are_tried_again_up_to_openai_max_retries(
    openai_api: Any, upstream: int, code: str
) -> None:
    openai_api.reply(upstream, headers={"retry-after-ms": "10"})
    recovered = openai_analyzer(openai_api, openai_max_retries=1).analyze("hello", deadline())
    assert recovered.model == openai_api.model_snapshot
    assert len(openai_api.requests) == 2

    openai_api.always(upstream, headers={"retry-after-ms": "10"})
    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_max_retries=2).analyze("hello", deadline())
    assert raised.value.code == code
    assert raised.value.detail["attempts"] == 3
    assert len(openai_api.requests) == 2 + 3


@pytest.mark.parametrize("upstream", [400, 401, 403])
def test_other_failures_are_not_retried(openai_api: Any, upstream: int) -> None:
    openai_api.reply(upstream, headers={"retry-after-ms": "10"})

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_max_retries=2).analyze("hello", deadline())

    assert raised.value.detail["upstream_status"] == upstream
    assert raised.value.detail["attempts"] == 1
    assert len(openai_api.requests) == 1


@pytest.mark.parametrize(
    ("headers", "wait_s"),
    [
        ({"retry-after": "0.3"}, 0.3),
        ({"retry-after-ms": "300", "retry-after": "20"}, 0.3),
        ({}, 0.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.5),
        ({"retry-after": "nan"}, 0.5),
    ],
    ids=["seconds", "milliseconds-first", "none", "http-date", "nan"],
)
def test_a_retry_waits_what_the_server_asks_or_half_a_second(
    openai_api: Any, headers: dict[str, str], wait_s: float
) -> None:
    openai_api.reply(429, headers=headers)

    openai_analyzer(openai_api, openai_max_retries=1).analyze("hello", deadline())

    first, second = (sent["received_at"] for sent in openai_api.requests)
    assert wait_s <= second - first < wait_s + 0.4


def test_a_wait_that_does_not_fit_the_deadline_fails_at_once(openai_api: Any) -> None:
    """Sleeping the full Retry-After would outlast the gateway, which then answers a bare 503."""
    openai_api.always(429, headers={"retry-after": "5"})
    started = time.monotonic()

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_max_retries=3).analyze("hello", deadline(5.5))

    assert time.monotonic() - started < 0.5
    assert raised.value.code == "llm_rate_limited"
    assert len(openai_api.requests) == 1


def test_each_attempt_ends_at_the_deadline(openai_api: Any) -> None:
    """OPENAI_TIMEOUT_S bounds an attempt only while the deadline is further away."""
    openai_api.always(delay_s=2.5)
    started = time.monotonic()

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_timeout_s=5, openai_max_retries=1).analyze(
            "hello", deadline(1.5)
        )

    assert 1.5 <= time.monotonic() - started < 2.3
    assert (raised.value.status, raised.value.code) == (504, "llm_timeout")
    assert raised.value.detail == {"error_type": "ReadTimeoutError", "attempts": 1}
    assert len(openai_api.requests) == 1


@pytest.mark.parametrize("seconds_left", [MIN_ATTEMPT_S - 0.1, 0.0, -3.0])
def test_without_time_for_an_attempt_the_upstream_is_not_called(
    openai_api: Any, seconds_left: float
) -> None:
    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api).analyze("hello", deadline(seconds_left))

    assert (raised.value.status, raised.value.code) == (504, "llm_timeout")
    assert raised.value.detail == {"reason": "no_time_left", "attempts": 0}
    assert openai_api.requests == []


@pytest.mark.parametrize("content", [None, "", "  \n"], ids=["null", "empty", "blank"])
def test_an_empty_answer_is_an_upstream_error(openai_api: Any, content: str | None) -> None:
    openai_api.always(content=content)

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api).analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (502, "llm_upstream_error")
    assert raised.value.detail["finish_reason"] == "stop"


# The key as SSM holds it (pitfall 37)

CORE_KEY = "sk-proj-C4naryK3yOnly4Loopback0123456789abcdef"


@pytest.mark.parametrize(
    "stored",
    [f"{CORE_KEY}\n", f"{CORE_KEY}\r\n", f" \t {CORE_KEY}\t  "],
    ids=["newline", "crlf", "padded"],
)
def test_a_key_from_ssm_is_sent_stripped(openai_api: Any, key_parameter: Any, stored: str) -> None:
    key_parameter.client.put_parameter(
        Name=key_parameter.name, Value=stored, Type="SecureString", Overwrite=True
    )
    analyzer = openai_analyzer(
        openai_api, openai_api_key=None, openai_api_key_param=key_parameter.name
    )

    analyzer.analyze("hello", deadline())

    assert openai_api.requests[0]["headers"]["Authorization"] == f"Bearer {CORE_KEY}"


UNSAFE_KEYS = {
    "header-injection": f"{CORE_KEY}\r\nX-Header: x",
    "non-ascii": f"{CORE_KEY}é",
    "inner-space": f"{CORE_KEY[:10]} {CORE_KEY[10:]}",
    "nul": f"{CORE_KEY}\x00",
}


@pytest.mark.parametrize("stored", UNSAFE_KEYS.values(), ids=UNSAFE_KEYS.keys())
def test_a_key_a_header_cannot_carry_is_not_configured(
    openai_api: Any, key_parameter: Any, stored: str
) -> None:
    key_parameter.client.put_parameter(
        Name=key_parameter.name, Value=stored, Type="SecureString", Overwrite=True
    )
    analyzer = openai_analyzer(
        openai_api, openai_api_key=None, openai_api_key_param=key_parameter.name
    )

    with pytest.raises(AnalyzerError) as raised:
        analyzer.analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (503, "llm_not_configured")
    assert raised.value.detail == {
        "reason": "key_not_header_safe",
        "parameter": key_parameter.name,
    }
    assert CORE_KEY[:12] not in repr(raised.value) + str(raised.value)
    assert openai_api.requests == []


def test_a_key_set_directly_that_a_header_cannot_carry_names_the_variable(
    openai_api: Any,
) -> None:
    analyzer = openai_analyzer(openai_api, openai_api_key=UNSAFE_KEYS["header-injection"])

    with pytest.raises(AnalyzerError) as raised:
        analyzer.analyze("hello", deadline())

    assert raised.value.detail == {"reason": "key_not_header_safe", "variable": "OPENAI_API_KEY"}
    assert openai_api.requests == []


def test_an_exception_building_the_request_keeps_only_its_type() -> None:
    """http.client's "Invalid header value" quotes the header: the key must not travel on."""
    from iris.chat import ChatCompletionsClient, ChatError

    client = ChatCompletionsClient("http://127.0.0.1:9/v1")

    with pytest.raises(ChatError) as raised:
        client.complete(
            UNSAFE_KEYS["header-injection"],
            model="m",
            max_completion_tokens=1,
            messages=[],
            timeout_s=1,
        )

    assert (raised.value.kind, raised.value.error_type) == ("request", "ValueError")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert CORE_KEY[:12] not in str(raised.value) + repr(raised.value)


# A refused key is read again, but not on every request (issue: 12 refused requests, 13 reads)


@pytest.mark.parametrize(("max_age_s", "interval_s"), [(60, 10.0), (300, 30.0), (3_600, 360.0)])
def test_a_refused_key_is_read_again_at_most_once_per_interval(
    key_parameter: Any, monkeypatch: pytest.MonkeyPatch, max_age_s: int, interval_s: float
) -> None:
    reads: list[str] = []
    real_read = parameters._read
    monkeypatch.setattr(parameters, "_read", lambda *a: reads.append(a[0]) or real_read(*a))
    clock = [1_000.0]
    key = ApiKey(
        Settings(
            llm_provider="openai",
            openai_api_key_param=key_parameter.name,
            secret_max_age_s=max_age_s,
        ),
        clock=lambda: clock[0],
    )

    first = key.reread()
    clock[0] += interval_s - 0.1
    too_soon = key.reread()
    clock[0] += 0.1
    again = key.reread()

    assert (first, too_soon, again) == (key_parameter.value, None, key_parameter.value)
    assert len(reads) == 2


# Only a finished completion is complete (pitfall 39)


@pytest.mark.parametrize(
    ("reply", "complete"),
    [({"finish_reason": "stop"}, True), ({"finish_reason": "length"}, False)],
    ids=["stop", "length"],
)
def test_a_finished_answer_is_complete_and_a_cut_one_is_not(
    openai_api: Any, reply: dict[str, Any], complete: bool
) -> None:
    openai_api.always(**reply)

    result = openai_analyzer(openai_api).analyze("hello", deadline())

    assert result.complete is complete
    assert result.analysis == "Summary: a test.\nSentiment: neutral.\nTopics: testing."


@pytest.mark.parametrize(
    "reply",
    [{"finish_reason": "content_filter"}, {"finish_reason": "tool_calls"}, {"no_choices": True}],
    ids=["content_filter", "tool_calls", "no-choice"],
)
def test_a_refused_or_missing_answer_is_an_upstream_error(
    openai_api: Any, reply: dict[str, Any]
) -> None:
    openai_api.always(**reply)

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api).analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (502, "llm_upstream_error")
    assert raised.value.detail["finish_reason"] == reply.get("finish_reason")


# The whole answer within the attempt's time, and within a size (pitfall 38)


def test_a_dripping_answer_is_cut_at_the_attempts_timeout(openai_api: Any) -> None:
    """urllib3's read timeout is per socket read: a byte every 0.2 s would never trip it."""
    openai_api.always(drip_s=0.2)
    timeout_s = 0.8
    started = time.monotonic()

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_timeout_s=timeout_s).analyze("hello", deadline())

    assert time.monotonic() - started < timeout_s * 3
    assert (raised.value.status, raised.value.code) == (504, "llm_timeout")
    assert raised.value.detail["error_type"] in ("AnswerDeadline", "ReadTimeoutError")
    assert raised.value.detail["upstream_status"] == 200


@contextmanager
def header_drip_server(every_s: float) -> Iterator[str]:
    """A base URL whose server sends a status line, then its headers one byte every `every_s`."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65_536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            for byte in b"X-Slow: " + b"a" * 10_000:
                if stop.wait(every_s):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def test_dripping_headers_are_cut_at_the_attempts_timeout() -> None:
    """http.client reads headers line by line, each socket read under the read timeout."""
    timeout_s = 0.8
    with header_drip_server(every_s=0.2) as base_url:
        analyzer = OpenAIAnalyzer(
            Settings(
                llm_provider="openai",
                openai_api_key="sk-unused-0123456789",
                openai_base_url=base_url,
                openai_timeout_s=timeout_s,
                openai_max_retries=0,
            )
        )
        started = time.monotonic()
        with pytest.raises(AnalyzerError) as raised:
            analyzer.analyze("hello", deadline())
        elapsed = time.monotonic() - started

    assert elapsed < timeout_s * 3
    assert (raised.value.status, raised.value.code) == (504, "llm_timeout")
    assert (raised.value.detail["error_type"], raised.value.detail["attempts"]) == (
        "AnswerDeadline",
        1,
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_an_answer_over_the_size_cap_is_an_upstream_error(openai_api: Any, chunked: bool) -> None:
    from iris.chat import MAX_ANSWER_BYTES

    openai_api.always(content="x" * MAX_ANSWER_BYTES, chunked=chunked)

    with pytest.raises(AnalyzerError) as raised:
        openai_analyzer(openai_api, openai_max_retries=1).analyze("hello", deadline())

    assert (raised.value.status, raised.value.code) == (502, "llm_upstream_error")
    assert raised.value.detail["error_type"] == "AnswerTooLarge"
    # The same request would get the same answer: not retried.
    assert len(openai_api.requests) == 1


def test_an_answer_just_under_the_size_cap_is_read(openai_api: Any) -> None:
    from iris.chat import MAX_ANSWER_BYTES

    openai_api.always(content="x" * (MAX_ANSWER_BYTES - 2_000), chunked=True)

    result = openai_analyzer(openai_api).analyze("hello", deadline())

    assert len(result.analysis) == MAX_ANSWER_BYTES - 2_000
