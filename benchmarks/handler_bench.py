"""Cold start and warm latency of the Lambda handler, against Flask on its own.

Cold: fresh interpreters (after warm-ups that fill the OS and bytecode caches) that import
`lambda_handler` and answer GET /health through `handler` with an HTTP API event, versus fresh
interpreters that only import Flask and create an app. Time is measured inside each child
(perf_counter from its first line to the answer) and around it (the whole process).
Warm: per-request latency in one process, `handler` versus calling the Flask WSGI app directly.

Run with `make bench`; not part of the test suite.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "backend" / "src"), str(REPO)]

from tests.events import LambdaContext, http_api_v2_event  # noqa: E402

COLD_RUNS = 15
COLD_WARMUPS = 2
WARM_CALLS = 2_000
WARM_WARMUPS = 200
COLD_TARGET_RATIO = 1.3
HEAVY_MODULES = ("openai", "boto3", "botocore", "httpx", "httpx2", "pydantic")

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

FLASK_CHILD = """
import time
started = time.perf_counter()
import flask
app = flask.Flask(__name__)
elapsed = (time.perf_counter() - started) * 1000
import json
print(json.dumps({"ms": elapsed, "heavy": []}))
"""


def import_child(module: str) -> str:
    return f"""
import time
started = time.perf_counter()
import {module}
elapsed = (time.perf_counter() - started) * 1000
import json
print(json.dumps({{"ms": elapsed, "heavy": []}}))
"""


def child_environment() -> dict[str, str]:
    """This shell's environment without IRIS or OpenAI settings: the handler starts offline."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("IRIS_", "OPENAI_", "PYTHON"))
    }
    env["PYTHONPATH"] = str(REPO / "backend" / "src")
    return env


def run_child(code: str, stdin: str = "") -> tuple[float, float, list[str]]:
    """(in-process ms, whole-process ms, heavy modules imported) of one fresh interpreter."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=stdin,
        capture_output=True,
        text=True,
        env=child_environment(),
        cwd=REPO,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{result.stdout}{result.stderr}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["ms"], wall_ms, report["heavy"]


def cold_starts(children: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Median in-process and wall ms per child; the children run interleaved, round by round."""
    samples: dict[str, list[tuple[float, float, list[str]]]] = {name: [] for name in children}
    for round_number in range(COLD_WARMUPS + COLD_RUNS):
        for name, (code, stdin) in children.items():
            sample = run_child(code, stdin)
            if round_number >= COLD_WARMUPS:
                samples[name].append(sample)
    return {
        name: {
            "ms": statistics.median(inner for inner, _, _ in runs),
            "wall_ms": statistics.median(wall for _, wall, _ in runs),
            "heavy": sorted({module for _, _, heavy in runs for module in heavy}),
        }
        for name, runs in samples.items()
    }


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


def main() -> int:
    health_event = json.dumps(http_api_v2_event("GET", "/health"))
    cold = cold_starts(
        {
            "handler": (HANDLER_CHILD, health_event),
            "flask": (FLASK_CHILD, ""),
            "openai": (import_child("openai"), ""),
            "boto3": (import_child("boto3"), ""),
        }
    )
    warm = warm_latency()

    ratio = cold["handler"]["ms"] / cold["flask"]["ms"]
    wall_ratio = cold["handler"]["wall_ms"] / cold["flask"]["wall_ms"]
    heavy = cold["handler"]["heavy"]
    verdict = "ok" if ratio <= COLD_TARGET_RATIO else "over target"
    rows = [
        ("lambda_handler import + GET /health", cold["handler"]),
        ("import flask + Flask(__name__)", cold["flask"]),
        ("import openai (context)", cold["openai"]),
        ("import boto3 (context)", cold["boto3"]),
    ]
    print(f"IRIS handler benchmark - Python {platform.python_version()} on {platform.machine()}")
    print()
    print(f"Cold start: median of {COLD_RUNS} fresh processes each, after {COLD_WARMUPS} warm-ups")
    print(f"  {'':40} {'in-process':>11} {'whole process':>14}")
    for label, figures in rows:
        print(f"  {label:40} {figures['ms']:8.1f} ms {figures['wall_ms']:11.1f} ms")
    print(
        f"  {'ratio handler / flask':40} {ratio:8.2f}x {wall_ratio:11.2f}x"
        f"   (target <= {COLD_TARGET_RATIO}: {verdict})"
    )
    print(f"  SDKs imported on the /health path ({', '.join(HEAVY_MODULES)}): {heavy or 'none'}")
    print()
    print(f"Warm: median of {WARM_CALLS} calls in one process, after {WARM_WARMUPS} warm-ups")
    print(f"  {'handler(v2 GET /health)':40} {warm['handler']:8.1f} us")
    print(f"  {'Flask WSGI app called directly':40} {warm['wsgi']:8.1f} us")
    print(f"  {'overhead of Mangum + a2wsgi':40} {warm['handler'] - warm['wsgi']:8.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
