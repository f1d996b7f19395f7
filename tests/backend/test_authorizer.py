"""The X-API-Key authorizers: real-shaped payload 2.0 authorizer events through `handler`.

IRIS's and SpendSense's entry points are both the kit's authorizer (`lambda_kit.authorizer`),
each reading its own variables (IRIS_*, SPENDSENSE_*): every case runs on both.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambda_kit import aws
from lambda_kit.authorizer import MAX_KEY_BYTES
from lambda_kit.logs import forget_secrets
from lambda_kit.parameters import forget_secure_parameters
from tests.events import ACCOUNT_ID, API_ID, LambdaContext, http_api_v2_event
from tests.spendsense.entry_points import fresh_import, load_authorizer, logger_restored

KEY_1 = "iris-key-1-9c1f0d6b2a7e4c35b8e1f2a3d4c5b6a7"
KEY_2 = "iris-key-2-4e8a2c6f1b3d5e7a9c0b2d4f6e8a1c3e"
PARAMETER = "/iris/dev/api-keys"
REPO = Path(__file__).resolve().parents[2]
# Where the handler kit (lambda_kit/) is, which both images copy into their task roots.
KIT_ROOT = REPO


@dataclass(frozen=True)
class App:
    """One app's authorizer entry point: the prefix of its variables, the logger it writes, the
    task roots its image holds (first the app's own) and how a cold start imports it."""

    name: str
    prefix: str
    logger: str
    task_roots: tuple[Path, ...]
    guarded_path: str
    load: Callable[[], ModuleType]

    def variable(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"


IRIS = App(
    "iris",
    "IRIS",
    "iris",
    (REPO / "backend" / "src", KIT_ROOT),
    "/api/iris/analyze",
    lambda: fresh_import("authorizer"),
)
SPENDSENSE = App(
    "spendsense",
    "SPENDSENSE",
    "spendsense",
    (REPO / "spendsense" / "backend" / "src", KIT_ROOT),
    "/api/stats",
    load_authorizer,
)


@pytest.fixture(params=[IRIS, SPENDSENSE], ids=lambda app: app.name)
def app(request: pytest.FixtureRequest) -> App:
    return request.param


@pytest.fixture
def authorizer(app: App) -> Iterator[ModuleType]:
    """The app's authorizer module in a new container (imported again: INIT ran)."""
    with logger_restored(app.logger):
        yield app.load()


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
    """The app logger's JSON lines (it writes to stdout, not through logging's root)."""
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
def two_keys(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(app.variable("API_KEYS"), f"{KEY_1},{KEY_2}")


@pytest.mark.usefixtures("two_keys")
@pytest.mark.parametrize(("key", "slot"), [(KEY_1, "key-1"), (KEY_2, "key-2")])
def test_both_rotation_keys_are_accepted(authorizer: ModuleType, key: str, slot: str) -> None:
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
def test_near_misses_are_denied(authorizer: ModuleType, presented: str) -> None:
    answer = authorizer.handler(authorizer_event(presented), LambdaContext())

    assert answer == {"isAuthorized": False}


@pytest.mark.usefixtures("two_keys")
def test_a_request_without_the_header_is_denied(
    authorizer: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
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
def test_the_key_is_found_whatever_the_header_case(
    authorizer: ModuleType, event: dict[str, Any]
) -> None:
    assert authorizer.handler(event, LambdaContext())["isAuthorized"] is True


@pytest.mark.parametrize("configured", [None, "", " , ,, "])
def test_with_no_keys_configured_everything_is_denied(
    app: App,
    authorizer: ModuleType,
    configured: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if configured is not None:
        monkeypatch.setenv(app.variable("API_KEYS"), configured)

    for presented in (KEY_1, "", " , "):
        assert authorizer.handler(authorizer_event(presented), LambdaContext()) == {
            "isAuthorized": False
        }

    logged = log_entries(capsys.readouterr().out)
    errors = [entry for entry in logged if entry["level"] == "ERROR"]
    assert errors and "no api keys are configured" in errors[0]["message"]
    assert {entry["reason"] for entry in decisions(logged)} == {"no_keys_configured"}


def test_the_other_apps_keys_authorize_nothing(
    app: App, authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each authorizer reads its own app's variables only."""
    other = SPENDSENSE if app is IRIS else IRIS
    monkeypatch.setenv(other.variable("API_KEYS"), KEY_1)

    assert authorizer.handler(authorizer_event(KEY_1), LambdaContext()) == {"isAuthorized": False}
    monkeypatch.setenv(app.variable("API_KEYS"), KEY_1)
    assert authorizer.handler(authorizer_event(KEY_1), LambdaContext())["isAuthorized"] is True


def test_keys_are_stripped_and_empty_entries_ignored(
    app: App, authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(app.variable("API_KEYS"), f" {KEY_1} ,, \n{KEY_2}\t, ")

    assert authorizer.authorizer.accepted_keys() == (KEY_1, KEY_2)
    assert authorizer.handler(authorizer_event(KEY_2), LambdaContext())["isAuthorized"] is True


@pytest.mark.usefixtures("two_keys")
def test_every_key_is_compared_even_after_a_match(
    authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No early exit: the time taken must not tell which slot matched."""
    compared: list[bytes] = []
    compare_digest = hmac.compare_digest

    def counting_compare(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting_compare)

    assert authorizer.handler(authorizer_event(KEY_1), LambdaContext())["isAuthorized"] is True
    assert compared == [KEY_1.encode(), KEY_2.encode()]


@pytest.mark.usefixtures("two_keys")
def test_an_oversized_key_is_refused_before_any_comparison(
    authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(hmac, "compare_digest", pytest.fail)

    answer = authorizer.handler(authorizer_event("k" * (MAX_KEY_BYTES + 1)), None)

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
    app: App,
    authorizer: ModuleType,
    presented: str,
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event, context = authorizer_event(presented, path=app.guarded_path), LambdaContext()

    authorizer.handler(event, context)

    out = capsys.readouterr().out
    (entry,) = decisions(log_entries(out))
    assert entry["logger"] == app.logger
    assert entry["reason"] == reason
    assert entry["authorized"] is (reason == "match")
    assert entry["requestId"] == context.aws_request_id
    assert entry["apiRequestId"] == event["requestContext"]["requestId"]
    assert entry["routeKey"] == f"POST {app.guarded_path}"
    for secret in (KEY_1, KEY_2, KEY_1[:12], KEY_2[-12:], presented):
        assert secret not in out


@pytest.fixture
def ssm_keys(app: App, authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The deployed set-up: the keys in an SSM SecureString, its name in the environment (set
    once the container has started; a test that checks INIT imports the module again)."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-west-1")
        ssm.put_parameter(Name=PARAMETER, Value=f"{KEY_1}, {KEY_2}", Type="SecureString")
        monkeypatch.setenv(app.variable("API_KEYS_PARAM"), PARAMETER)
        yield ssm


def test_keys_are_read_from_the_ssm_secure_string(authorizer: ModuleType, ssm_keys: Any) -> None:
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


def test_the_keys_are_read_at_init(app: App, ssm_reads: list[str]) -> None:
    """Lambda runs the import (INIT) with a CPU burst, before the first request arrives."""
    authorizer = app.load()
    assert ssm_reads == [PARAMETER]

    answers = [authorizer.handler(authorizer_event(key), LambdaContext()) for key in [KEY_1] * 5]

    assert all(answer["isAuthorized"] for answer in answers)
    assert ssm_reads == [PARAMETER]


def test_an_init_that_cannot_read_the_keys_goes_on_and_the_request_reads_again(
    app: App, ssm_keys: Any, ssm_reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    ssm_keys.delete_parameter(Name=PARAMETER)
    capsys.readouterr()

    authorizer = app.load()
    ssm_keys.put_parameter(Name=PARAMETER, Value=KEY_1, Type="SecureString")
    answer = authorizer.handler(authorizer_event(KEY_1), LambdaContext())

    assert answer["isAuthorized"] is True
    assert ssm_reads == [PARAMETER, PARAMETER]
    (warning,) = [e for e in log_entries(capsys.readouterr().out) if e["level"] == "WARNING"]
    assert warning["message"].startswith("init: api keys could not be read")
    assert warning["error_type"] == "SecureParameterError"


def test_keys_are_trusted_for_the_secret_max_age_then_read_again(
    authorizer: ModuleType,
    ssm_keys: Any,
    ssm_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A key revoked outside a deployment (aws ssm put-parameter) stops working within
    <PREFIX>_SECRET_MAX_AGE_S, and a new one starts, without a new container."""
    monkeypatch.setattr(authorizer.authorizer, "secret_max_age_s", 0.3)
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


def run_cold_start(app: App, probe: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`probe` in a fresh interpreter on the app's task roots, with these variables."""
    path = os.pathsep.join(map(str, app.task_roots))
    env = {**os.environ, "PYTHONPATH": path, **environ}
    return subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        ("", "max age 300"),
        (" 60 ", "max age 60"),
        ("5", "SettingsError: {variable}=5 is out of range; allowed 10-3600"),
        ("soon", "SettingsError: {variable}='soon' is not a whole number"),
    ],
    ids=["default", "set", "too-short", "not-a-number"],
)
def test_the_secret_max_age_is_read_like_the_apps(app: App, value: str, outcome: str) -> None:
    variable = app.variable("SECRET_MAX_AGE_S")
    probe = "import authorizer\nprint('max age', authorizer.authorizer.secret_max_age_s)\n"

    result = run_cold_start(app, probe, **{variable: value})

    assert outcome.format(variable=variable) in result.stdout + result.stderr
    assert (result.returncode == 0) is outcome.startswith("max age")


def test_an_unreadable_parameter_denies_and_is_retried(
    authorizer: ModuleType,
    ssm_keys: Any,
    ssm_reads: list[str],
    capsys: pytest.CaptureFixture[str],
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


CANARY = "canary-key-7f3e9b1c5d2a4e6f8a0b2c4d6e8f0a1b"


def test_no_key_value_reaches_a_log_line_or_an_answer(
    app: App,
    authorizer: ModuleType,
    ssm_keys: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Canary keys in SSM, then every kind of decision, and a line of the app's that happens to
    hold a key (an exception's message, say): the key is in neither the answers nor any output.
    Then, with the redaction forgotten, the same line does show it: the scan can fail."""
    ssm_keys.put_parameter(
        Name=PARAMETER, Value=f"{CANARY},{KEY_2}\n", Type="SecureString", Overwrite=True
    )
    presented = [CANARY, CANARY[:-1], CANARY + "x" * 300, f"{CANARY},{KEY_2}", None, KEY_2]
    answers = [authorizer.handler(authorizer_event(key), LambdaContext()) for key in presented]
    app_log = logging.getLogger(f"{app.logger}.elsewhere")
    app_log.error("upstream refused %s", f"Bearer {CANARY}")
    ssm_keys.delete_parameter(Name=PARAMETER)
    authorizer.authorizer.secret_max_age_s = 0
    answers.append(authorizer.handler(authorizer_event(CANARY), LambdaContext()))

    assert [answer["isAuthorized"] for answer in answers] == [True, *[False] * 4, True, False]
    captured = capsys.readouterr()
    seen = json.dumps(answers) + captured.out + captured.err
    assert "[redacted]" in captured.out
    for secret in (CANARY, KEY_2, CANARY[:12], CANARY[-12:]):
        assert secret not in seen

    forget_secrets()
    app_log.error("upstream refused %s", f"Bearer {CANARY}")
    assert CANARY in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        (" warning ", "level WARNING"),
        ("", "level INFO"),
        ("LOUD", "SettingsError: {variable}='LOUD' is not allowed; use DEBUG, INFO,"),
    ],
    ids=["any-case", "blank", "bad"],
)
def test_the_log_level_is_read_like_the_apps(app: App, value: str, outcome: str) -> None:
    """A bad value fails the cold start with a message that names the variable."""
    variable = app.variable("LOG_LEVEL")
    probe = (
        "import logging, authorizer\n"
        f"print('level', logging.getLevelName(logging.getLogger({app.logger!r}).level))\n"
    )

    result = run_cold_start(app, probe, **{variable: value})

    assert outcome.format(variable=variable) in result.stdout + result.stderr
    assert (result.returncode == 0) is outcome.startswith("level")


# Neither a web framework nor the AWS SDK (until a parameter is read), nor the apps' data.
HEAVY_MODULES = {
    "flask",
    "werkzeug",
    "fastapi",
    "starlette",
    "pydantic",
    "mangum",
    "a2wsgi",
    "boto3",
    "botocore",
    "openai",
    "spendsense_core",
    "sqlite3",
}


def test_the_authorizer_imports_no_framework_and_no_sdk(app: App) -> None:
    """A separate function on every guarded request: its cold start must stay small."""
    probe = (
        "import sys, authorizer\n"
        "answer = authorizer.handler({'headers': {'x-api-key': 'k1'}}, None)\n"
        "assert answer['isAuthorized'] is True, answer\n"
        f"loaded = {HEAVY_MODULES!r} & {{name.split('.')[0] for name in sys.modules}}\n"
        "assert not loaded, loaded\n"
    )

    result = run_cold_start(app, probe, **{app.variable("API_KEYS"): "k1"})

    assert result.returncode == 0, result.stderr
