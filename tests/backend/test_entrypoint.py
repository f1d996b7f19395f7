"""The image's entry point without Docker: Lambda's runtime client runs `lambda_handler.handler`.

A task root is built as the Dockerfile builds it (`pip install --target` from
backend/requirements.txt alone, then backend/src on top), next to a stand-in for the base
image's /var/runtime holding awslambdaric and boto3. The runtime client then starts the way
the base image starts it: `python -m awslambdaric lambda_handler.handler` in the task root, but
with `-S` so the test virtualenv's site-packages are out of reach: a runtime dependency missing
from backend/requirements.txt fails here as it would in Lambda. The client polls a loopback
Lambda Runtime API (tests/backend/runtime_api.py) for API Gateway events.

Installed packages are cached under .cache/ (keyed by the requirements and versions) so that
reruns only link them; the first run needs PyPI or pip's cache.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.backend.dockerfile import read_dockerfile
from tests.backend.loopback import create_deployed_resources, moto_server
from tests.backend.openai_stub import OPENAI_KEY, OpenAIStub
from tests.backend.runtime_api import Outcome, RuntimeApi
from tests.events import http_api_v2_event

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
CACHE = REPO / ".cache" / "lambda-task-roots"
# The handler the image names in its CMD, so that a wrong CMD fails here too.
HANDLER = read_dockerfile().command[0]
RUNTIME_PACKAGES = ("awslambdaric", "boto3")
TIMEOUT_S = 60
HEALTH_ID = str(uuid.uuid4())
ANALYZE_ID = str(uuid.uuid4())


@dataclass(frozen=True)
class Image:
    """What the runtime client sees: the task root (/var/task) and the runtime (/var/runtime)."""

    task_root: Path
    runtime_dir: Path


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


def build_image(requirements: str, root: Path, runtime_dir: Path) -> Image:
    """The Dockerfile's two steps: the requirements (linked from the cache), then backend/src."""
    site = pip_install(requirements, "task") / "site"
    task_root = root / "task"
    task_root.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name not in ("bin", "__pycache__"):
            (task_root / entry.name).symlink_to(entry)
    shutil.copytree(
        BACKEND / "src",
        task_root,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return Image(task_root, runtime_dir)


def runtime_environment(image: Image, runtime_api: str, handler: str) -> dict[str, str]:
    """What Lambda puts in a Python function's environment, and nothing from this shell."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": str(image.runtime_dir),
        "LAMBDA_TASK_ROOT": str(image.task_root),
        "LAMBDA_RUNTIME_DIR": str(image.runtime_dir),
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": "iris-dev-api",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/iris-dev-api",
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
    handler: str = HANDLER,
    settings: dict[str, str] | None = None,
) -> Run:
    """Start the runtime client against a loopback Runtime API; stop it once it has answered.

    `settings` are the function's own environment variables (what the stack sets).
    """
    with RuntimeApi(invocations) as api, log_path.open("w+") as log:
        process = subprocess.Popen(
            python_command("-m", "awslambdaric", handler),
            cwd=image.task_root,
            env={**runtime_environment(image, api.address, handler), **(settings or {})},
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


@pytest.fixture(scope="session")
def runtime_dir() -> Path:
    """The base image's /var/runtime: the runtime client and the boto3 it ships."""
    pins = "".join(f"{name}=={metadata.version(name)}\n" for name in RUNTIME_PACKAGES)
    return pip_install(pins, "runtime") / "site"


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory, runtime_dir: Path) -> Image:
    requirements = (BACKEND / "requirements.txt").read_text()
    return build_image(requirements, tmp_path_factory.mktemp("image"), runtime_dir)


@pytest.fixture(scope="module")
def served(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One container's life: GET /health, then POST analyze with no content-length header."""
    analyze = http_api_v2_event(
        "POST",
        "/api/iris/analyze",
        headers={"content-type": "application/json"},
        body=json.dumps({"text": "Grüße, 東京 🌸"}, ensure_ascii=False),
    )
    assert "content-length" not in analyze["headers"]
    invocations = [(HEALTH_ID, http_api_v2_event("GET", "/health")), (ANALYZE_ID, analyze)]
    log_path = tmp_path_factory.mktemp("served") / "runtime.log"
    return run_runtime_client(image, invocations, len(invocations), log_path)


def test_runtime_sees_only_the_task_root_and_the_runtime(image: Image) -> None:
    """The client's interpreter cannot fall back on the test virtualenv's packages."""
    probe = (
        "import json, sys, flask, awslambdaric\n"
        "print(json.dumps({'path': sys.path, 'flask': flask.__file__,"
        " 'awslambdaric': awslambdaric.__file__, 'site': 'site' in sys.modules}))"
    )
    result = subprocess.run(
        python_command("-c", probe),
        cwd=image.task_root,
        env=runtime_environment(image, "127.0.0.1:9", HANDLER),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    seen = json.loads(result.stdout)

    assert not [entry for entry in seen["path"] if "site-packages" in entry], seen["path"]
    assert seen["site"] is False
    assert Path(seen["flask"]).is_relative_to(image.task_root)
    assert Path(seen["awslambdaric"]).is_relative_to(image.runtime_dir)


def test_health_through_the_runtime_client(served: Run) -> None:
    answer = served.response_to(HEALTH_ID)

    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["headers"]["x-request-id"] == HEALTH_ID
    assert json.loads(answer["body"]) == {"status": "ok"}
    assert served.exit_code is None, "the client should still be waiting for the next event"


def test_request_id_reaches_the_json_log(served: Run) -> None:
    served.response_to(HEALTH_ID)

    logged = [json.loads(line) for line in served.log.splitlines() if line.startswith("{")]
    entries = [entry for entry in logged if entry.get("requestId") == HEALTH_ID]
    assert [(entry["message"], entry["path"], entry["status"]) for entry in entries] == [
        ("request", "/health", 200)
    ], served.log


def test_analyze_without_content_length_through_the_runtime_client(served: Run) -> None:
    answer = served.response_to(ANALYZE_ID)

    assert answer["statusCode"] == 200, answer
    assert answer["headers"]["content-type"] == "application/json"
    assert answer["headers"]["x-request-id"] == ANALYZE_ID
    body = json.loads(answer["body"])
    assert body["analysis"]
    assert "offline" in body["model"]
    assert isinstance(body["cached"], bool)


def test_runtime_dependency_missing_from_requirements_fails_init(
    runtime_dir: Path, tmp_path: Path
) -> None:
    """Proof that the image is built from backend/requirements.txt alone: drop a2wsgi from it."""
    lines = (BACKEND / "requirements.txt").read_text().splitlines(keepends=True)
    without_a2wsgi = "".join(line for line in lines if not line.startswith("a2wsgi"))
    assert without_a2wsgi != "".join(lines)
    broken = build_image(without_a2wsgi, tmp_path, runtime_dir)

    run = run_runtime_client(
        broken, [("unused", http_api_v2_event("GET", "/health"))], 1, tmp_path / "runtime.log"
    )

    assert [outcome.kind for outcome in run.outcomes] == ["init_error"], run.log
    error = run.outcomes[0]
    assert error.error_type == error.body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'a2wsgi'" in error.body["errorMessage"]
    assert run.exit_code not in (None, 0)


def test_wrong_handler_name_fails_init(image: Image, tmp_path: Path) -> None:
    run = run_runtime_client(
        image,
        [("unused", http_api_v2_event("GET", "/health"))],
        1,
        tmp_path / "runtime.log",
        handler="lambda_handler.nope",
    )

    assert [outcome.kind for outcome in run.outcomes] == ["init_error"], run.log
    error = run.outcomes[0]
    assert error.error_type == error.body["errorType"] == "Runtime.HandlerNotFound"
    assert "nope" in error.body["errorMessage"]
    assert run.exit_code not in (None, 0)


# The deployed shape: the key in SSM, the cache in DynamoDB (moto in server mode), the OpenAI
# API on loopback. The chat client's urllib3 comes from the task root, boto3 from the runtime.

DEPLOYED_IDS = [str(uuid.uuid4()) for _ in range(2)]


@pytest.fixture(scope="module")
def deployed_run(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    llm = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    llm.start()
    stub = OpenAIStub(base_url=llm.url_for("/v1"))
    llm.expect_request("/v1/chat/completions", method="POST").respond_with_handler(stub.handle)
    try:
        with moto_server() as aws_url:
            create_deployed_resources(
                aws_url, table="iris-entry-cache", parameter="/iris/entry/openai", key=OPENAI_KEY
            )
            analyze = http_api_v2_event(
                "POST",
                "/api/iris/analyze",
                headers={"content-type": "application/json"},
                body=json.dumps({"text": "Deployed, through the runtime client."}),
            )
            settings = {
                "IRIS_LLM_PROVIDER": "openai",
                "OPENAI_API_KEY_PARAM": "/iris/entry/openai",
                "OPENAI_BASE_URL": stub.base_url,
                "IRIS_CACHE_TABLE": "iris-entry-cache",
                "AWS_ENDPOINT_URL_SSM": aws_url,
                "AWS_ENDPOINT_URL_DYNAMODB": aws_url,
            }
            yield run_runtime_client(
                image,
                [(request_id, analyze) for request_id in DEPLOYED_IDS],
                len(DEPLOYED_IDS),
                tmp_path_factory.mktemp("deployed") / "runtime.log",
                settings=settings,
            )
    finally:
        llm.clear()
        llm.stop()


def test_the_deployed_shape_analyzes_and_caches_through_the_runtime_client(
    deployed_run: Run,
) -> None:
    first, second = (deployed_run.response_to(request_id) for request_id in DEPLOYED_IDS)

    assert (first["statusCode"], second["statusCode"]) == (200, 200), deployed_run.log
    first_body, second_body = json.loads(first["body"]), json.loads(second["body"])
    assert first_body["model"] == "gpt-4o-mini-2024-07-18"
    assert (first_body["cached"], second_body["cached"]) == (False, True)
    init_warnings = [line for line in deployed_run.log.splitlines() if "init step failed" in line]
    assert init_warnings == [], "INIT read the key and built the clients"
