"""`--stack`: the URL and origin come from `pulumi stack output --json`, here a stand-in
`pulumi` on PATH that prints a stack's outputs, in front of the real local API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from smoke.target import ANY_ORIGIN_PROBE
from tests.smoke.conftest import API_KEY, ORIGINS
from tests.smoke.support import path_with, pulumi_calls, run_smoke, write_pulumi


def outputs_for(url: str, **overrides: Any) -> dict[str, Any]:
    """The outputs docs/configuration.md names, for an API at `url`."""
    outputs = {
        "apiUrl": url,
        "healthUrl": f"{url}/health",
        "analyzeUrl": f"{url}/api/iris/analyze",
        "functionName": "iris-dev",
        "corsOrigins": list(ORIGINS),
        "executeApiUrl": url,
    }
    outputs.update(overrides)
    return {name: value for name, value in outputs.items() if value is not None}


def environ(bin_dir: Path) -> dict[str, str]:
    return {**os.environ, "PATH": path_with(bin_dir, os.environ["PATH"].split(os.pathsep))}


def test_a_stack_is_smoke_tested_at_its_api_url_from_its_first_origin(
    tmp_path: Path, keyed_api_url: str
) -> None:
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, stack="dev", outputs=outputs_for(keyed_api_url))

    result = run_smoke("--stack", "dev", key=API_KEY, environ=environ(bin_dir))

    assert result.code == 0, result.text
    assert pulumi_calls(bin_dir) == ["stack output --json --stack dev"]
    assert f"of {keyed_api_url} (stack dev) | origin {ORIGINS[0]} | API key given" in result.out
    assert set(result.results.values()) == {"PASS"}
    assert API_KEY not in result.text


def test_an_origin_given_wins_over_the_stacks(tmp_path: Path, api_url: str) -> None:
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, outputs=outputs_for(api_url))

    result = run_smoke("--stack", "dev", "--origin", ORIGINS[1], environ=environ(bin_dir))

    assert result.code == 0, result.text
    assert f"| origin {ORIGINS[1]} |" in result.out


def test_a_stack_that_allows_every_origin_is_probed_from_a_reserved_name(
    tmp_path: Path, serve_api: Any
) -> None:
    url = serve_api(origins=("*",))
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, outputs=outputs_for(url, corsOrigins=["*"]))

    result = run_smoke("--stack", "dev", environ=environ(bin_dir))

    assert result.code == 0, result.text
    assert f"| origin {ANY_ORIGIN_PROBE} |" in result.out
    assert result.results["cors preflight"] == "PASS"


def test_a_stacks_url_that_fails_fails_the_checks_not_the_usage(
    tmp_path: Path, refused_url: str
) -> None:
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, outputs=outputs_for(refused_url))

    result = run_smoke("--stack", "dev", environ=environ(bin_dir))

    assert result.code == 1
    assert result.detail("health") == "connection refused"


@pytest.mark.parametrize(
    ("pulumi", "message"),
    [
        (
            {"stack": "prod"},
            "`pulumi stack output --json --stack dev` failed (exit 255): "
            "error: no stack named 'dev' found",
        ),
        ({"outputs": {}}, "stack 'dev' has no output apiUrl"),
        (
            {"outputs": {"apiUrl": "http://127.0.0.1:1", "functionName": "iris-dev"}},
            "stack 'dev' has no output corsOrigins",
        ),
        ({"outputs": {"apiUrl": "http://127.0.0.1:1", "corsOrigins": []}}, "ORIGIN=<origin>"),
        (
            {"outputs": {"apiUrl": "not a url", "corsOrigins": list(ORIGINS)}},
            "apiUrl of stack dev='not a url' is not a base URL",
        ),
        (
            {"outputs": {"apiUrl": "http://127.0.0.1:1", "corsOrigins": ["localhost"]}},
            "corsOrigins[0] of stack dev='localhost' is not an origin",
        ),
        ({"stdout": "Current stack outputs (0):"}, "did not print a JSON object"),
        ({"outputs": {}, "exit_code": 3}, "failed (exit 3)"),
    ],
    ids=[
        "no-such-stack",
        "no-api-url",
        "no-cors-origins",
        "empty-cors-origins",
        "bad-api-url",
        "bad-origin",
        "not-json",
        "pulumi-fails",
    ],
)
def test_a_stack_that_cannot_be_read_is_a_usage_error(
    tmp_path: Path, pulumi: dict[str, Any], message: str
) -> None:
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, **pulumi)

    result = run_smoke("--stack", "dev", environ=environ(bin_dir))

    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("smoke: error: ") and message in result.err, result.err


def test_an_origin_given_stands_in_for_missing_cors_origins(tmp_path: Path, api_url: str) -> None:
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, outputs=outputs_for(api_url, corsOrigins=None))

    result = run_smoke("--stack", "dev", "--origin", ORIGINS[0], environ=environ(bin_dir))

    assert result.code == 0, result.text


def test_without_the_pulumi_cli_the_error_says_what_to_do(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = run_smoke("--stack", "dev", environ={**os.environ, "PATH": str(empty)})

    assert result.code == 2
    assert "`pulumi` is not on PATH" in result.err
    assert "URL=<base url>" in result.err


@pytest.mark.parametrize("stack", ["--json", "dev;ls", "dev stack", "a/b/c/d", ""])
def test_a_bad_stack_name_never_reaches_pulumi(tmp_path: Path, stack: str) -> None:
    bin_dir = tmp_path / "bin"
    write_pulumi(bin_dir, outputs={})

    result = run_smoke(f"--stack={stack}", environ=environ(bin_dir))

    assert result.code == 2
    assert f"STACK={stack!r} is not a stack name" in result.err
    assert pulumi_calls(bin_dir) == []
