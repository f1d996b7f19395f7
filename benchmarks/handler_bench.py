"""Cold start and warm latency of the Lambda handler, against Flask on its own.

Cold /health: fresh interpreters (after warm-ups that fill the OS and bytecode caches) that
import `lambda_handler` and answer GET /health through `handler` with an HTTP API event, versus
fresh interpreters that only import Flask and create an app. Time is measured inside each child
(perf_counter from its first line to the answer) and around it (the whole process).

Cold analyze, in the deployed shape: the OpenAI key in an SSM SecureString and the cache in
DynamoDB (moto in server mode on loopback, reached through AWS_ENDPOINT_URL_SSM/_DYNAMODB), the
LLM an OpenAI-compatible server on loopback. Each fresh interpreter reports INIT (the import of
`lambda_handler`, which Lambda runs with a CPU burst) and its first and second analyze (two new
texts: a cache miss and an LLM call each), with the stacks' default daily token budget, so
each call reserves its tokens in the table and settles them. What a user of a 1024 MB function
waits for is modelled as INIT + first x 1769/1024: an invocation gets memory/1769 MB of a vCPU.
This checkout's children read botocore's cut-down models as its image does (AWS_DATA_PATH, written
by lambda_kit.aws_models from the Dockerfile's list), and again with botocore's full models.
With `--baseline-src DIR` (repeatable), other checkouts' backend/src are measured in the same
rounds, cold /health and cold analyze alike, as they ran (full models). Beside the medians, each
comparison prints the round-by-round difference (mean +/- standard error): one fresh process varies
by tens of milliseconds, and pairs taken in the same round see a smaller change than two medians.

SpendSense cold start (benchmarks.spendsense_bench), in the deployed shape: the sample database
one object version in S3 (moto in server mode on loopback, reached through AWS_ENDPOINT_URL_S3),
downloaded at INIT, on the image's cut-down botocore models. Each fresh interpreter reports INIT
(the import of the function's entry point) and its first and second weekly-recap request, for
the single API function (`handler`, 2048 MB) and one insight function (`insights.weekly_recap`,
1024 MB), modelled as INIT + first x max(1, 1769/memory) (a single thread uses one vCPU at
most), against a fresh `import fastapi; fastapi.FastAPI()` (and Flask), and against the baseline
of that plus a boto3 S3 client.

Warm: per-request latency in one process, `handler` versus calling the Flask WSGI app directly.

Run with `make bench` (`--only spendsense` or `--only iris` for one program), or
`python -m benchmarks.handler_bench` from the repository root; not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.children import (
    BACKEND_SRC,
    COLD_RUNS,
    COLD_WARMUPS,
    FLASK_CHILD,
    MODELLED_MEMORY_MB,
    REPO,
    Child,
    child_environment,
    cold_starts,
    image_models,
    import_child,
    modelled_ms,
    paired_difference,
    quiet_servers,
)
from benchmarks.spendsense_bench import report_spendsense, spendsense_children, spendsense_shape

# The warm figures import IRIS's `lambda_handler` in this process: its task root goes on the path
# as the image lays it out (a local emulation of a Lambda task root). The handler kit and the
# tests' helpers are found from the repository root, where this runs as a module
# (`python -m benchmarks.handler_bench`, as make bench runs it).
sys.path.insert(0, str(BACKEND_SRC))

from pytest_httpserver import HTTPServer  # noqa: E402

from tests.backend.loopback import (  # noqa: E402
    create_deployed_resources,
    moto_server,
)
from tests.backend.openai_stub import OPENAI_KEY, OpenAIStub  # noqa: E402
from tests.events import LambdaContext, http_api_v2_event  # noqa: E402

WARM_CALLS = 2_000
WARM_WARMUPS = 200
COLD_TARGET_RATIO = 1.3
ANALYZE_TARGET_RATIO = 3.0
HEAVY_MODULES = ("openai", "boto3", "botocore", "httpx", "httpx2", "pydantic")
KEY_PARAMETER = "/iris/bench/openai-api-key"
CACHE_TABLE = "iris-bench-analysis-cache"
# The stacks' default llmDailyTokenBudget: deployed, every uncached analyze is metered.
DAILY_TOKEN_BUDGET = 1_000_000

# Each child prints one JSON line last: milliseconds from its first line to the answer.
HANDLER_CHILD = f"""
import time
started = time.perf_counter()
import json, sys
event = json.loads(sys.stdin.read())
import lambda_handler

class Context:
    function_name = "iris-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:iris-bench"

answer = lambda_handler.handler(event, Context())
elapsed = (time.perf_counter() - started) * 1000
assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {{"status": "ok"}}, answer
heavy = sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules)
print(json.dumps({{"ms": elapsed, "heavy": heavy}}))
"""

# INIT, then two analyses of texts no earlier child asked (cache misses, LLM calls).
ANALYZE_CHILD = """
import time
started = time.perf_counter()
import json, sys, uuid
import lambda_handler
init_ms = (time.perf_counter() - started) * 1000

class Context:
    function_name = "iris-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:iris-bench"
    def get_remaining_time_in_millis(self):
        return 29_000

def analyze(text):
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/api/iris/analyze",
        "rawQueryString": "", "headers": {"content-type": "application/json"},
        "body": json.dumps({"text": text}), "isBase64Encoded": False,
        "requestContext": {"http": {"method": "POST", "path": "/api/iris/analyze",
            "sourceIp": "127.0.0.1", "protocol": "HTTP/1.1", "userAgent": "bench"},
            "requestId": "bench", "stage": "$default"},
    }
    begun = time.perf_counter()
    answer = lambda_handler.handler(event, Context())
    elapsed = (time.perf_counter() - begun) * 1000
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 200 and body["cached"] is False, answer
    return elapsed

run = uuid.uuid4().hex
first_ms = analyze(f"First text of run {run}.")
second_ms = analyze(f"Second text of run {run}.")
print(json.dumps({"init_ms": init_ms, "first_ms": first_ms, "second_ms": second_ms}))
"""


@contextlib.contextmanager
def deployed_shape() -> Iterator[dict[str, str]]:
    """SSM and DynamoDB (moto) and an OpenAI-compatible API on loopback, logging nothing;
    yields the settings a deployed function would have, pointed at them."""
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update(credentials)
    llm = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    llm.start()
    try:
        stub = OpenAIStub(base_url=llm.url_for("/v1"))
        llm.expect_request("/v1/chat/completions", method="POST").respond_with_handler(stub.handle)
        with quiet_servers(), moto_server() as aws_url:
            create_deployed_resources(
                aws_url, table=CACHE_TABLE, parameter=KEY_PARAMETER, key=OPENAI_KEY
            )
            yield {
                **credentials,
                "AWS_REGION": "eu-west-1",
                "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_ENDPOINT_URL_SSM": aws_url,
                "AWS_ENDPOINT_URL_DYNAMODB": aws_url,
                "IRIS_LLM_PROVIDER": "openai",
                "OPENAI_API_KEY_PARAM": KEY_PARAMETER,
                "OPENAI_BASE_URL": stub.base_url,
                "OPENAI_MODEL": stub.model_alias,
                "IRIS_CACHE_TABLE": CACHE_TABLE,
                "IRIS_LLM_DAILY_TOKEN_BUDGET": str(DAILY_TOKEN_BUDGET),
            }
    finally:
        llm.clear()
        llm.stop()


def median_us(call: Callable[[], object]) -> float:
    for _ in range(WARM_WARMUPS):
        call()
    timings = []
    for _ in range(WARM_CALLS):
        started = time.perf_counter_ns()
        call()
        timings.append(time.perf_counter_ns() - started)
    return statistics.median(timings) / 1000


def warm_latency() -> dict[str, float]:
    for name in [name for name in os.environ if name.startswith(("IRIS_", "OPENAI_"))]:
        del os.environ[name]
    from werkzeug.test import EnvironBuilder

    import lambda_handler
    from server import app

    event = http_api_v2_event("GET", "/health")
    context = LambdaContext()
    environ = EnvironBuilder(path="/health", method="GET").get_environ()

    def through_handler() -> None:
        answer = lambda_handler.handler(event, context)
        assert answer["statusCode"] == 200

    def through_wsgi() -> None:
        statuses: list[str] = []
        body = b"".join(app(dict(environ), lambda status, headers: statuses.append(status)))
        assert statuses == ["200 OK"] and body

    # The app logs each request as a JSON line on stdout; keep them off the report.
    with contextlib.redirect_stdout(io.StringIO()):
        return {"handler": median_us(through_handler), "wsgi": median_us(through_wsgi)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline-src",
        type=Path,
        action="append",
        default=[],
        help="another checkout's backend/src, measured in the same rounds (before vs after); "
        "may be given more than once",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=COLD_RUNS,
        help=f"fresh processes per child (default {COLD_RUNS})",
    )
    parser.add_argument(
        "--warmups",
        type=int,
        default=COLD_WARMUPS,
        help=f"rounds run first and not counted (default {COLD_WARMUPS})",
    )
    parser.add_argument(
        "--only", choices=("iris", "spendsense"), help="measure one program (default both)"
    )
    parser.add_argument(
        "--daily-token-budget",
        type=int,
        default=DAILY_TOKEN_BUDGET,
        help=f"IRIS_LLM_DAILY_TOKEN_BUDGET of the cold analyze (default {DAILY_TOKEN_BUDGET:,}, "
        "the stacks' default; 0: no budget, nothing metered)",
    )
    args = parser.parse_args(argv)

    print(f"Handler benchmark - Python {platform.python_version()} on {platform.machine()}")
    print()
    print(
        f"Cold start: median of {args.runs} fresh processes each, after {args.warmups} "
        "warm-up rounds"
    )
    if args.only != "spendsense":
        report_iris(args)
    if args.only != "iris":
        dockerfile = REPO / "spendsense" / "backend" / "Dockerfile"
        with spendsense_shape() as settings, image_models(dockerfile) as models:
            children = spendsense_children({**settings, **models})
            children["flask"] = (FLASK_CHILD, "", None, ())
            cold = cold_starts(children, args.runs, args.warmups)
        report_spendsense(cold)
    return 0


def _health_ms(report: dict[str, Any]) -> float:
    return report["ms"]


def report_iris(args: argparse.Namespace) -> None:
    health_event = json.dumps(http_api_v2_event("GET", "/health"))
    with deployed_shape() as deployed, image_models(REPO / "backend" / "Dockerfile") as models:
        settings = {**deployed, "IRIS_LLM_DAILY_TOKEN_BUDGET": str(args.daily_token_budget)}
        children: dict[str, Child] = {
            "handler": (HANDLER_CHILD, health_event, None, ()),
            "flask": (FLASK_CHILD, "", None, ()),
            "analyze": (ANALYZE_CHILD, "", child_environment(**settings, **models), ()),
            "analyze_full_models": (ANALYZE_CHILD, "", child_environment(**settings), ()),
            "boto3": (import_child("boto3"), "", None, ()),
            "urllib3": (import_child("urllib3"), "", None, ()),
        }
        for number, src in enumerate(args.baseline_src):
            src = src.resolve()
            children[f"baseline{number}_health"] = (
                HANDLER_CHILD,
                health_event,
                child_environment(src),
                (),
            )
            children[f"baseline{number}"] = (
                ANALYZE_CHILD,
                "",
                child_environment(src, **settings),
                (),
            )
        cold = cold_starts(children, args.runs, args.warmups)
    warm = warm_latency()

    flask_ms = cold["flask"]["ms"]
    heavy = cold["handler"]["heavy"]
    rows = [
        ("lambda_handler import + GET /health", cold["handler"]),
        ("import flask + Flask(__name__)", cold["flask"]),
        ("import boto3 (context)", cold["boto3"]),
        ("import urllib3 (context)", cold["urllib3"]),
    ]
    print()
    print("IRIS cold /health")
    print(f"  {'':40} {'in-process':>11} {'whole process':>14}")
    for label, figures in rows:
        print(f"  {label:40} {figures['ms']:8.1f} ms {figures['wall_ms']:11.1f} ms")
    handlers = [("this checkout", cold["handler"])]
    handlers += [
        (f"baseline {src}", cold[f"baseline{number}_health"])
        for number, src in enumerate(args.baseline_src)
    ]
    for label, figures in handlers:
        ratio = figures["ms"] / flask_ms
        wall_ratio = figures["wall_ms"] / cold["flask"]["wall_ms"]
        verdict = "ok" if ratio <= COLD_TARGET_RATIO else "over target"
        print(f"  ratio handler / flask, {label}")
        print(
            f"  {'':40} {ratio:8.2f}x {wall_ratio:11.2f}x"
            f"   (target <= {COLD_TARGET_RATIO}: {verdict})"
        )
    for number, src in enumerate(args.baseline_src):
        mean, error = paired_difference(
            cold["handler"]["reports"], cold[f"baseline{number}_health"]["reports"], _health_ms
        )
        print(f"  this checkout - baseline {src}, round by round: {mean:+.1f} +/- {error:.1f} ms")
    print(f"  SDKs imported on the /health path ({', '.join(HEAVY_MODULES)}): {heavy or 'none'}")
    print()
    print(
        "IRIS cold analyze, deployed shape (key in SSM, DynamoDB cache and a daily token budget "
        f"of {args.daily_token_budget:,}: moto on loopback; LLM on loopback)"
    )
    measured = [
        ("this checkout, as its image runs (cut-down botocore models)", cold["analyze"]),
        ("this checkout with botocore's full models", cold["analyze_full_models"]),
    ]
    measured += [
        (f"baseline {src}", cold[f"baseline{number}"])
        for number, src in enumerate(args.baseline_src)
    ]
    for label, figures in measured:
        modelled = modelled_ms(figures)
        modelled_ratio = modelled / flask_ms
        verdict = "ok" if modelled_ratio <= ANALYZE_TARGET_RATIO else "over target"
        print(f"  {label}")
        print(f"    {'INIT (import lambda_handler)':50} {figures['init_ms']:8.1f} ms")
        print(f"    {'first analyze':50} {figures['first_ms']:8.1f} ms")
        print(f"    {'second analyze':50} {figures['second_ms']:8.1f} ms")
        print(
            f"    {f'modelled at {MODELLED_MEMORY_MB} MB: INIT + first x 1769/1024':50} "
            f"{modelled:8.1f} ms"
        )
        print(
            f"    {'ratio to import flask + Flask(__name__)':50} {modelled_ratio:8.2f}x"
            f"   (target <= {ANALYZE_TARGET_RATIO:g}: {verdict})"
        )
        if figures is not cold["analyze"]:
            mean, error = paired_difference(
                cold["analyze"]["reports"], figures["reports"], modelled_ms
            )
            print(
                f"    {'this checkout as its image runs - this, round by round':50} "
                f"{mean:+8.1f} ms +/- {error:.1f} (modelled)"
            )
    print()
    print(f"IRIS warm: median of {WARM_CALLS} calls in one process, after {WARM_WARMUPS} warm-ups")
    print(f"  {'handler(v2 GET /health)':40} {warm['handler']:8.1f} us")
    print(f"  {'Flask WSGI app called directly':40} {warm['wsgi']:8.1f} us")
    print(f"  {'overhead of Mangum + a2wsgi':40} {warm['handler'] - warm['wsgi']:8.1f} us")


if __name__ == "__main__":
    raise SystemExit(main())
