"""The analysis cache: its key, the memory LRU, DynamoDB through moto, and the route using it.

Route-level cases go through the real Lambda handler; the DynamoDB table is created in moto
the way the stack declares it (`pk` hash key, TTL on `expires_at`).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
from botocore.stub import Stubber

from iris.analyze import SERVICE_EXTENSION, AnalysisService
from iris.cache import CacheEntry, DynamoDBCache, Lookup, MemoryCache, TieredCache, cache_key
from iris.llm import Analysis
from lambda_kit.aws import client as aws_client

HOUR = 3600
ANSWER = Analysis(analysis="Summary: cached.", model="gpt-4o-mini-2024-07-18")


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# The key


IDENTITY = {"provider": "openai", "model": "gpt-4o-mini", "maxTokens": 300, "promptVersion": "1"}


def test_the_key_is_a_sha256_of_identity_and_text() -> None:
    key = cache_key(IDENTITY, "hello")

    assert len(key) == 64 and int(key, 16) >= 0
    assert key == cache_key(dict(reversed(IDENTITY.items())), "hello"), "order must not matter"


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({}, "hello "),
        ({}, "Hello"),
        ({"model": "gpt-4o-2024-08-06"}, "hello"),
        ({"provider": "offline"}, "hello"),
        ({"maxTokens": 301}, "hello"),
        ({"promptVersion": "2"}, "hello"),
    ],
    ids=["trailing-space", "case", "model", "provider", "max-tokens", "prompt-version"],
)
def test_anything_that_changes_the_answer_changes_the_key(
    change: dict[str, Any], text: str
) -> None:
    assert cache_key({**IDENTITY, **change}, text) != cache_key(IDENTITY, "hello")


# Memory


def test_memory_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = MemoryCache(ttl_seconds=2 * HOUR, clock=clock)
    cache.put("k", ANSWER)

    clock.now += 2 * HOUR - 1
    assert cache.get("k") == Lookup(CacheEntry(ANSWER.analysis, ANSWER.model, 1_800_007_200.0))
    clock.now += 1
    assert cache.get("k") == Lookup(None)
    assert len(cache) == 0


def test_memory_is_a_bounded_lru() -> None:
    cache = MemoryCache(ttl_seconds=HOUR, max_entries=3)
    for key in "abc":
        cache.put(key, ANSWER)

    cache.get("a")  # "b" is now the least recently used
    cache.put("d", ANSWER)

    assert [key for key in "abcd" if cache.get(key).entry] == ["a", "c", "d"]
    assert len(cache) == 3


# DynamoDB


def test_dynamodb_item_shape_and_round_trip(cache_table: Any) -> None:
    clock = FakeClock()
    cache = DynamoDBCache(cache_table.name, ttl_hours=6, clock=clock)

    assert cache.get("k") == Lookup(None)
    cache.put("k", ANSWER)

    (item,) = cache_table.items()
    assert item == {
        "pk": {"S": "k"},
        "analysis": {"S": ANSWER.analysis},
        "model": {"S": ANSWER.model},
        "created_at": {"N": "1800000000"},
        "expires_at": {"N": str(1_800_000_000 + 6 * HOUR)},
    }
    assert cache.get("k").entry == CacheEntry(
        ANSWER.analysis, ANSWER.model, 1_800_000_000 + 6 * HOUR
    )


def test_a_write_after_a_timed_out_read_is_skipped(cache_table: Any) -> None:
    cache = DynamoDBCache(cache_table.name, ttl_hours=1)

    cache.put("k", ANSWER, persist=False)

    assert cache_table.items() == []


def test_an_expired_item_is_a_miss_before_dynamodb_deletes_it(cache_table: Any) -> None:
    """DynamoDB's TTL deletes items lazily (up to days later): expiry is checked on read."""
    clock = FakeClock()
    cache = DynamoDBCache(cache_table.name, ttl_hours=1, clock=clock)
    cache.put("k", ANSWER)

    clock.now += HOUR
    assert cache.get("k") == Lookup(None)
    assert len(cache_table.items()) == 1


def test_a_malformed_item_is_a_miss(cache_table: Any, logs: Any) -> None:
    cache_table.client.put_item(
        TableName=cache_table.name, Item={"pk": {"S": "k"}, "analysis": {"S": "no model"}}
    )

    assert DynamoDBCache(cache_table.name, ttl_hours=1).get("k") == Lookup(None)
    assert [entry["message"] for entry in logs()] == ["cache item malformed"]


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "AccessDenied"])
def test_dynamodb_errors_are_misses_and_skipped_writes(
    cache_table: Any, logs: Any, code: str
) -> None:
    cache = DynamoDBCache(cache_table.name, ttl_hours=1)
    with Stubber(aws_client("dynamodb")) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        stub.add_client_error("put_item", service_error_code=code, http_status_code=400)

        # An error answered at once is no timeout: the write is still worth trying.
        assert cache.get("k") == Lookup(None, writable=True)
        cache.put("k", ANSWER)
        stub.assert_no_pending_responses()

    warnings = [(entry["level"], entry["message"], entry["error_code"]) for entry in logs()]
    assert warnings == [
        ("WARNING", "cache read failed", code),
        ("WARNING", "cache write failed", code),
    ]
    assert cache_table.items() == []


@pytest.fixture
def without_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local run without boto3: importing it (or botocore) raises ImportError."""
    for name in ("boto3", "botocore", "botocore.config", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, name, None)


def test_without_boto3_dynamodb_is_a_miss_and_a_skipped_write(
    without_boto3: None, logs: Any
) -> None:
    cache = DynamoDBCache("iris-test-analysis-cache", ttl_hours=1)

    assert cache.get("k") == Lookup(None)
    cache.put("k", ANSWER)

    warnings = [(entry["level"], entry["message"], entry["error_type"]) for entry in logs()]
    assert warnings == [
        ("WARNING", "cache read failed", "ModuleNotFoundError"),
        ("WARNING", "cache write failed", "ModuleNotFoundError"),
    ]


def test_the_dynamodb_client_is_created_by_prepare_and_kept(cache_table: Any) -> None:
    cache = DynamoDBCache(cache_table.name, ttl_hours=1)
    cache.prepare()
    client = aws_client("dynamodb")

    cache.put("k", ANSWER)
    cache.get("k")

    assert aws_client("dynamodb") is client


def test_a_slow_dynamodb_costs_a_second_or_two_not_the_request(cache_table: Any) -> None:
    """A cache that waits longer than the call it saves is no cache: one short attempt."""
    config = aws_client("dynamodb").meta.config

    attempts = config.retries["total_max_attempts"]
    assert (config.connect_timeout + config.read_timeout) * attempts <= 2


def test_a_dynamodb_hit_fills_memory_with_its_expiry(cache_table: Any) -> None:
    clock = FakeClock()
    DynamoDBCache(cache_table.name, ttl_hours=2, clock=clock).put("k", ANSWER)
    memory = MemoryCache(ttl_seconds=10 * HOUR, clock=clock)
    tiered = TieredCache(memory, DynamoDBCache(cache_table.name, ttl_hours=2, clock=clock))

    clock.now += HOUR
    entry = tiered.get("k").entry
    cache_table.client.delete_item(TableName=cache_table.name, Key={"pk": {"S": "k"}})

    assert entry is not None and entry.as_analysis() == ANSWER
    assert tiered.get("k").entry == entry, "the second read is answered from memory"
    clock.now += HOUR
    assert memory.get("k").entry is None, "memory must not outlive the persisted item"


# Through the route


def test_a_repeated_text_is_answered_from_the_cache(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name)

    first = container.analyze({"text": "Is this cached?"})
    second = container.analyze({"text": "Is this cached?"})

    assert (first.status, second.status) == (200, 200)
    assert (first.body["cached"], second.body["cached"]) == (False, True)
    assert second.body["analysis"] == first.body["analysis"]
    assert second.body["model"] == first.body["model"] == openai_api.model_snapshot
    assert len(openai_api.requests) == 1


def test_the_persisted_item_expires_after_the_configured_ttl(
    openai_container: Any, cache_table: Any
) -> None:
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name, IRIS_CACHE_TTL_HOURS="2")

    before = time.time()
    container.analyze({"text": "hello"})
    after = time.time()

    (item,) = cache_table.items()
    assert before - 1 <= int(item["created_at"]["N"]) <= after
    assert int(item["expires_at"]["N"]) - int(item["created_at"]["N"]) == 2 * HOUR
    assert item["model"] == {"S": "gpt-4o-mini-2024-07-18"}


def test_a_fresh_container_hits_the_persisted_item(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    openai_container(IRIS_CACHE_TABLE=cache_table.name).analyze({"text": "persist me"})

    restarted = openai_container(IRIS_CACHE_TABLE=cache_table.name)
    answer = restarted.analyze({"text": "persist me"})

    assert answer.status == 200 and answer.body["cached"] is True
    assert len(openai_api.requests) == 1


@pytest.mark.parametrize(
    ("second_env", "second_text"),
    [({}, "another text"), ({"OPENAI_MODEL": "gpt-4o-2024-08-06"}, "same text")],
    ids=["different-text", "different-model"],
)
def test_what_changes_the_answer_misses(
    openai_container: Any,
    openai_api: Any,
    cache_table: Any,
    second_env: dict[str, str],
    second_text: str,
) -> None:
    openai_container(IRIS_CACHE_TABLE=cache_table.name).analyze({"text": "same text"})

    second = openai_container(IRIS_CACHE_TABLE=cache_table.name, **second_env)
    answer = second.analyze({"text": second_text})

    assert answer.status == 200 and answer.body["cached"] is False
    assert len(openai_api.requests) == 2
    assert len(cache_table.items()) == 2


def test_failed_analyses_are_not_cached(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    openai_api.reply(500)
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name)

    failed = container.analyze({"text": "retry me"})
    assert cache_table.items() == []
    retried = container.analyze({"text": "retry me"})

    assert (failed.status, retried.status) == (502, 200)
    assert retried.body["cached"] is False
    assert len(openai_api.requests) == 2


def test_an_expired_item_is_analyzed_again(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    openai_container(IRIS_CACHE_TABLE=cache_table.name).analyze({"text": "stale"})
    (item,) = cache_table.items()
    cache_table.client.update_item(
        TableName=cache_table.name,
        Key={"pk": item["pk"]},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )

    answer = openai_container(IRIS_CACHE_TABLE=cache_table.name).analyze({"text": "stale"})

    assert answer.body["cached"] is False
    assert len(openai_api.requests) == 2
    (renewed,) = cache_table.items()
    assert int(renewed["expires_at"]["N"]) > time.time()


def test_a_missing_table_still_answers(start_container: Any, aws: None, logs: Any) -> None:
    container = start_container(IRIS_CACHE_TABLE="iris-test-no-such-table")

    answers = [container.analyze({"text": "still works"}) for _ in range(2)]

    assert [(answer.status, answer.body["cached"]) for answer in answers] == [
        (200, False),
        (200, True),  # from memory: the tier in front of DynamoDB still works
    ]
    warnings = [entry for entry in logs() if entry["level"] == "WARNING"]
    assert [(entry["message"], entry["error_code"]) for entry in warnings] == [
        ("cache read failed", "ResourceNotFoundException"),
        ("cache write failed", "ResourceNotFoundException"),
    ]
    assert warnings[0]["requestId"] == answers[0].request_id


def test_a_local_run_without_boto3_still_answers(
    start_container: Any, without_boto3: None, logs: Any
) -> None:
    container = start_container(IRIS_CACHE_TABLE="iris-test-analysis-cache")

    answers = [container.analyze({"text": "no boto3 here"}) for _ in range(2)]

    assert [(answer.status, answer.body["cached"]) for answer in answers] == [
        (200, False),
        (200, True),
    ]
    warnings = [(e["message"], e["error_type"]) for e in logs() if e["level"] == "WARNING"]
    assert warnings == [
        ("init step failed; the first request retries it", "ModuleNotFoundError"),
        ("cache read failed", "ModuleNotFoundError"),
        ("cache write failed", "ModuleNotFoundError"),
    ]


def test_a_throttled_table_still_answers(start_container: Any, cache_table: Any, logs: Any) -> None:
    container = start_container(IRIS_CACHE_TABLE=cache_table.name)
    code = "ProvisionedThroughputExceededException"

    with Stubber(aws_client("dynamodb")) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        stub.add_client_error("put_item", service_error_code=code, http_status_code=400)
        answer = container.analyze({"text": "throttled"})

    assert answer.status == 200 and answer.body["cached"] is False
    assert [entry["error_code"] for entry in logs() if entry["level"] == "WARNING"] == [code] * 2


def test_local_runs_cache_in_memory(start_container: Any) -> None:
    """No IRIS_CACHE_TABLE: the offline analyzer behind the same cache interface."""
    calls: list[str] = []

    class CountingAnalyzer:
        def analyze(self, text: str, deadline: float) -> Analysis:
            calls.append(text)
            return Analysis(analysis=f"{len(text)} characters", model="offline-counting")

    container = start_container()
    container.app.extensions[SERVICE_EXTENSION] = AnalysisService(
        container.app.extensions["iris.settings"], analyzer_factory=lambda _: CountingAnalyzer()
    )

    answers = [container.analyze({"text": text}) for text in ("one", "one", "two", "one")]

    assert [answer.body["cached"] for answer in answers] == [False, True, False, True]
    assert calls == ["one", "two"]
    assert isinstance(container.app.extensions[SERVICE_EXTENSION].cache, MemoryCache)
