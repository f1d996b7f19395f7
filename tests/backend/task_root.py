"""A Lambda task root built as a Dockerfile builds it, and Lambda's runtime client run on it.

The task root is `pip install --target` of the image's requirements.txt alone, then the code the
Dockerfile copies on top (`Dockerfile.code_sources`), next to a stand-in for the base image's
/var/runtime holding awslambdaric and boto3. The runtime client starts the way the base image
starts it, `python -m awslambdaric <handler>` in the task root, but with `-S` so that the test
virtualenv's site-packages are out of reach: a runtime dependency missing from requirements.txt
fails here as it would in Lambda. The client polls a loopback Lambda Runtime API
(tests/backend/runtime_api.py) for events.

Installed packages are cached under .cache/ (keyed by the requirements and versions) so that
reruns only link them; the first run needs PyPI or pip's cache.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from tests.backend.dockerfile import AWS_MODELS_MODULE, Dockerfile, substitute
from tests.backend.runtime_api import Outcome, RuntimeApi

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "lambda-task-roots"
RUNTIME_PACKAGES = ("awslambdaric", "boto3")
TIMEOUT_S = 60


@dataclass(frozen=True)
class Image:
    """What the runtime client sees: the task root (/var/task) and the runtime (/var/runtime)."""

    task_root: Path
    runtime_dir: Path
    # The Dockerfile's ENV settings, as the function's environment holds them.
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """What one runtime client process posted back, its exit code and its output."""

    outcomes: list[Outcome]
    exit_code: int | None
    log: str

    def response_to(self, request_id: str) -> dict[str, Any]:
        found = [outcome for outcome in self.outcomes if outcome.request_id == request_id]
        assert found, f"no answer to invocation {request_id}; runtime output:\n{self.log}"
        assert found[0].kind == "response", f"{found[0]}\nruntime output:\n{self.log}"
        return found[0].body


def pip_install(requirements: str, kind: str) -> Path:
    """`pip install --target` of the requirements, cached under .cache/ by their content."""
    key = hashlib.sha256(
        f"{requirements}\n{sys.version}\n{platform.machine()}".encode()
    ).hexdigest()[:16]
    done = CACHE / f"{kind}-{key}"
    if done.is_dir():
        return done
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=CACHE))
    requirements_file = building / "requirements.txt"
    requirements_file.write_text(requirements)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-input", "--target", str(building / "site"), "-r", str(requirements_file),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.fail(f"pip could not build the {kind} directory:\n{result.stdout}{result.stderr}")
    try:
        # A rename is atomic: a concurrent run either sees the whole directory or none.
        building.rename(done)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return done


def runtime_directory() -> Path:
    """The base image's /var/runtime: the runtime client and the boto3 it ships."""
    pins = "".join(f"{name}=={metadata.version(name)}\n" for name in RUNTIME_PACKAGES)
    return pip_install(pins, "runtime") / "site"


def build_image(
    requirements: str,
    sources: Iterable[tuple[Path, str]],
    root: Path,
    runtime_dir: Path,
    dockerfile: Dockerfile,
) -> Image:
    """The Dockerfile's steps: the requirements (linked from the cache), each copied source at
    its place in the task root, then botocore's cut-down models, written by the Dockerfile's
    own command with the runtime's botocore; the image's ENV settings go with it."""
    site = pip_install(requirements, "task") / "site"
    task_root = root / "task"
    task_root.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name not in ("bin", "__pycache__"):
            (task_root / entry.name).symlink_to(entry)
    for source, place in sources:
        shutil.copytree(
            source,
            task_root / place,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    places = {"LAMBDA_TASK_ROOT": str(task_root), "LAMBDA_RUNTIME_DIR": str(runtime_dir)}
    variables, arguments = dockerfile.aws_models_step
    result = subprocess.run(
        python_command("-m", AWS_MODELS_MODULE, *(substitute(a, places) for a in arguments)),
        cwd=task_root,
        env={"PATH": "/usr/bin:/bin", **{k: substitute(v, places) for k, v in variables.items()}},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(f"the image's model step failed:\n{result.stdout}{result.stderr}")
    return Image(task_root, runtime_dir, dockerfile.environment(places))


def runtime_environment(
    image: Image, runtime_api: str, handler: str, function_name: str = "iris-dev-api"
) -> dict[str, str]:
    """What Lambda puts in a Python function's environment (the image's ENV settings, then
    Lambda's own), and nothing from this shell."""
    return {
        **image.environment,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(image.runtime_dir),
        "LAMBDA_TASK_ROOT": str(image.task_root),
        "LAMBDA_RUNTIME_DIR": str(image.runtime_dir),
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]0123456789abcdef",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }


def python_command(*args: str) -> list[str]:
    # -S: no site module, so no site-packages (the virtualenv's or the interpreter's).
    return [sys.executable, "-S", *args]


def run_runtime_client(
    image: Image,
    invocations: list[tuple[str, dict[str, Any]]],
    expected_outcomes: int,
    log_path: Path,
    handler: str,
    settings: dict[str, str] | None = None,
    function_name: str = "iris-dev-api",
) -> Run:
    """Start the runtime client against a loopback Runtime API; stop it once it has answered.

    `settings` are the function's own environment variables (what the stack sets).
    """
    with RuntimeApi(invocations) as api, log_path.open("w+") as log:
        environment = runtime_environment(image, api.address, handler, function_name)
        process = subprocess.Popen(
            python_command("-m", "awslambdaric", handler),
            cwd=image.task_root,
            env={**environment, **(settings or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            outcomes = api.wait_for(expected_outcomes, TIMEOUT_S)
            try:
                exit_code = process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                exit_code = None
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.seek(0)
        return Run(outcomes, exit_code, log.read())
