"""The X-API-Key authorizer: real-shaped payload 2.0 authorizer events through `handler`."""

from __future__ import annotations

import hmac
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import authorizer
from iris import aws
from iris.parameters import forget_secure_parameters
from tests.events import ACCOUNT_ID, API_ID, LambdaContext, http_api_v2_event

KEY_1 = "iris-key-1-9c1f0d6b2a7e4c35b8e1f2a3d4c5b6a7"
KEY_2 = "iris-key-2-4e8a2c6f1b3d5e7a9c0b2d4f6e8a1c3e"
PARAMETER = "/iris/dev/api-keys"
TASK_ROOT = Path(__file__).resolve().parents[2] / "backend" / "src"


def authorizer_event(
    key: str | None = None,
    *,
    header: str = "x-api-key",
    path: str = "/api/iris/analyze",
    method: str = "POST",
) -> dict[str, Any]:
    """What API Gateway sends a REQUEST authorizer (payload 2.0) for one request."""
    headers = {header: key} if key is not None else {}
    event = http_api_v2_event(
        method, path, headers=headers, route_key=f"{method} {path}", cookies=["theme=dark"]
    )
    event.pop("isBase64Encoded")
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:eu-west-1:{ACCOUNT_ID}:{API_ID}/$default/{method}{path}",
        "identitySource": [key] if key else [],
        **{name: value for name, value in event.items() if name != "version"},
    }


def log_entries(out: str) -> list[dict[str, Any]]:
    """The iris logger's JSON lines (it writes to stdout, not through logging's root)."""
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def decisions(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["message"] == "authorization decision"]


def forget_keys() -> None:
    """What a new container knows: neither the keys nor the SSM client that reads them."""
    forget_secure_parameters()
    aws.forget_clients()


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    """Each test starts as a new container would: no keys read yet."""
    forget_keys()
    yield
    forget_keys()


@pytest.fixture
def two_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRIS_API_KEYS", f"{KEY_1},{KEY_2}")


@pytest.mark.usefixtures("two_keys")
@pytest.mark.parametrize(("key", "slot"), [(KEY_1, "key-1"), (KEY_2, "key-2")])
def test_both_rotation_keys_are_accepted(key: str, slot: str) -> None:
    answer = authorizer.handler(authorizer_event(key), LambdaContext())

    assert answer == {"isAuthorized": True, "context": {"keySlot": slot}}


@pytest.mark.usefixtures("two_keys")
@pytest.mark.parametrize(
    "presented",
    [
        pytest.param(KEY_1[:-1], id="prefix"),
        pytest.param(KEY_1 + "0", id="extra-suffix"),
        pytest.param(" " + KEY_1, id="leading-space"),
        pytest.param(KEY_1 + " ", id="trailing-space"),
        pytest.param(f"{KEY_1},{KEY_2}", id="both-keys-comma-joined"),
        pytest.param(KEY_1.upper(), id="different-case"),
        pytest.param("", id="empty"),
        pytest.param("k" * 10_240, id="10-kb"),
        pytest.param(KEY_1 + "é", id="non-ascii-suffix"),
    ],
)
def test_near_misses_are_denied(presented: str) -> None:
    answer = authorizer.handler(authorizer_event(presented), LambdaContext())

    assert answer == {"isAuthorized": False}


@pytest.mark.usefixtures("two_keys")
def test_a_request_without_the_header_is_denied(capsys: pytest.CaptureFixture[str]) -> None:
    answer = authorizer.handler(authorizer_event(None), LambdaContext())

    assert answer == {"isAuthorized": False}
    assert decisions(log_entries(capsys.readouterr().out))[-1]["reason"] == "missing"


@pytest.mark.usefixtures("two_keys")
@pytest.mark.parametrize(
    "event",
    [
        pytest.param(authorizer_event(KEY_2, header="X-API-Key"), id="mixed-case-header"),
        pytest.param(authorizer_event(KEY_2, header="X-Api-Key"), id="other-spelling"),
        pytest.param(
            {**authorizer_event(KEY_2), "headers": {"host": "a1b2c3d4e5.example"}},
            id="identity-source-only",
        ),
    ],
)
def test_the_key_is_found_whatever_the_header_case(event: dict[str, Any]) -> None:
    assert authorizer.handler(event, LambdaContext())["isAuthorized"] is True


@pytest.mark.parametrize("configured", [None, "", " , ,, "])
def test_with_no_keys_configured_everything_is_denied(
    configured: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if configured is not None:
        monkeypatch.setenv("IRIS_API_KEYS", configured)

    for presented in (KEY_1, "", " , "):
        assert authorizer.handler(authorizer_event(presented), LambdaContext()) == {
            "isAuthorized": False
        }

    logged = log_entries(capsys.readouterr().out)
    errors = [entry for entry in logged if entry["level"] == "ERROR"]
    assert errors and "no api keys are configured" in errors[0]["message"]
    assert {entry["reason"] for entry in decisions(logged)} == {"no_keys_configured"}


def test_keys_are_stripped_and_empty_entries_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IRIS_API_KEYS", f" {KEY_1} ,, \n{KEY_2}\t, ")

    assert authorizer.accepted_keys() == (KEY_1, KEY_2)
    assert authorizer.handler(authorizer_event(KEY_2), LambdaContext())["isAuthorized"] is True


@pytest.mark.usefixtures("two_keys")
def test_every_key_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the time taken must not tell which slot matched."""
    compared: list[bytes] = []
    compare_digest = hmac.compare_digest

    def counting_compare(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return compare_digest(a, b)

    monkeypatch.setattr(authorizer.hmac, "compare_digest", counting_compare)

    assert authorizer.handler(authorizer_event(KEY_1), LambdaContext())["isAuthorized"] is True
    assert compared == [KEY_1.encode(), KEY_2.encode()]


@pytest.mark.usefixtures("two_keys")
def test_an_oversized_key_is_refused_before_any_comparison(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(authorizer.hmac, "compare_digest", pytest.fail)

    answer = authorizer.handler(authorizer_event("k" * (authorizer.MAX_KEY_BYTES + 1)), None)

    assert answer == {"isAuthorized": False}
    assert decisions(log_entries(capsys.readouterr().out))[-1]["reason"] == "too_long"


@pytest.mark.usefixtures("two_keys")
@pytest.mark.parametrize(
    ("presented", "reason"),
    [
        (KEY_1, "match"),
        (KEY_2[:-1], "no_match"),
        (KEY_2 + "x" * 300, "too_long"),
        (f"{KEY_1},{KEY_2}", "no_match"),
    ],
)
def test_decisions_are_logged_without_the_key(
    presented: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event, context = authorizer_event(presented), LambdaContext()

    authorizer.handler(event, context)

    out = capsys.readouterr().out
    (entry,) = decisions(log_entries(out))
    assert entry["reason"] == reason
    assert entry["authorized"] is (reason == "match")
    assert entry["requestId"] == context.aws_request_id
    assert entry["apiRequestId"] == event["requestContext"]["requestId"]
    assert entry["routeKey"] == "POST /api/iris/analyze"
    for secret in (KEY_1, KEY_2, KEY_1[:12], KEY_2[-12:], presented):
        assert secret not in out


@pytest.fixture
def ssm_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The deployed set-up: the keys in an SSM SecureString, its name in the environment."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-west-1")
        ssm.put_parameter(Name=PARAMETER, Value=f"{KEY_1}, {KEY_2}", Type="SecureString")
        monkeypatch.setenv("IRIS_API_KEYS_PARAM", PARAMETER)
        yield ssm


def test_keys_are_read_from_the_ssm_secure_string(ssm_keys: Any) -> None:
    for key, slot in ((KEY_1, "key-1"), (KEY_2, "key-2")):
        assert authorizer.handler(authorizer_event(key), LambdaContext())["context"] == {
            "keySlot": slot
        }
    assert authorizer.handler(authorizer_event("not-a-key"), LambdaContext()) == {
        "isAuthorized": False
    }


@pytest.fixture
def ssm_reads(ssm_keys: Any) -> list[str]:
    """The names of the GetParameter calls the container's SSM client makes."""
    reads: list[str] = []
    aws.client("ssm").meta.events.register(
        "before-parameter-build.ssm.GetParameter", lambda params, **_: reads.append(params["Name"])
    )
    return reads


def test_the_keys_are_read_at_init(ssm_reads: list[str]) -> None:
    """Lambda runs the import (INIT) with a CPU burst, before the first request arrives."""
    importlib.reload(authorizer)
    assert ssm_reads == [PARAMETER]

    answers = [authorizer.handler(authorizer_event(key), LambdaContext()) for key in [KEY_1] * 5]

    assert all(answer["isAuthorized"] for answer in answers)
    assert ssm_reads == [PARAMETER]


def test_an_init_that_cannot_read_the_keys_goes_on_and_the_request_reads_again(
    ssm_keys: Any, ssm_reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ssm_keys.delete_parameter(Name=PARAMETER)

    importlib.reload(authorizer)
    ssm_keys.put_parameter(Name=PARAMETER, Value=KEY_1, Type="SecureString")
    answer = authorizer.handler(authorizer_event(KEY_1), LambdaContext())

    assert answer["isAuthorized"] is True
    assert ssm_reads == [PARAMETER, PARAMETER]
    (warning,) = [e for e in log_entries(capsys.readouterr().out) if e["level"] == "WARNING"]
    assert warning["message"].startswith("init: api keys could not be read")
    assert warning["error_type"] == "SecureParameterError"


def test_keys_are_trusted_for_the_secret_max_age_then_read_again(
    ssm_keys: Any,
    ssm_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A key revoked outside a deployment (aws ssm put-parameter) stops working within
    IRIS_SECRET_MAX_AGE_S, and a new one starts, without a new container."""
    monkeypatch.setattr(authorizer, "SECRET_MAX_AGE_S", 0.3)
    answers = [
        authorizer.handler(authorizer_event(key), LambdaContext()) for key in [KEY_1, KEY_2] * 25
    ]
    assert ssm_reads == [PARAMETER]
    assert all(answer["isAuthorized"] for answer in answers)

    ssm_keys.put_parameter(Name=PARAMETER, Value=KEY_2, Type="SecureString", Overwrite=True)
    assert authorizer.handler(authorizer_event(KEY_1), LambdaContext())["isAuthorized"] is True
    time.sleep(0.35)

    assert authorizer.handler(authorizer_event(KEY_1), LambdaContext()) == {"isAuthorized": False}
    assert authorizer.handler(authorizer_event(KEY_2), LambdaContext())["isAuthorized"] is True
    assert ssm_reads == [PARAMETER, PARAMETER]
    out = capsys.readouterr().out
    assert KEY_1 not in out and KEY_2 not in out


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ("", "max age 300"),
        (" 60 ", "max age 60"),
        ("5", "SettingsError: IRIS_SECRET_MAX_AGE_S=5 is out of range; allowed 10-3600"),
        ("soon", "SettingsError: IRIS_SECRET_MAX_AGE_S='soon' is not a whole number"),
    ],
    ids=["default", "set", "too-short", "not-a-number"],
)
def test_iris_secret_max_age_s_is_read_like_the_apps(value: str, outcome: str) -> None:
    probe = "import authorizer\nprint('max age', authorizer.SECRET_MAX_AGE_S)\n"
    env = {**os.environ, "PYTHONPATH": str(TASK_ROOT), "IRIS_SECRET_MAX_AGE_S": value}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )

    assert outcome in result.stdout + result.stderr
    assert (result.returncode == 0) is outcome.startswith("max age")


def test_an_unreadable_parameter_denies_and_is_retried(
    ssm_keys: Any, ssm_reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ssm_keys.delete_parameter(Name=PARAMETER)

    for _ in range(2):
        assert authorizer.handler(authorizer_event(KEY_1), LambdaContext()) == {
            "isAuthorized": False
        }
    ssm_keys.put_parameter(Name=PARAMETER, Value=KEY_1, Type="SecureString")
    recovered = authorizer.handler(authorizer_event(KEY_1), LambdaContext())

    assert recovered["isAuthorized"] is True
    # Each request tries twice: a missing parameter is not worth a second attempt, so once.
    assert ssm_reads == [PARAMETER] * 3
    logged = log_entries(capsys.readouterr().out)
    assert [entry["error_type"] for entry in logged if entry["level"] == "ERROR"] == [
        "SecureParameterError",
        "SecureParameterError",
    ]
    assert [entry["reason"] for entry in decisions(logged)] == [
        "keys_unavailable",
        "keys_unavailable",
        "match",
    ]


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        (" warning ", "level WARNING"),
        ("", "level INFO"),
        ("LOUD", "SettingsError: IRIS_LOG_LEVEL='LOUD' is not allowed; use DEBUG, INFO,"),
    ],
    ids=["any-case", "blank", "bad"],
)
def test_iris_log_level_is_read_like_the_apps(value: str, outcome: str) -> None:
    """A bad value fails the cold start with a message that names the variable."""
    probe = (
        "import logging, authorizer\n"
        "print('level', logging.getLevelName(logging.getLogger('iris').level))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TASK_ROOT), "IRIS_LOG_LEVEL": value}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )

    assert outcome in result.stdout + result.stderr
    assert (result.returncode == 0) is outcome.startswith("level")


def test_the_authorizer_imports_neither_flask_nor_boto3() -> None:
    """A separate function on every guarded request: its cold start must stay small."""
    probe = (
        "import sys, authorizer\n"
        "answer = authorizer.handler({'headers': {'x-api-key': 'k1'}}, None)\n"
        "assert answer['isAuthorized'] is True, answer\n"
        "loaded = {'flask', 'werkzeug', 'boto3', 'botocore', 'openai'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TASK_ROOT), "IRIS_API_KEYS": "k1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
