"""The analysis cache: an in-process LRU, optionally in front of a DynamoDB table.

The same text asked with the same model, prompt and limits gets the stored answer instead of
a second (slow, paid) LLM call. The DynamoDB table outlives containers; any failure there
(the AWS SDK not installed included) costs a cache miss, never the request, and a read that timed
out is not followed by a write in the same request: one timeout per request at most.
Flask-free; the DynamoDB client comes from `lambda_kit.aws` (at INIT when deployed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from iris.llm import Analysis
from iris.settings import Settings
from lambda_kit import aws

__all__ = [
    "Cache",
    "CacheEntry",
    "DynamoDBCache",
    "Lookup",
    "MemoryCache",
    "TieredCache",
    "build_cache",
    "cache_key",
]

log = logging.getLogger("iris")

Clock = Callable[[], float]
MEMORY_ENTRIES = 256


# Value records are NamedTuples: a frozen dataclass costs every cold start about 0.7 ms to build.
class CacheEntry(NamedTuple):
    analysis: str
    model: str
    expires_at: float

    def as_analysis(self) -> Analysis:
        return Analysis(analysis=self.analysis, model=self.model)


class Lookup(NamedTuple):
    """What a cache read found, and whether the request may still write what it computes."""

    entry: CacheEntry | None
    # False once the persistent tier timed out: a write would cost the request another timeout.
    writable: bool = True


MISS = Lookup(None)


class Cache(Protocol):
    def prepare(self) -> None:
        """The one-time work of a container (at INIT when deployed); may raise, never required."""
        ...

    def get(self, key: str) -> Lookup: ...

    def put(self, key: str, analysis: Analysis, *, persist: bool = True) -> None:
        """Store `analysis`; `persist=False` keeps it out of every tier that can time out."""
        ...


def cache_key(identity: Mapping[str, Any], text: str) -> str:
    """sha256 of a canonical JSON of everything that changes the answer, the text included."""
    canonical = json.dumps(
        {**identity, "text": text}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_cache(settings: Settings, clock: Clock = time.time) -> Cache:
    """Memory only for local runs; memory in front of DynamoDB when IRIS_CACHE_TABLE is set."""
    ttl_seconds = settings.cache_ttl_hours * 3600
    memory = MemoryCache(ttl_seconds, clock=clock)
    if not settings.cache_table:
        return memory
    return TieredCache(memory, DynamoDBCache(settings.cache_table, settings.cache_ttl_hours, clock))


class MemoryCache:
    """A bounded LRU whose entries expire; thread-safe for `flask run`."""

    def __init__(
        self, ttl_seconds: float, max_entries: int = MEMORY_ENTRIES, clock: Clock = time.time
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def prepare(self) -> None:
        """Nothing to prepare: memory needs no client."""

    def get(self, key: str) -> Lookup:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return MISS
            if entry.expires_at <= self._clock():
                del self._entries[key]
                return MISS
            self._entries.move_to_end(key)
            return Lookup(entry)

    def put(self, key: str, analysis: Analysis, *, persist: bool = True) -> None:
        expires_at = self._clock() + self._ttl_seconds
        self.remember(key, CacheEntry(analysis.analysis, analysis.model, expires_at))

    def remember(self, key: str, entry: CacheEntry) -> None:
        """Store an entry with its own expiry (one read from a slower tier keeps that tier's)."""
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


class DynamoDBCache:
    """Items keyed by `pk`; `expires_at` (epoch seconds) is the table's TTL attribute.

    DynamoDB deletes expired items only eventually, so an item past `expires_at` is a miss too.
    A cache that waits longer than the LLM call it saves is no cache: each call is one attempt
    with a short timeout (`lambda_kit.aws`), and any failure is a miss.
    """

    def __init__(self, table_name: str, ttl_hours: int, clock: Clock = time.time) -> None:
        self.table_name = table_name
        self._ttl_seconds = ttl_hours * 3600
        self._clock = clock

    def prepare(self) -> None:
        """INIT: create the DynamoDB client (and the container's AWS session)."""
        aws.client("dynamodb")

    def get(self, key: str) -> Lookup:
        try:
            answer = aws.client("dynamodb").get_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
            )
        except aws.call_failures() as error:
            self._warn("cache read failed", error)
            return Lookup(None, writable=not aws.is_timeout(error))
        item = answer.get("Item")
        if not item:
            return MISS
        try:
            entry = CacheEntry(
                analysis=item["analysis"]["S"],
                model=item["model"]["S"],
                expires_at=float(item["expires_at"]["N"]),
            )
        except (KeyError, ValueError, TypeError):
            log.warning("cache item malformed", extra={"cache_table": self.table_name})
            return MISS
        return Lookup(entry) if entry.expires_at > self._clock() else MISS

    def put(self, key: str, analysis: Analysis, *, persist: bool = True) -> None:
        if not persist:
            return
        now = int(self._clock())
        try:
            aws.client("dynamodb").put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": key},
                    "analysis": {"S": analysis.analysis},
                    "model": {"S": analysis.model},
                    "created_at": {"N": str(now)},
                    "expires_at": {"N": str(now + self._ttl_seconds)},
                },
            )
        except aws.call_failures() as error:
            self._warn("cache write failed", error)

    def _warn(self, message: str, error: Exception) -> None:
        log.warning(message, extra={"cache_table": self.table_name, **aws.failure_detail(error)})


class TieredCache:
    """Memory in front of a persistent cache: a hit below fills memory with the same expiry."""

    def __init__(self, front: MemoryCache, back: Cache) -> None:
        self.front = front
        self.back = back

    def prepare(self) -> None:
        self.back.prepare()

    def get(self, key: str) -> Lookup:
        found = self.front.get(key)
        if found.entry is None:
            found = self.back.get(key)
            if found.entry is not None:
                self.front.remember(key, found.entry)
        return found

    def put(self, key: str, analysis: Analysis, *, persist: bool = True) -> None:
        self.front.put(key, analysis)
        self.back.put(key, analysis, persist=persist)
