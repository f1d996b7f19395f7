"""IRIS's checks, in the order they run, and what every check set shares (a run's target and
client, the outcome of a check, JSON and CORS expectations). Each IRIS check proves one thing a
user of the API relies on:

- health: the function answers through the gateway (`GET /health`, no key, no SDK);
- iris health: the guarded route answers with the key (or is open without one);
- cors preflight: a browser at the origin may POST to analyze with the frontend's headers;
- analyze / analyze again: the LLM path answers a new text, and the same text again from
  the cache;
- no key refused / key accepted: with an API key, analyze is closed without it and open with it.

A check returns a short detail when it passes and raises CheckFailed otherwise; CheckSkipped
says why it does not apply (no origin, no key, the day's LLM token budget spent).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from smoke.client import Client, HttpReply, HttpRequest, TransportError
from smoke.target import Target

HEALTH = "/health"
IRIS_HEALTH = "/api/iris/health"
ANALYZE = "/api/iris/analyze"
JSON_TYPE = ("Content-Type", "application/json")
REFUSED = (401, 403)
SNIPPET_CHARS = 120


class CheckFailed(Exception):
    pass


class CheckSkipped(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    name: str
    result: str  # "PASS", "FAIL" or "SKIP"
    detail: str
    elapsed_ms: float


@dataclass(frozen=True)
class Run:
    """What the checks share: the target and its client."""

    target: Target
    client: Client

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        with_key: bool = True,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> HttpReply:
        sent = list(headers)
        if self.target.origin:
            sent.append(("Origin", self.target.origin))
        data = None
        if body is not None:
            sent.append(JSON_TYPE)
            data = json.dumps(body).encode("utf-8")
        return self.client.send(
            HttpRequest(
                method,
                path,
                tuple(sent),
                data,
                self.target.api_key if with_key else None,
            )
        )


@dataclass(frozen=True)
class IrisRun(Run):
    """An IRIS run: with the text unique to it, which its analyze checks send."""

    text: str


Check = Callable[[Any], str]


def unique_text() -> str:
    """A text no cache has seen, so the first analyze is a miss and the second a hit."""
    return f"IRIS smoke test {uuid.uuid4()}: is this answer served from the cache?"


def check_health(run: Run) -> str:
    reply = run.send("GET", HEALTH, with_key=False)
    body = expect_json(reply, 200)
    if body.get("status") != "ok":
        raise CheckFailed(f'{reply.status} but status is {body.get("status")!r}, not "ok"')
    return f'{reply.status} {{"status": "ok"}}'


def check_iris_health(run: Run) -> str:
    reply = run.send("GET", IRIS_HEALTH)
    body = expect_json(reply, 200)
    if "status" not in body:
        raise CheckFailed(f"{reply.status} without a status field: {snippet(reply)}")
    return f"{reply.status} status {json.dumps(body['status'])}"


def check_preflight(run: Run) -> str:
    return preflight(run, ANALYZE, "POST", ["content-type"])


def preflight(run: Run, path: str, method: str, headers: list[str]) -> str:
    """A browser at the origin may send `method` to `path` with `headers` (and the key)."""
    target = run.target
    if not target.origin:
        raise CheckSkipped("no origin given (ORIGIN=<frontend origin> runs it)")
    requested = [*headers, *(["x-api-key"] if target.api_key else [])]
    asked = [("Access-Control-Request-Method", method)]
    if requested:
        asked.append(("Access-Control-Request-Headers", ",".join(requested)))
    reply = run.send("OPTIONS", path, with_key=False, headers=tuple(asked))
    if not 200 <= reply.status < 300:
        raise CheckFailed(f"answered {reply.status}, expected 204: {snippet(reply)}")
    allowed_origin = reply.header("Access-Control-Allow-Origin")
    if allowed_origin not in target.expected_origins:
        raise CheckFailed(
            f"{reply.status} without Access-Control-Allow-Origin for {target.origin} "
            f"(got {allowed_origin or 'none'}): is it in the stack's corsOrigins?"
        )
    methods = header_list(reply, "Access-Control-Allow-Methods")
    if not {method.lower(), "*"} & methods:
        raise CheckFailed(f"{reply.status} but {method} is not among the allowed methods {methods}")
    allowed = header_list(reply, "Access-Control-Allow-Headers")
    missing = [name for name in requested if name not in allowed and "*" not in allowed]
    if missing:
        raise CheckFailed(f"{reply.status} but the headers {missing} are not allowed")
    with_headers = f" with {', '.join(requested)}" if requested else ""
    return f"{reply.status} allows {allowed_origin}: {method}{with_headers}"


def check_first_analyze(run: IrisRun) -> str:
    return analyze(run, expect_cached=False)


def check_second_analyze(run: IrisRun) -> str:
    return analyze(run, expect_cached=True)


def analyze(run: IrisRun, *, expect_cached: bool) -> str:
    reply = run.send("POST", ANALYZE, body={"text": run.text})
    skip_when_budget_spent(reply)
    body = expect_json(reply, 200)
    if not (isinstance(body.get("analysis"), str) and body["analysis"].strip()):
        raise CheckFailed(f"{reply.status} without an analysis: {snippet(reply)}")
    if not isinstance(body.get("model"), str):
        raise CheckFailed(f"{reply.status} without a model: {snippet(reply)}")
    cached = body.get("cached")
    if cached is not expect_cached:
        raise CheckFailed(
            f"{reply.status} with cached={json.dumps(cached)}, expected "
            f"{json.dumps(expect_cached)}"
            + (": the cache did not answer the same text" if expect_cached else "")
        )
    expect_cors(run.target, reply)
    return f"{reply.status} cached={json.dumps(cached)} model {json.dumps(body['model'])}"


def check_no_key_refused(run: IrisRun) -> str:
    if run.target.api_key is None:
        raise CheckSkipped("no API key given (API_KEY=<key> runs it)")
    reply = run.send("POST", ANALYZE, body={"text": run.text}, with_key=False)
    if reply.status not in REFUSED:
        raise CheckFailed(
            f"answered {reply.status} without a key, expected 401 or 403: "
            "is apiKeys set on the stack?"
        )
    return f"{reply.status} without X-API-Key"


def check_key_accepted(run: IrisRun) -> str:
    if run.target.api_key is None:
        raise CheckSkipped("no API key given (API_KEY=<key> runs it)")
    reply = run.send("POST", ANALYZE, body={"text": run.text})
    skip_when_budget_spent(reply)
    expect_json(reply, 200)
    return f"{reply.status} with X-API-Key"


def skip_when_budget_spent(reply: HttpReply) -> None:
    """The day's LLM token budget is spent: the API answers as it should (429
    llm_budget_exhausted), but the model path cannot be checked until the next UTC day."""
    if reply.status != 429:
        return
    try:
        code = reply.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return
    if code == "llm_budget_exhausted":
        raise CheckSkipped(
            "429 llm_budget_exhausted: the day's LLM token budget is spent, so the model path "
            f"is not checked (Retry-After {reply.header('Retry-After')} s; raise "
            "llmDailyTokenBudget to check it today)"
        )


CHECKS: tuple[tuple[str, Check], ...] = (
    ("health", check_health),
    ("iris health", check_iris_health),
    ("cors preflight", check_preflight),
    ("analyze", check_first_analyze),
    ("analyze again", check_second_analyze),
    ("no key refused", check_no_key_refused),
    ("key accepted", check_key_accepted),
)


def run_checks(run: Run, checks: Sequence[tuple[str, Check]] = CHECKS) -> Iterator[Outcome]:
    """Every check in order, whatever the ones before it found."""
    for name, check in checks:
        started = time.perf_counter()
        try:
            result, detail = "PASS", check(run)
        except CheckSkipped as skipped:
            result, detail = "SKIP", str(skipped)
        except (CheckFailed, TransportError) as failure:
            result, detail = "FAIL", str(failure)
        except Exception as error:  # a bug or a surprise is this check's failure, not a crash
            result, detail = "FAIL", f"unexpected {type(error).__name__}"
        yield Outcome(name, result, detail, (time.perf_counter() - started) * 1000)


def expect_json(reply: HttpReply, status: int) -> dict[str, Any]:
    """The reply's JSON object, when it has the expected status; else CheckFailed."""
    if reply.status != status:
        raise CheckFailed(
            f"answered {reply.status}, expected {status}{status_hint(reply.status)}: "
            f"{snippet(reply)}"
        )
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CheckFailed(f"{reply.status} but the body is not a JSON object: {snippet(reply)}")
    return body


def expect_cors(target: Target, reply: HttpReply) -> None:
    """A browser at the origin may read the answer."""
    if target.origin and reply.header("Access-Control-Allow-Origin") not in (
        target.expected_origins
    ):
        raise CheckFailed(
            f"{reply.status} without Access-Control-Allow-Origin for {target.origin}: "
            "a browser there could not read it"
        )


def status_hint(status: int) -> str:
    return {
        401: " (the API wants an X-API-Key: give API_KEY)",
        403: " (the API key was refused)",
        502: " (the LLM upstream failed: check the OpenAI key and the function's log)",
        503: " (the LLM is not configured, or the function timed out)",
        504: " (the analysis ran out of time)",
    }.get(status, "")


def header_list(reply: HttpReply, name: str) -> set[str]:
    return {part.strip().lower() for part in (reply.header(name) or "").split(",") if part.strip()}


def snippet(reply: HttpReply) -> str:
    text = " ".join(reply.body.decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "..."
