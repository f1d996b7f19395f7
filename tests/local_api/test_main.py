"""`python -m local_api` (`make run`), started and stopped as a user would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_api import PROJECT_DIR, apps
from local_api import __main__ as local_api_main
from local_api.__main__ import main
from tests.local_api.support import call, read_banner, write_sample_database

STARTUP_TIMEOUT_S = 60
URL = re.compile(r"http://127\.0\.0\.1:(\d+)")


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """`main()` adds what the stack adds to the functions' environment to this process's
    (DB_PATH, ...): every test gets the environment back as it was."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# A shell starts a background job (`make test > log &`) with SIGINT ignored, and a child
# inherits that (pitfall 43): the command must stop on Ctrl-C however it was started.
@pytest.mark.parametrize(
    "start_with",
    [None, _ignore_sigint],
    ids=["foreground", "sigint-ignored-as-in-a-background-job"],
)
def test_the_command_serves_until_ctrl_c_and_exits_cleanly(
    start_with: Callable[[], None] | None,
) -> None:
    env = {**os.environ, "IRIS_API_KEYS": "never-printed-key-7f3a", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "local_api", "--stack", "dev", "--port", "0"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=start_with,
    )
    try:
        banner = read_banner(process.stdout, STARTUP_TIMEOUT_S)
        match = URL.search(banner)
        assert match, f"no URL in the start-up line {banner!r}"
        base_url = match.group(0)

        health = call(base_url, "GET", "/health")
        guarded = call(base_url, "GET", "/api/iris/health")
        # The function requires the authorizer's context (as the stack sets it beside apiKeys)
        # and gets it from the gateway, as API Gateway hands it on.
        authorized = call(
            base_url, "GET", "/api/iris/health", headers=[("X-API-Key", "never-printed-key-7f3a")]
        )
        bypass = call(
            base_url,
            "GET",
            "/api/%2569ris/health",
            headers=[("X-API-Key", "never-printed-key-7f3a")],
        )

        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert health.status == 200 and health.json() == {"status": "ok"}
    assert guarded.status == 401
    assert authorized.status == 200, authorized.body
    assert (bypass.status, bypass.json()["error"]["code"]) == (401, "unauthorized")
    assert match.group(1) != "0"
    for shown in ("stack dev", "http://localhost:5173", "offline", "API keys: enforced"):
        assert shown in banner
    assert "never-printed-key-7f3a" not in banner + stdout + stderr
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_a_missing_stack_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "no-such-stack", "--port", "0"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("local_api: error: ")
    assert str(Path(PROJECT_DIR) / "Pulumi.no-such-stack.yaml") in err
    assert "Traceback" not in err


def test_an_invalid_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IRIS_LLM_PROVIDER", "magic")

    assert main(["--cors-origins", "http://localhost:5173", "--port", "0"]) == 2

    assert "IRIS_LLM_PROVIDER='magic'" in capsys.readouterr().err


def refuse_to_serve(*args: object, **kwargs: object) -> None:
    raise AssertionError("the command went on to serve")


def test_a_base_url_without_a_key_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a key the run would stay offline and never call the endpoint: say so instead."""
    for name in ("OPENAI_API_KEY", "OPENAI_API_KEY_PARAM", "IRIS_LLM_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setattr(local_api_main, "make_server", refuse_to_serve)

    assert main(["--cors-origins", "http://localhost:5173", "--port", "0"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("local_api: error: OPENAI_BASE_URL='http://127.0.0.1:11434/v1' is set")
    assert "OPENAI_API_KEY nor OPENAI_API_KEY_PARAM" in err


@pytest.mark.parametrize(
    ("environ", "shown"),
    [
        ({}, "LLM provider: offline"),
        (
            {
                "OPENAI_API_KEY": "sk-never-shown-51c0",
                "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1",
            },
            "LLM provider: openai, model gpt-4o-mini-2024-07-18 at "
            "http://127.0.0.1:8080/v1/chat/completions",
        ),
        (
            {"OPENAI_API_KEY": "sk-never-shown-51c0", "OPENAI_MODEL": "gpt-4o-2024-08-06"},
            "LLM provider: openai, model gpt-4o-2024-08-06 at "
            "https://api.openai.com/v1/chat/completions",
        ),
        (
            {"IRIS_LLM_PROVIDER": "openai"},
            "at https://api.openai.com/v1/chat/completions (no key: analyze answers 503)",
        ),
    ],
)
def test_the_start_up_line_says_where_analyses_go(environ: dict[str, str], shown: str) -> None:
    line = apps.IRIS.describe_setup(environ)

    assert shown in line
    assert "sk-never-shown" not in line


def test_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        with pytest.raises(SystemExit) as stopped:
            main(["--cors-origins", "http://localhost:5173", "--port", str(port)])

    assert stopped.value.code == 1
    assert f"Port {port} is in use" in capsys.readouterr().err


# Both settings given, so no stack file is read.
SPENDSENSE_ARGS = [
    "--app",
    "spendsense",
    "--cors-origins",
    "http://localhost:5173",
    "--deployment",
    "split",
    "--port",
    "0",
]


def test_a_missing_sample_database_says_how_to_make_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DB_PATH", raising=False)
    missing = tmp_path / "data" / "spendsense.db"
    monkeypatch.setattr(apps, "SAMPLE_DATABASE", missing)

    assert main(SPENDSENSE_ARGS) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"local_api: error: the sample database {missing} does not exist")
    assert "run `make spendsense-db`" in err
    assert "Traceback" not in err


def test_a_db_path_that_is_no_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PATH", str(tmp_path))

    assert main(SPENDSENSE_ARGS) == 2

    assert f"DB_PATH={str(tmp_path)!r} is not a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--deployment", "both"], "--deployment is 'both'; use one of split, single"),
        (["--app", "iris", "--deployment", "split"], "--deployment applies to programs of"),
    ],
)
def test_a_bad_deployment_is_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*SPENDSENSE_ARGS, *argv]) == 2

    assert message in capsys.readouterr().err


def test_the_spendsense_command_serves_its_shape_until_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DB_PATH": str(write_sample_database(tmp_path)),
        "SPENDSENSE_API_KEYS": "never-printed-key-2c9e",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "local_api", *SPENDSENSE_ARGS],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = read_banner(process.stdout, STARTUP_TIMEOUT_S)
        match = URL.search(banner)
        assert match, f"no URL in the start-up line {banner!r}"
        path = "/api/insights/net-worth?user_id=u-001"
        anonymous = call(match.group(0), "GET", path)
        keyed = call(match.group(0), "GET", path, headers=[("X-API-Key", "never-printed-key-2c9e")])

        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert banner.startswith(f"SpendSense local API on {match.group(0)} | stack dev | ")
    for shown in (
        "shape split (6 functions)",
        "CORS origins: http://localhost:5173",
        f"database: {env['DB_PATH']}",
        "API keys: enforced",
    ):
        assert shown in banner
    assert anonymous.status == 401
    assert keyed.status == 200 and keyed.json()["userId"] == "u-001"
    assert "never-printed-key-2c9e" not in banner + stdout + stderr
    assert process.returncode == 0
    assert "Traceback" not in stderr
