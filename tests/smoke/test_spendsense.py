"""`python -m smoke --app spendsense` against SpendSense's real local API, in both shapes: a
healthy API passes, and a route answering the wrong JSON fails the check that names it."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smoke.spendsense import DEFAULT_USER_ID, INSIGHTS
from tests.smoke.conftest import API_KEY, OTHER_KEY, Breakage
from tests.smoke.support import (
    ALLOWED_ORIGIN,
    SPENDSENSE_CHECK_NAMES,
    path_with,
    pulumi_calls,
    pulumi_directories,
    run_smoke,
    write_pulumi,
)

SHAPES = ("split", "single")
INSIGHT_CHECKS = set(INSIGHTS)

Start = Callable[..., str]


def spendsense_smoke(url: str, *argv: str, key: str | None = None) -> Any:
    return run_smoke(
        "--app", "spendsense", "--url", url, "--origin", ALLOWED_ORIGIN, *argv, key=key
    )


@pytest.mark.parametrize("deployment", SHAPES)
def test_a_healthy_open_api_passes_and_skips_the_key_check(
    serve_spendsense: Start, deployment: str
) -> None:
    url = serve_spendsense(deployment)

    result = spendsense_smoke(url)

    assert result.code == 0, result.text
    assert list(result.results) == list(SPENDSENSE_CHECK_NAMES)
    assert {name for name, outcome in result.results.items() if outcome != "PASS"} == {
        "no key refused"
    }
    assert result.out.startswith(
        f"SpendSense smoke test of {url} (URL) | user {DEFAULT_USER_ID} | origin {ALLOWED_ORIGIN}"
    )
    assert result.detail("stats") == "200 4 users, 986 transactions, 2025-01-01..2025-06-30"
    # The insights are asked for the database's last day, from the stats.
    assert result.detail("weekly recap") == f"200 {DEFAULT_USER_ID} as of 2025-06-30"
    assert result.detail("invalid query") == "400 invalid_query without user_id"
    assert result.detail("unknown user") == "404 user_not_found"
    assert result.detail("cors preflight") == f"204 allows {ALLOWED_ORIGIN}: GET"


@pytest.mark.parametrize("deployment", SHAPES)
def test_a_healthy_api_with_keys_passes_every_check_and_never_shows_the_key(
    serve_spendsense: Start, deployment: str
) -> None:
    result = spendsense_smoke(serve_spendsense(deployment, keyed=True), key=API_KEY)

    assert result.code == 0, result.text
    assert set(result.results.values()) == {"PASS"}
    assert result.detail("no key refused") == "401 without X-API-Key"
    assert result.detail("cors preflight").endswith(": GET with x-api-key")
    assert API_KEY not in result.text and OTHER_KEY not in result.text


def test_no_key_against_a_keyed_api_fails_every_data_check(serve_spendsense: Start) -> None:
    result = spendsense_smoke(serve_spendsense("split", keyed=True))

    assert result.code == 1
    assert result.failed == {"stats", *INSIGHT_CHECKS, "invalid query", "unknown user"}
    assert "give API_KEY" in result.detail("net worth")


def answer_json(
    path: str,
    change: Callable[[dict[str, Any]], Any],
    *,
    on_status: int = 200,
    status: int | None = None,
) -> Breakage:
    """The function's answers on `path` with status `on_status` get their JSON changed by
    `change` (and their status by `status`); everything else is answered as usual."""

    def breakage(handler: Callable[..., Any]) -> Callable[..., Any]:
        def broken(event: dict[str, Any], context: Any) -> Any:
            result = handler(event, context)
            if event["rawPath"] == path and result["statusCode"] == on_status:
                body = change(json.loads(result["body"]))
                result = {**result, "statusCode": status or on_status, "body": json.dumps(body)}
            return result

        return broken

    return breakage


def without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {name: value for name, value in body.items() if name != key}


def first_item_without(list_key: str, key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {
        **body,
        list_key: [without(key)(body[list_key][0]), *body[list_key][1:]],
    }


BROKEN_ROUTES = [
    (
        answer_json("/api/insights/weekly-recap", without("byCategory")),
        "weekly recap",
        "the answer has missing byCategory",
    ),
    (
        answer_json("/api/insights/net-worth", lambda body: {**body, "netWorth": 1}),
        "net worth",
        "the answer has unexpected netWorth",
    ),
    (
        answer_json("/api/insights/spending-analysis", first_item_without("categories", "share")),
        "spending analysis",
        "an item of categories has missing share",
    ),
    (
        answer_json("/api/insights/budget-tracking", lambda body: {**body, "userId": "u-002"}),
        "budget tracking",
        "for userId 'u-002'",
    ),
    (
        answer_json("/api/insights/budget-suggestion", lambda body: [body]),
        "budget suggestion",
        "not a JSON object",
    ),
    (
        answer_json("/api/stats", lambda body: {**body, "users": "4"}),
        "stats",
        "users not a count",
    ),
]


@pytest.mark.parametrize("deployment", SHAPES)
@pytest.mark.parametrize(
    ("breakage", "failing", "reason"),
    BROKEN_ROUTES,
    ids=[failing for _, failing, _ in BROKEN_ROUTES],
)
def test_a_route_answering_the_wrong_json_fails_its_check_only(
    serve_spendsense: Start, deployment: str, breakage: Breakage, failing: str, reason: str
) -> None:
    result = spendsense_smoke(serve_spendsense(deployment, breakage))

    assert result.code == 1
    assert result.failed == {failing}, result.out
    assert reason in result.detail(failing)
    assert result.out.splitlines()[-1].startswith(f"smoke test FAILED ({failing})")


ERROR_SHAPES = [
    (
        answer_json(
            "/api/insights/net-worth", lambda body: {"message": "Not Found"}, on_status=404
        ),
        "unknown user",
        'not {"error": {"code", "message"}}',
    ),
    (
        answer_json(
            "/api/insights/weekly-recap",
            lambda body: {"error": {"code": "bad_request", "message": "No."}},
            on_status=400,
        ),
        "invalid query",
        "code 'bad_request', expected 'invalid_query'",
    ),
    (
        answer_json("/api/insights/weekly-recap", lambda body: body, on_status=400, status=422),
        "invalid query",
        "answered 422, expected 400",
    ),
]


@pytest.mark.parametrize(
    ("breakage", "failing", "reason"),
    ERROR_SHAPES,
    ids=["gateway-shaped-404", "wrong-code", "fastapi-422"],
)
def test_an_error_outside_the_contracts_shape_fails_its_check_only(
    serve_spendsense: Start, breakage: Breakage, failing: str, reason: str
) -> None:
    result = spendsense_smoke(serve_spendsense("split", breakage))

    assert result.code == 1
    assert result.failed == {failing}, result.out
    assert reason in result.detail(failing)


def test_a_disallowed_origin_fails_the_preflight_and_every_answer(serve_spendsense: Start) -> None:
    result = run_smoke(
        "--app",
        "spendsense",
        "--url",
        serve_spendsense("single"),
        "--origin",
        "https://evil.example",
    )

    assert result.code == 1
    assert result.failed == {
        "cors preflight",
        "stats",
        *INSIGHT_CHECKS,
        "invalid query",
        "unknown user",
    }
    assert "a browser there could not read it" in result.detail("net worth")


def test_another_user_is_asked_about_when_given(serve_spendsense: Start) -> None:
    result = spendsense_smoke(serve_spendsense("split"), "--user-id", "u-004")

    assert result.code == 0, result.text
    assert "| user u-004 |" in result.out
    # u-004 has no budgets in the sample database.
    assert result.detail("budget tracking").endswith(", 0 budgets")


def test_the_default_user_is_one_the_sample_database_has(spendsense_database: Path) -> None:
    connection = sqlite3.connect(f"file:{spendsense_database}?mode=ro", uri=True)
    try:
        (budgets,) = connection.execute(
            "SELECT COUNT(*) FROM budgets WHERE user_id = ?", (DEFAULT_USER_ID,)
        ).fetchone()
        (transactions,) = connection.execute(
            "SELECT COUNT(*) FROM transactions WHERE user_id = ?", (DEFAULT_USER_ID,)
        ).fetchone()
    finally:
        connection.close()

    assert budgets > 0 and transactions > 0


def test_a_user_id_for_iris_is_refused() -> None:
    result = run_smoke("--url", "http://127.0.0.1:1", "--user-id", "u-001")

    assert result.code == 2
    assert result.out == ""
    assert "--user-id (USER_ID for make) applies to --app spendsense only" in result.err


def test_a_user_id_no_query_can_carry_plainly_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_smoke("--app", "spendsense", "--url", "http://127.0.0.1:1", "--user-id", "u 1")

    assert result.code == 2
    assert "'u 1' is not a user id" in capsys.readouterr().err


def test_a_spendsense_stack_is_read_in_its_own_project(
    tmp_path: Path, serve_spendsense: Start
) -> None:
    """`pulumi stack output` runs in spendsense/ (project spendsense-infra), and the stack has
    no corsOrigins output: without ORIGIN, the CORS check is skipped."""
    url = serve_spendsense("split")
    bin_dir = tmp_path / "bin"
    outputs = {"apiUrl": url, "healthUrl": f"{url}/health", "functionNames": {"api": "x"}}
    write_pulumi(bin_dir, stack="dev", outputs=outputs)
    environ = {**os.environ, "PATH": path_with(bin_dir, os.environ["PATH"].split(os.pathsep))}

    result = run_smoke("--app", "spendsense", "--stack", "dev", environ=environ)

    assert result.code == 0, result.text
    assert pulumi_calls(bin_dir) == ["stack output --json --stack dev"]
    assert [Path(directory).name for directory in pulumi_directories(bin_dir)] == ["spendsense"]
    assert f"of {url} (stack dev) | user {DEFAULT_USER_ID} | origin none" in result.out
    assert result.results["cors preflight"] == "SKIP"
