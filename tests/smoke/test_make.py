"""`make smoke` as the README and CI run it: against `python -m local_api` (what `make run`
starts), and against a stack through a stand-in `pulumi`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from local_api import PROJECT_DIR
from tests.local_api.support import read_banner
from tests.smoke.conftest import API_KEY, ORIGINS
from tests.smoke.support import path_with, pulumi_calls, write_pulumi

MAKE = shutil.which("make")
STARTUP_TIMEOUT_S = 60
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+")
MAKE_VARIABLES = ("API_KEY", "SMOKE_API_KEY", "URL", "STACK", "ORIGIN", "TIMEOUT", "APP", "USER_ID")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make_smoke(
    *variables: str, path: Sequence[str] | None = None, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`make smoke <variables>` in the project, with this interpreter as PYTHON; `environ`
    adds to an environment without the variables make smoke reads."""
    env = {name: value for name, value in os.environ.items() if name not in MAKE_VARIABLES}
    env.update(environ or {})
    if path is not None:
        env["PATH"] = os.pathsep.join(path)
    return subprocess.run(
        [str(MAKE), "--no-print-directory", "smoke", f"PYTHON={sys.executable}", *variables],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def serving(arguments: list[str], environment: dict[str, str]) -> Iterator[str]:
    """`python -m local_api <arguments>` on a free port, until the test ends: its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local_api", *arguments, "--port", "0"],
        cwd=PROJECT_DIR,
        env={**os.environ, **environment, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = read_banner(process.stdout, STARTUP_TIMEOUT_S)
        match = LOCAL_URL.search(banner)
        assert match, f"no URL in the start-up line {banner!r}"
        yield match.group(0)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture
def local_api_process() -> Iterator[str]:
    """`python -m local_api --stack dev` with API keys, on a free port: `make run`'s command."""
    with serving(["--stack", "dev"], {"IRIS_API_KEYS": API_KEY}) as url:
        yield url


def test_make_smoke_passes_against_the_local_api_and_never_shows_the_key(
    local_api_process: str,
) -> None:
    result = make_smoke(
        f"URL={local_api_process}", f"ORIGIN={ORIGINS[0]}", f"API_KEY={API_KEY}", "STACK=prod"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"of {local_api_process} (URL)" in result.stdout  # URL wins over STACK
    assert "smoke test OK: 7 passed, 0 failed, 0 skipped" in result.stdout
    assert API_KEY not in result.stdout + result.stderr
    # make echoes the command it runs: the key is not on it.
    assert f"-m smoke --url '{local_api_process}' --origin '{ORIGINS[0]}'" in result.stdout


def test_make_smoke_takes_the_key_from_the_environment_too(local_api_process: str) -> None:
    result = make_smoke(f"URL={local_api_process}", environ={"API_KEY": API_KEY})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "API key given" in result.stdout
    assert API_KEY not in result.stdout + result.stderr


def test_make_smoke_fails_against_a_wrong_key(local_api_process: str) -> None:
    result = make_smoke(f"URL={local_api_process}", "API_KEY=not-the-key-8d1f")

    assert result.returncode != 0
    assert "smoke test FAILED (iris health, analyze, analyze again, key accepted)" in (
        result.stdout
    )
    assert "not-the-key-8d1f" not in result.stdout + result.stderr


def test_make_smoke_reads_a_stack_through_pulumi(tmp_path: Path, local_api_process: str) -> None:
    bin_dir = tmp_path / "bin"
    outputs = {"apiUrl": local_api_process, "corsOrigins": list(ORIGINS)}
    write_pulumi(bin_dir, stack="staging", outputs=outputs)

    result = make_smoke(
        "STACK=staging",
        f"API_KEY={API_KEY}",
        path=[path_with(bin_dir), *os.environ["PATH"].split(os.pathsep)],
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert pulumi_calls(bin_dir) == ["stack output --json --stack staging"]
    assert f"(stack staging) | origin {ORIGINS[0]} | API key given" in result.stdout


def test_make_smoke_without_url_or_pulumi_explains_both_ways(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = make_smoke(path=[str(empty)])

    assert result.returncode != 0
    assert "-m smoke --stack 'dev'" in result.stdout  # STACK defaults to dev
    assert "STACK=dev needs the Pulumi CLI" in result.stderr
    assert "give URL=<base url>" in result.stderr


@pytest.fixture
def spendsense_process(spendsense_database: Path) -> Iterator[str]:
    """`python -m local_api --app spendsense` with API keys, on a free port (`make
    run-spendsense`'s command, with both stack settings given)."""
    arguments = ["--app", "spendsense", "--deployment", "split"]
    arguments += ["--cors-origins", ",".join(ORIGINS)]
    environment = {"SPENDSENSE_API_KEYS": API_KEY, "DB_PATH": str(spendsense_database)}
    with serving(arguments, environment) as url:
        yield url


def test_make_smoke_app_spendsense_passes_against_its_local_api(spendsense_process: str) -> None:
    result = make_smoke(
        "APP=spendsense",
        f"URL={spendsense_process}",
        f"ORIGIN={ORIGINS[0]}",
        f"API_KEY={API_KEY}",
        "USER_ID=u-002",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SpendSense smoke test of {spendsense_process} (URL) | user u-002" in result.stdout
    assert "smoke test OK: 11 passed, 0 failed, 0 skipped" in result.stdout
    assert API_KEY not in result.stdout + result.stderr
    assert "--app 'spendsense' --url" in result.stdout and "--user-id 'u-002'" in result.stdout


def make_dry_run(
    *variables: str, target: str = "run-spendsense", environ: dict[str, str] | None = None
) -> str:
    """The commands `make -n <target>` would run (none is run)."""
    env = {name: value for name, value in os.environ.items() if name not in ("PORT", "STACK")}
    result = subprocess.run(
        [str(MAKE), "--no-print-directory", "-n", target, *variables],
        cwd=PROJECT_DIR,
        env={**env, **(environ or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize(
    ("variables", "environ", "port"),
    [([], {}, "8001"), (["PORT=9100"], {}, "9100"), ([], {"PORT": "9200"}, "9200")],
    ids=["default", "command-line", "environment"],
)
def test_make_run_spendsense_serves_beside_iris_unless_a_port_is_given(
    variables: list[str], environ: dict[str, str], port: str
) -> None:
    commands = make_dry_run(*variables, environ=environ)

    assert f"-m local_api --app spendsense --stack dev --port {port}\n" in commands


def test_make_run_spendsense_writes_the_sample_database_only_when_missing(tmp_path: Path) -> None:
    missing, present = tmp_path / "missing.db", tmp_path / "present.db"
    present.write_bytes(b"")

    writes = make_dry_run(f"SPENDSENSE_DB={missing}")
    keeps = make_dry_run(f"SPENDSENSE_DB={present}")

    # To stderr: a target that prints JSON (make deployer-policy) may need it first.
    assert f"spendsense/scripts/make_db.py --out {missing} >&2\n" in writes
    assert "make_db.py" not in keeps
    assert writes.index("make_db.py") < writes.index("-m local_api --app spendsense")


def test_make_run_still_serves_iris_on_its_port() -> None:
    assert "-m local_api --stack dev --port 8000\n" in make_dry_run(target="run")
