"""SpendSense's checks, in the order they run; the routes and JSON are the API's, written
out here rather than taken from the code under test, so a route that answers the wrong JSON
fails. Each proves one thing a client of the API relies on:

- health: the API function answers through the gateway (`GET /health`, no key, no data);
- stats: the database is loaded and `/api/stats` has the API's fields (its `lastDate` is
  the day the insight checks ask for);
- cors preflight: a browser at the origin may GET the data routes with the key;
- one check per insight: the route answers the user with exactly the API's keys (in the
  split shape each is a function of its own);
- invalid query / unknown user: the API's 400 `invalid_query` and 404 `user_not_found`;
- no key refused: with an API key, the data routes are closed without it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from smoke.checks import (
    REFUSED,
    Check,
    CheckFailed,
    CheckSkipped,
    Run,
    check_health,
    expect_cors,
    expect_json,
    preflight,
    snippet,
)
from smoke.client import HttpReply

STATS = "/api/stats"
# A user the sample database has (`make spendsense-db`), with accounts, spending and budgets.
DEFAULT_USER_ID = "u-001"
STATS_KEYS = {"users", "accounts", "transactions", "firstDate", "lastDate"}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Shape:
    """The keys of an insight's answer, and of each item of its one list (if it has one)."""

    keys: frozenset[str]
    list_key: str | None = None
    item_keys: frozenset[str] = frozenset()


def _shape(keys: str, list_key: str | None = None, item_keys: str = "") -> Shape:
    return Shape(frozenset(keys.split()), list_key, frozenset(item_keys.split()))


# Insight check name -> (path, the shape of its answer).
INSIGHTS: dict[str, tuple[str, Shape]] = {
    "weekly recap": (
        "/api/insights/weekly-recap",
        _shape("userId from to spentCents incomeCents transactions byCategory"),
    ),
    "spending analysis": (
        "/api/insights/spending-analysis",
        _shape(
            "userId from to totalSpentCents categories", "categories", "category spentCents share"
        ),
    ),
    "budget tracking": (
        "/api/insights/budget-tracking",
        _shape(
            "userId month budgets",
            "budgets",
            "category limitCents spentCents remainingCents status",
        ),
    ),
    "budget suggestion": (
        "/api/insights/budget-suggestion",
        _shape(
            "userId months suggestions",
            "suggestions",
            "category averageSpentCents suggestedLimitCents",
        ),
    ),
    "net worth": (
        "/api/insights/net-worth",
        _shape("userId assetsCents liabilitiesCents netWorthCents"),
    ),
}


@dataclass(frozen=True)
class SpendSenseRun(Run):
    """A SpendSense run: the user the insight checks ask about, and what the checks found
    (the stats check's `lastDate`, as `as_of`)."""

    user_id: str = DEFAULT_USER_ID
    found: dict[str, str] = field(default_factory=dict)

    def query(self, **extra: str) -> str:
        parameters = {"user_id": self.user_id, **extra}
        if "as_of" in self.found:
            parameters.setdefault("as_of", self.found["as_of"])
        return "?" + urlencode(parameters)


def check_stats(run: SpendSenseRun) -> str:
    reply = run.send("GET", STATS)
    body = expect_json(reply, 200)
    expect_keys(reply, body, STATS_KEYS, "the stats")
    counts = {name: body[name] for name in ("users", "accounts", "transactions")}
    bad = [name for name, value in counts.items() if not _is_count(value)]
    if bad:
        raise CheckFailed(f"{reply.status} but {', '.join(bad)} not a count: {snippet(reply)}")
    last = body["lastDate"]
    if counts["transactions"] and not (isinstance(last, str) and DAY.fullmatch(last)):
        raise CheckFailed(f"{reply.status} but lastDate {last!r} is not YYYY-MM-DD")
    if isinstance(last, str):
        run.found["as_of"] = last
    expect_cors(run.target, reply)
    return (
        f"{reply.status} {counts['users']} users, {counts['transactions']} transactions,"
        f" {body['firstDate']}..{last}"
    )


def check_preflight(run: SpendSenseRun) -> str:
    return preflight(run, STATS, "GET", [])


def insight_check(path: str, shape: Shape) -> Check:
    def check(run: SpendSenseRun) -> str:
        reply = run.send("GET", path + run.query())
        body = expect_json(reply, 200)
        expect_keys(reply, body, shape.keys, "the answer")
        if body["userId"] != run.user_id:
            raise CheckFailed(f"{reply.status} for userId {body['userId']!r}, not {run.user_id!r}")
        if shape.list_key is not None:
            items = body[shape.list_key]
            if not isinstance(items, list):
                raise CheckFailed(f"{reply.status} but {shape.list_key} is not a list")
            for item in items:
                expect_keys(reply, item, shape.item_keys, f"an item of {shape.list_key}")
        expect_cors(run.target, reply)
        listed = f", {len(body[shape.list_key])} {shape.list_key}" if shape.list_key else ""
        as_of = run.found.get("as_of")
        return f"{reply.status} {run.user_id}{f' as of {as_of}' if as_of else ''}{listed}"

    return check


def check_invalid_query(run: SpendSenseRun) -> str:
    path = INSIGHTS["weekly recap"][0]
    reply = run.send("GET", path)
    return expect_error(run, reply, 400, "invalid_query") + " without user_id"


def check_unknown_user(run: SpendSenseRun) -> str:
    path = INSIGHTS["net worth"][0]
    reply = run.send("GET", path + "?" + urlencode({"user_id": f"smoke-{uuid.uuid4()}"}))
    return expect_error(run, reply, 404, "user_not_found")


def check_no_key_refused(run: SpendSenseRun) -> str:
    if run.target.api_key is None:
        raise CheckSkipped("no API key given (API_KEY=<key> runs it)")
    reply = run.send("GET", STATS, with_key=False)
    if reply.status not in REFUSED:
        raise CheckFailed(
            f"answered {reply.status} without a key, expected 401 or 403: "
            "is apiKeys set on the stack?"
        )
    return f"{reply.status} without X-API-Key"


def expect_keys(reply: HttpReply, body: Any, keys: frozenset[str] | set[str], what: str) -> None:
    if not isinstance(body, dict):
        raise CheckFailed(f"{reply.status} but {what} is not a JSON object: {snippet(reply)}")
    missing, extra = sorted(keys - set(body)), sorted(set(body) - keys)
    if missing or extra:
        problems = [
            *([f"missing {', '.join(missing)}"] if missing else []),
            *([f"unexpected {', '.join(extra)}"] if extra else []),
        ]
        raise CheckFailed(f"{reply.status} but {what} has {'; '.join(problems)}")


def expect_error(run: Run, reply: HttpReply, status: int, code: str) -> str:
    """The API's error: `status` with exactly `{"error": {"code": code, "message"}}`."""
    body = expect_json(reply, status)
    error = body.get("error")
    if set(body) != {"error"} or not isinstance(error, dict) or set(error) != {"code", "message"}:
        raise CheckFailed(
            f'{reply.status} but not {{"error": {{"code", "message"}}}}: {snippet(reply)}'
        )
    if error["code"] != code or not isinstance(error["message"], str):
        raise CheckFailed(f"{reply.status} with code {error['code']!r}, expected {code!r}")
    expect_cors(run.target, reply)
    return f"{reply.status} {code}"


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


CHECKS: tuple[tuple[str, Check], ...] = (
    ("health", check_health),
    ("stats", check_stats),
    ("cors preflight", check_preflight),
    *((name, insight_check(path, shape)) for name, (path, shape) in INSIGHTS.items()),
    ("invalid query", check_invalid_query),
    ("unknown user", check_unknown_user),
    ("no key refused", check_no_key_refused),
)
