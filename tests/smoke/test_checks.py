"""The smoke test against the real local API on loopback: healthy, broken, silent, with and
without API keys. Each broken API must fail the check that names what broke, and only that."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from smoke.client import Client, HttpRequest, Secret
from smoke.target import UsageError, base_url
from tests.smoke.conftest import API_KEY, OTHER_KEY, Breakage
from tests.smoke.support import ALLOWED_ORIGIN, CHECK_NAMES, LINE, run_smoke

ANALYZE_CHECKS = {"analyze", "analyze again"}
KEY_CHECKS = {"no key refused", "key accepted"}


def test_a_healthy_open_api_passes_and_skips_the_key_checks(api_url: str) -> None:
    result = run_smoke("--url", api_url, "--origin", ALLOWED_ORIGIN)

    assert result.code == 0, result.text
    assert list(result.results) == list(CHECK_NAMES)
    assert {name for name, outcome in result.results.items() if outcome == "SKIP"} == KEY_CHECKS
    assert result.failed == set()
    assert result.detail("analyze").startswith("200 cached=false")
    assert result.detail("analyze again").startswith("200 cached=true")
    assert result.detail("cors preflight") == (
        f"204 allows {ALLOWED_ORIGIN}: POST with content-type"
    )
    assert result.out.splitlines()[-1].startswith("smoke test OK: 5 passed, 0 failed, 2 skipped")


def test_a_healthy_api_with_keys_passes_every_check(keyed_api_url: str) -> None:
    result = run_smoke("--url", keyed_api_url, "--origin", ALLOWED_ORIGIN, key=API_KEY)

    assert result.code == 0, result.text
    assert set(result.results.values()) == {"PASS"}
    assert result.detail("no key refused") == "401 without X-API-Key"
    assert "x-api-key" in result.detail("cors preflight")
    assert "API key given" in result.out
    assert API_KEY not in result.text


def test_each_check_line_has_its_name_result_and_time(api_url: str) -> None:
    lines = run_smoke("--url", api_url, "--origin", ALLOWED_ORIGIN).out.splitlines()

    header, *checks, summary = lines
    assert header.startswith(f"IRIS smoke test of {api_url} (URL) | origin {ALLOWED_ORIGIN}")
    assert [LINE.match(line)[2] for line in checks] == list(CHECK_NAMES)
    assert re.fullmatch(r"smoke test OK: \d+ passed, 0 failed, \d+ skipped in \d+ ms", summary)


def test_each_run_analyzes_a_text_of_its_own(api_url: str) -> None:
    """A fixed text would be cached from the previous run, and `analyze` would then fail."""
    first = run_smoke("--url", api_url)
    second = run_smoke("--url", api_url)

    assert first.code == second.code == 0, first.text + second.text


def test_without_an_origin_the_preflight_is_skipped_with_a_reason(api_url: str) -> None:
    result = run_smoke("--url", api_url)

    assert result.code == 0
    assert result.results["cors preflight"] == "SKIP"
    assert "ORIGIN=" in result.detail("cors preflight")


def reply(status: int, body: Any, content_type: str = "application/json") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"statusCode": status, "headers": {"content-type": content_type}, "body": text}


def on_path(path: str, answer: dict[str, Any]) -> Breakage:
    """The function answers `answer` on `path`, and as usual elsewhere."""

    def breakage(handler: Callable[..., Any]) -> Callable[..., Any]:
        def broken(event: dict[str, Any], context: Any) -> Any:
            return answer if event["rawPath"] == path else handler(event, context)

        return broken

    return breakage


def rewrite_analysis(**fields: Any) -> Breakage:
    """Analyze answers as usual, with `fields` replaced in its JSON."""

    def breakage(handler: Callable[..., Any]) -> Callable[..., Any]:
        def broken(event: dict[str, Any], context: Any) -> Any:
            result = handler(event, context)
            if event["rawPath"] == "/api/iris/analyze" and result["statusCode"] == 200:
                body = {**json.loads(result["body"]), **fields}
                result = {**result, "body": json.dumps(body)}
            return result

        return broken

    return breakage


LLM_DOWN = {"error": {"code": "llm_upstream_error", "message": "The analysis service failed."}}


@pytest.mark.parametrize(
    ("breakage", "failing", "reason"),
    [
        (on_path("/health", reply(500, {"message": "Internal Server Error"})), {"health"}, "500"),
        (
            on_path("/health", reply(200, "<html>portal</html>", "text/html")),
            {"health"},
            "not a JSON object",
        ),
        (on_path("/api/iris/health", reply(200, {"ok": True})), {"iris health"}, "status"),
        (on_path("/api/iris/analyze", reply(502, LLM_DOWN)), ANALYZE_CHECKS, "LLM upstream"),
        (rewrite_analysis(cached=False), {"analyze again"}, "cached=false, expected true"),
        (rewrite_analysis(cached=True), {"analyze"}, "cached=true, expected false"),
        (rewrite_analysis(analysis=""), ANALYZE_CHECKS, "without an analysis"),
    ],
    ids=[
        "health-500",
        "health-html",
        "iris-health-without-status",
        "analyze-502",
        "never-cached",
        "always-cached",
        "empty-analysis",
    ],
)
def test_a_broken_api_fails_the_check_that_names_the_breakage(
    serve_api: Callable[..., str], breakage: Breakage, failing: set[str], reason: str
) -> None:
    result = run_smoke("--url", serve_api(breakage), "--origin", ALLOWED_ORIGIN)

    assert result.code == 1
    assert result.failed == failing, result.out
    for name in failing:
        assert reason in result.detail(name)
    assert result.out.splitlines()[-1].startswith(
        f"smoke test FAILED ({', '.join(sorted(failing, key=CHECK_NAMES.index))})"
    )


BUDGET_SPENT = {
    "statusCode": 429,
    "headers": {"content-type": "application/json", "retry-after": "3600"},
    "body": json.dumps(
        {"error": {"code": "llm_budget_exhausted", "message": "The day's budget is spent."}}
    ),
}


def test_a_spent_token_budget_skips_the_model_checks_and_says_why(
    serve_api: Callable[..., str],
) -> None:
    result = run_smoke("--url", serve_api(on_path("/api/iris/analyze", BUDGET_SPENT)))

    assert result.code == 0, result.text
    assert {name for name, outcome in result.results.items() if outcome == "SKIP"} >= (
        ANALYZE_CHECKS
    )
    assert "llm_budget_exhausted" in result.detail("analyze")
    assert "Retry-After 3600 s" in result.detail("analyze")


def test_another_429_still_fails_the_model_checks(serve_api: Callable[..., str]) -> None:
    throttled = {**BUDGET_SPENT, "body": json.dumps({"message": "Too Many Requests"})}
    result = run_smoke("--url", serve_api(on_path("/api/iris/analyze", throttled)))

    assert result.code == 1
    assert result.failed == ANALYZE_CHECKS


def test_a_disallowed_origin_fails_the_preflight_and_the_answers_it_could_not_read(
    api_url: str,
) -> None:
    result = run_smoke("--url", api_url, "--origin", "https://evil.example")

    assert result.code == 1
    assert result.failed == {"cors preflight", *ANALYZE_CHECKS}
    assert "without Access-Control-Allow-Origin for https://evil.example" in result.detail(
        "cors preflight"
    )


def test_an_api_that_allows_every_origin_passes_the_preflight(
    serve_api: Callable[..., str],
) -> None:
    result = run_smoke("--url", serve_api(origins=("*",)), "--origin", "https://any.example")

    assert result.code == 0, result.text
    assert result.detail("cors preflight").startswith("204 allows *")


def test_a_wrong_key_fails_every_keyed_check_and_is_never_shown(keyed_api_url: str) -> None:
    wrong = "wrong-key-d41d8cd98f00b204"

    result = run_smoke("--url", keyed_api_url, "--origin", ALLOWED_ORIGIN, key=wrong)

    assert result.code == 1
    assert result.failed == {"iris health", *ANALYZE_CHECKS, "key accepted"}
    assert "403" in result.detail("key accepted") and "refused" in result.detail("key accepted")
    assert result.results["no key refused"] == "PASS"
    for secret in (wrong, API_KEY, OTHER_KEY):
        assert secret not in result.text


def test_no_key_against_a_keyed_api_fails_with_a_hint(keyed_api_url: str) -> None:
    result = run_smoke("--url", keyed_api_url, "--origin", ALLOWED_ORIGIN)

    assert result.code == 1
    assert result.failed == {"iris health", *ANALYZE_CHECKS}
    assert "give API_KEY" in result.detail("iris health")


def test_a_key_against_an_open_api_fails_no_key_refused(api_url: str) -> None:
    """A stack that lost its apiKeys is open to anyone: the key checks catch it."""
    result = run_smoke("--url", api_url, key=API_KEY)

    assert result.code == 1
    assert result.failed == {"no key refused"}
    assert "answered 200 without a key" in result.detail("no key refused")


def test_a_silent_server_fails_every_check_within_the_timeout(silent_url: str) -> None:
    started = time.monotonic()
    result = run_smoke("--url", silent_url, "--timeout", "0.2", key=API_KEY)
    elapsed = time.monotonic() - started

    assert result.code == 1
    assert result.failed == set(CHECK_NAMES) - {"cors preflight"}
    assert {result.detail(name) for name in result.failed} == {"no answer within 0.2 s"}
    print(f"silent server: {len(result.failed)} checks failed in {elapsed:.2f} s")


def test_a_refused_connection_fails_every_check(refused_url: str) -> None:
    result = run_smoke("--url", refused_url, "--origin", ALLOWED_ORIGIN)

    assert result.code == 1
    assert result.failed == set(CHECK_NAMES) - KEY_CHECKS
    assert result.detail("health") == "connection refused"


def test_a_key_echoed_back_by_a_broken_server_is_masked(serve: Callable[[object], str]) -> None:
    def echo_key(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"bad key {environ.get('HTTP_X_API_KEY')}".encode()]

    result = run_smoke("--url", serve(echo_key), key=API_KEY)

    assert result.code == 1
    assert "bad key ***" in result.detail("iris health")
    assert API_KEY not in result.text


def test_a_redirect_is_reported_not_followed(serve: Callable[[object], str], api_url: str) -> None:
    def redirect(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("302 Found", [("Location", api_url + environ["PATH_INFO"])])
        return [b""]

    result = run_smoke("--url", serve(redirect))

    assert result.code == 1
    assert result.detail("health").startswith("answered 302, expected 200")


def test_the_key_is_in_no_repr() -> None:
    request = HttpRequest("GET", "/api/iris/health", api_key=Secret(API_KEY))

    assert API_KEY not in repr(request)
    assert API_KEY not in str(request.api_key)
    assert API_KEY not in repr(Client("http://127.0.0.1:1", 1).__dict__)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "ftp://example.com"], "URL='ftp://example.com' is not a base URL"),
        (["--url", "http://127.0.0.1:8000/?x=1"], "is not a base URL"),
        (["--url", "https://user:pw@example.com"], "is not a base URL"),
        (["--url", "http://127.0.0.1:8000", "--origin", "http://localhost:5173/"], "ORIGIN="),
    ],
)
def test_bad_usage_exits_2_with_a_message_naming_the_value(argv: list[str], message: str) -> None:
    result = run_smoke(*argv)

    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("smoke: error: ") and message in result.err


@pytest.mark.parametrize(
    "argv",
    [[], ["--url", "http://a", "--stack", "dev"], ["--url", "http://a", "--timeout", "0"]],
    ids=["neither", "both", "zero-timeout"],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    assert run_smoke(*argv).code == 2


@pytest.mark.parametrize("key", ["line\nbreak-key-1234", "spaced key 1234", "clé-1234"])
def test_a_key_no_header_can_carry_is_refused_without_showing_it(key: str) -> None:
    result = run_smoke("--url", "http://127.0.0.1:1", key=key)

    assert result.code == 2
    assert "SMOKE_API_KEY" in result.err and "not shown" in result.err
    assert key not in result.text and "1234" not in result.text


def test_a_base_url_loses_its_trailing_slash_and_keeps_its_path() -> None:
    assert base_url("https://api.example.com/prefix/", source="URL") == (
        "https://api.example.com/prefix"
    )
    with pytest.raises(UsageError, match="URL=''"):
        base_url("", source="URL")
