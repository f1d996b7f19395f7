"""The image's entry point without Docker: Lambda's runtime client runs `lambda_handler.handler`.

A task root is built as backend/Dockerfile builds it from the repository root
(backend/requirements.txt alone, then the handler kit and backend/src on top) and the runtime
client run on it the way the base image starts it, polling
a loopback Lambda Runtime API for API Gateway events (tests/backend/task_root.py).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.backend.dockerfile import read_dockerfile
from tests.backend.loopback import aws_client, create_deployed_resources, moto_server
from tests.backend.openai_stub import OPENAI_KEY, OpenAIStub
from tests.backend.task_root import (
    Image,
    Run,
    build_image,
    python_command,
    run_runtime_client,
    runtime_directory,
    runtime_environment,
)
from tests.events import http_api_v2_event

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
DOCKERFILE = read_dockerfile()
# The handler the image names in its CMD, so that a wrong CMD fails here too.
HANDLER = DOCKERFILE.command[0]
# The Dockerfile's COPY sources, relative to its build context: the repository root.
SOURCES = DOCKERFILE.code_sources(REPO)
HEALTH_ID = str(uuid.uuid4())
ANALYZE_ID = str(uuid.uuid4())


@pytest.fixture(scope="session")
def runtime_dir() -> Path:
    return runtime_directory()


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory, runtime_dir: Path) -> Image:
    requirements = (BACKEND / "requirements.txt").read_text()
    return build_image(
        requirements, SOURCES, tmp_path_factory.mktemp("image"), runtime_dir, DOCKERFILE
    )


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
    return run_runtime_client(image, invocations, len(invocations), log_path, HANDLER)


def run_probe(image: Image, code: str) -> Any:
    """What `code` prints (JSON), run by the runtime's interpreter in the task root with the
    function's environment."""
    result = subprocess.run(
        python_command("-c", code),
        cwd=image.task_root,
        env=runtime_environment(image, "127.0.0.1:9", HANDLER),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def test_runtime_sees_only_the_task_root_and_the_runtime(image: Image) -> None:
    """The client's interpreter cannot fall back on the test virtualenv's packages."""
    probe = (
        "import json, sys, flask, awslambdaric\n"
        "print(json.dumps({'path': sys.path, 'flask': flask.__file__,"
        " 'awslambdaric': awslambdaric.__file__, 'site': 'site' in sys.modules}))"
    )
    seen = run_probe(image, probe)

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
    broken = build_image(without_a2wsgi, SOURCES, tmp_path, runtime_dir, DOCKERFILE)

    run = run_runtime_client(
        broken,
        [("unused", http_api_v2_event("GET", "/health"))],
        1,
        tmp_path / "runtime.log",
        HANDLER,
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


@dataclass(frozen=True)
class DeployedRun:
    run: Run
    # The day's token counter item the two calls left in the table, and what the model billed.
    counter: dict[str, Any]
    billed: int


@pytest.fixture(scope="module")
def deployed_run(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedRun]:
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
                # Metered, as the stacks deploy it: the first call reserves and settles.
                "IRIS_LLM_DAILY_TOKEN_BUDGET": "1000000",
            }
            run = run_runtime_client(
                image,
                [(request_id, analyze) for request_id in DEPLOYED_IDS],
                len(DEPLOYED_IDS),
                tmp_path_factory.mktemp("deployed") / "runtime.log",
                HANDLER,
                settings=settings,
            )
            day = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
            counter = aws_client("dynamodb", aws_url).get_item(
                TableName="iris-entry-cache", Key={"pk": {"S": f"llm-tokens#{day}"}}
            )
            billed = sum(request["billed"] for request in stub.requests)
            yield DeployedRun(run, counter.get("Item", {}), billed)
    finally:
        llm.clear()
        llm.stop()


def test_the_deployed_shape_analyzes_and_caches_through_the_runtime_client(
    deployed_run: DeployedRun,
) -> None:
    """Every AWS call of the analyze path (the key's GetParameter, the cache's GetItem and
    PutItem, the counter's UpdateItems) made by the runtime's botocore from the image's
    cut-down models."""
    run = deployed_run.run
    first, second = (run.response_to(request_id) for request_id in DEPLOYED_IDS)

    assert (first["statusCode"], second["statusCode"]) == (200, 200), run.log
    first_body, second_body = json.loads(first["body"]), json.loads(second["body"])
    assert first_body["model"] == "gpt-4o-mini-2024-07-18"
    assert (first_body["cached"], second_body["cached"]) == (False, True)
    init_warnings = [line for line in run.log.splitlines() if "init step failed" in line]
    assert init_warnings == [], "INIT read the key and built the clients"
    # One model call, reserved and then settled to the usage it reported.
    assert deployed_run.billed > 0
    assert int(deployed_run.counter["tokens"]["N"]) == deployed_run.billed


def test_the_runtimes_botocore_reads_the_images_cut_down_models(image: Image) -> None:
    """The function's clients have the operations the Dockerfile lists (and the discovery
    operation the model marks), from the runtime's own botocore, and nothing else."""
    probe = (
        "import json, botocore, botocore.session\n"
        "session = botocore.session.get_session()\n"
        "names = {s: sorted(session.create_client(s).meta.service_model.operation_names)"
        " for s in ('ssm', 'dynamodb')}\n"
        "print(json.dumps({'botocore': botocore.__file__, 'operations': names}))"
    )
    seen = run_probe(image, probe)

    assert Path(seen["botocore"]).is_relative_to(image.runtime_dir)
    assert seen["operations"] == {
        "ssm": ["GetParameter"],
        "dynamodb": ["DescribeEndpoints", "GetItem", "PutItem", "UpdateItem"],
    }
    assert {service: list(calls) for service, calls in DOCKERFILE.aws_calls.items()} == {
        "ssm": ["GetParameter"],
        "dynamodb": ["GetItem", "PutItem", "UpdateItem"],
    }
