"""SpendSense's cold start, in the deployed shape: the sample database one object version in S3
(moto in server mode on loopback, reached through AWS_ENDPOINT_URL_S3), downloaded at INIT.
Each fresh interpreter reports INIT (the import of the function's entry point) and its first
and second weekly-recap request, for the single API function (`handler`, 2048 MB) and one
insight function (`insights.weekly_recap`, 1024 MB), against a fresh
`import fastapi; fastapi.FastAPI()` (and Flask), and against the baseline of that plus a boto3
S3 client. Part of `make bench` (benchmarks.handler_bench)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.children import (
    REPO,
    Child,
    child_environment,
    cpu_factor,
    modelled_ms,
    quiet_servers,
)
from tests.backend.loopback import REGION, aws_client, moto_server
from tests.events import http_api_v2_event

SPENDSENSE_SRC = REPO / "spendsense" / "backend" / "src"
MAKE_DB = REPO / "spendsense" / "scripts" / "make_db.py"
# The stack's default memory sizes, and the targets of its cold start.
API_MEMORY_MB = 2048
INSIGHT_MEMORY_MB = 1024
SPENDSENSE_TARGET_RATIO = 1.3
INSIGHT_TARGET_RATIO = 0.6
SPENDSENSE_BUCKET = "spendsense-bench-data"
SPENDSENSE_OBJECT = "spendsense.db"
SPENDSENSE_USER = "u-001"
INSIGHT_PATH = "/api/insights/weekly-recap"
INSIGHT_HEAVY_MODULES = ("fastapi", "starlette", "pydantic", "api.main")

# INIT (the entry point's import: the database download), then two weekly-recap requests.
SPENDSENSE_CHILD = """
import time
started = time.perf_counter()
import importlib, json, sys
entry = importlib.import_module(sys.argv[1])
init_ms = (time.perf_counter() - started) * 1000
event = json.loads(sys.stdin.read())

class Context:
    function_name = "spendsense-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:spendsense-bench"
    def get_remaining_time_in_millis(self):
        return 29_000

def weekly_recap():
    begun = time.perf_counter()
    answer = entry.handler(event, Context())
    elapsed = (time.perf_counter() - begun) * 1000
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 200 and "spentCents" in body, answer
    return elapsed

first_ms = weekly_recap()
second_ms = weekly_recap()
heavy = sorted(name for name in sys.argv[2:] if name in sys.modules)
print(json.dumps({"init_ms": init_ms, "first_ms": first_ms, "second_ms": second_ms,
                  "heavy": heavy}))
"""

FASTAPI_CHILD = """
import time
started = time.perf_counter()
import fastapi
app = fastapi.FastAPI()
elapsed = (time.perf_counter() - started) * 1000
import json
print(json.dumps({"ms": elapsed, "heavy": []}))
"""

# What any FastAPI function that reads its data from S3 pays before its first request.
FASTAPI_S3_CHILD = """
import time
started = time.perf_counter()
import fastapi
app = fastapi.FastAPI()
import boto3
s3 = boto3.session.Session().client("s3")
elapsed = (time.perf_counter() - started) * 1000
import json
print(json.dumps({"ms": elapsed, "heavy": []}))
"""


@contextlib.contextmanager
def spendsense_shape() -> Iterator[dict[str, str]]:
    """The sample database as one object version in a versioned bucket of moto's S3 on
    loopback; yields the settings a deployed SpendSense function would have, pointed at it
    (and a TMPDIR of its own for the downloaded copies)."""
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update(credentials)
    with tempfile.TemporaryDirectory(prefix="spendsense-bench-") as scratch:
        database = Path(scratch) / SPENDSENSE_OBJECT
        subprocess.run(
            [sys.executable, str(MAKE_DB), "--out", str(database)],
            check=True,
            capture_output=True,
        )
        downloads = Path(scratch) / "tmp"
        downloads.mkdir()
        with quiet_servers(), moto_server() as aws_url:
            s3 = aws_client("s3", aws_url)
            s3.create_bucket(
                Bucket=SPENDSENSE_BUCKET,
                CreateBucketConfiguration={"LocationConstraint": REGION},
            )
            s3.put_bucket_versioning(
                Bucket=SPENDSENSE_BUCKET, VersioningConfiguration={"Status": "Enabled"}
            )
            version = s3.put_object(
                Bucket=SPENDSENSE_BUCKET, Key=SPENDSENSE_OBJECT, Body=database.read_bytes()
            )["VersionId"]
            yield {
                **credentials,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL_S3": aws_url,
                "SPENDSENSE_DB_BUCKET": SPENDSENSE_BUCKET,
                "SPENDSENSE_DB_KEY": SPENDSENSE_OBJECT,
                "SPENDSENSE_DB_VERSION": version,
                "TMPDIR": str(downloads),
            }


def spendsense_environment(settings: dict[str, str]) -> dict[str, str]:
    """The image's task root holds SpendSense's src and the handler kit (lambda_kit/)."""
    env = child_environment(**settings)
    return {**env, "PYTHONPATH": os.pathsep.join([str(SPENDSENSE_SRC), str(REPO)])}


def spendsense_children(settings: dict[str, str]) -> dict[str, Child]:
    event = json.dumps(
        http_api_v2_event(
            "GET",
            INSIGHT_PATH,
            query=f"user_id={SPENDSENSE_USER}",
            route_key=f"GET {INSIGHT_PATH}",
        )
    )
    env = spendsense_environment(settings)
    without_models = {name: value for name, value in settings.items() if name != "AWS_DATA_PATH"}
    return {
        "spendsense_api": (SPENDSENSE_CHILD, event, env, ("handler", *INSIGHT_HEAVY_MODULES)),
        "spendsense_insight": (
            SPENDSENSE_CHILD,
            event,
            env,
            ("insights.weekly_recap", *INSIGHT_HEAVY_MODULES),
        ),
        "fastapi": (FASTAPI_CHILD, "", None, ()),
        # A plain FastAPI app's S3 client, on botocore's full models.
        "fastapi_s3": (FASTAPI_S3_CHILD, "", child_environment(**without_models), ()),
    }


def report_spendsense(cold: dict[str, dict[str, Any]]) -> None:
    fastapi_ms, flask_ms = cold["fastapi"]["ms"], cold["flask"]["ms"]
    baseline_ms = cold["fastapi_s3"]["ms"]
    api_ms = modelled_ms(cold["spendsense_api"], API_MEMORY_MB)
    print()
    print(
        "SpendSense cold weekly-recap, deployed shape (the sample database, one S3 object "
        "version: moto on loopback)"
    )
    print(f"  {'import fastapi + FastAPI()':54} {fastapi_ms:8.1f} ms")
    print(f"  {'import flask + Flask(__name__)':54} {flask_ms:8.1f} ms")
    print(f"  {'baseline: import fastapi + FastAPI() + boto3 S3 client':54} {baseline_ms:8.1f} ms")
    functions = [
        ("API function (handler)", "spendsense_api", API_MEMORY_MB),
        ("insight function (insights.weekly_recap)", "spendsense_insight", INSIGHT_MEMORY_MB),
    ]
    for label, name, memory_mb in functions:
        figures = cold[name]
        modelled = modelled_ms(figures, memory_mb)
        factor = cpu_factor(memory_mb)
        print(f"  {label}, {memory_mb} MB")
        print(f"    {'INIT (import, database download)':52} {figures['init_ms']:8.1f} ms")
        print(f"    {'first weekly-recap':52} {figures['first_ms']:8.1f} ms")
        print(f"    {'second weekly-recap':52} {figures['second_ms']:8.1f} ms")
        print(f"    {f'modelled: INIT + first x {factor:.2f}':52} {modelled:8.1f} ms")
        print(f"    {'ratio to import fastapi + FastAPI()':52} {modelled / fastapi_ms:8.2f}x")
        print(f"    {'ratio to import flask + Flask(__name__)':52} {modelled / flask_ms:8.2f}x")
        if name == "spendsense_api":
            ratio, target, of = modelled / baseline_ms, SPENDSENSE_TARGET_RATIO, "the baseline"
        else:
            ratio, target, of = modelled / api_ms, INSIGHT_TARGET_RATIO, "the API function"
        verdict = "ok" if ratio <= target else "over target"
        print(f"    {f'ratio to {of}':52} {ratio:8.2f}x   (target <= {target:g}: {verdict})")
        loaded = ", ".join(figures["heavy"]) or "none"
        print(f"    FastAPI modules loaded ({', '.join(INSIGHT_HEAVY_MODULES)}): {loaded}")
