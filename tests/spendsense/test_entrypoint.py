"""SpendSense's entry points without Docker: Lambda's runtime client runs `handler.handler` and
`insights.net_worth.handler` on a task root built as spendsense/backend/Dockerfile builds it
(spendsense/backend/requirements.txt alone, then the kit and the code it copies), in the
deployed shape: the database one S3 object version, on moto in server mode, downloaded at INIT.

The runtime client, the task root and the loopback Runtime API are IRIS's entry-point test's
(tests/backend/task_root.py); what differs is only what SpendSense's image holds and reads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend.backends import NET_WORTH_OF_U1
from tests.backend.dockerfile import read_dockerfile
from tests.backend.loopback import aws_client, moto_server
from tests.backend.task_root import Image, Run, build_image, run_runtime_client, runtime_directory
from tests.events import http_api_v2_event

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "spendsense" / "backend"
DOCKERFILE = read_dockerfile(BACKEND / "Dockerfile")
# The API function runs the image's CMD; each insight function names its own module.
API_HANDLER = DOCKERFILE.command[0]
INSIGHT_HANDLER = "insights.net_worth.handler"
BUCKET = "spendsense-entry-data"
KEY = "data/spendsense.db"
STATS_ID, NET_WORTH_ID, INSIGHT_ID = (str(uuid.uuid4()) for _ in range(3))
NET_WORTH = ("/api/insights/net-worth", "user_id=u-1")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    requirements = (BACKEND / "requirements.txt").read_text()
    sources = DOCKERFILE.code_sources(REPO)
    return build_image(
        requirements, sources, tmp_path_factory.mktemp("image"), runtime_directory(), DOCKERFILE
    )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, hand_database: Path) -> Iterator[dict]:
    """The function's environment as the stack sets it, on a moto server holding the object."""
    with moto_server() as aws_url:
        s3 = aws_client("s3", aws_url)
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        version = s3.put_object(Bucket=BUCKET, Key=KEY, Body=hand_database.read_bytes())
        yield {
            "SPENDSENSE_DB_BUCKET": BUCKET,
            "SPENDSENSE_DB_KEY": KEY,
            "SPENDSENSE_DB_VERSION": version["VersionId"],
            "AWS_ENDPOINT_URL_S3": aws_url,
            # The container's /tmp, where INIT downloads the object.
            "TMPDIR": str(tmp_path_factory.mktemp("container-tmp")),
        }


@pytest.fixture(scope="module")
def api_run(image: Image, deployed: dict, tmp_path_factory: pytest.TempPathFactory) -> Run:
    invocations = [
        (STATS_ID, http_api_v2_event("GET", "/api/stats")),
        (NET_WORTH_ID, http_api_v2_event("GET", NET_WORTH[0], query=NET_WORTH[1])),
    ]
    log_path = tmp_path_factory.mktemp("api") / "runtime.log"
    return run_runtime_client(
        image,
        invocations,
        len(invocations),
        log_path,
        API_HANDLER,
        settings=deployed,
        function_name="spendsense-dev-api",
    )


def logged(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.log.splitlines() if line.startswith("{")]


def test_the_api_function_answers_from_the_downloaded_database(api_run: Run) -> None:
    stats, net_worth = api_run.response_to(STATS_ID), api_run.response_to(NET_WORTH_ID)

    assert stats["statusCode"] == 200, api_run.log
    assert json.loads(stats["body"])["users"] == 3
    assert stats["headers"]["x-request-id"] == STATS_ID
    assert net_worth["statusCode"] == 200, api_run.log
    assert json.loads(net_worth["body"]) == NET_WORTH_OF_U1
    assert net_worth["headers"]["content-type"] == "application/json"
    assert net_worth["headers"]["x-request-id"] == NET_WORTH_ID
    assert api_run.exit_code is None, "the client should still be waiting for the next event"


def test_the_database_is_downloaded_once_at_init(api_run: Run) -> None:
    api_run.response_to(NET_WORTH_ID)

    loads = [line for line in logged(api_run) if line["message"] == "database loaded"]
    assert [(line["source"], line["bucket"], "requestId" in line) for line in loads] == [
        ("s3", BUCKET, False)
    ], api_run.log


def test_an_insight_function_answers_its_insight(
    image: Image, deployed: dict, tmp_path: Path
) -> None:
    event = http_api_v2_event("GET", NET_WORTH[0], query=NET_WORTH[1])

    run = run_runtime_client(
        image,
        [(INSIGHT_ID, event)],
        1,
        tmp_path / "runtime.log",
        INSIGHT_HANDLER,
        settings=deployed,
        function_name="spendsense-dev-net-worth",
    )

    answer = run.response_to(INSIGHT_ID)
    assert answer["statusCode"] == 200, run.log
    assert json.loads(answer["body"]) == NET_WORTH_OF_U1
    assert answer["headers"]["x-request-id"] == INSIGHT_ID
