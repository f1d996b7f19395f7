"""Fresh interpreters for the cold-start benchmarks (handler_bench, spendsense_bench): each child
runs one snippet and prints one JSON line last, its figures in milliseconds; children run
interleaved, round by round, and every figure is the median of its runs. Lambda gives an
invocation memory/1769 MB of a vCPU and INIT a CPU burst: `modelled_ms` says what a user of a
function of a given size waits for."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BACKEND_SRC = REPO / "backend" / "src"
COLD_RUNS = 15
COLD_WARMUPS = 2
# Lambda gives an invocation memory/1769 MB of a vCPU; INIT runs with a burst.
FULL_VCPU_MB = 1769
MODELLED_MEMORY_MB = 1024

FLASK_CHILD = """
import time
started = time.perf_counter()
import flask
app = flask.Flask(__name__)
elapsed = (time.perf_counter() - started) * 1000
import json
print(json.dumps({"ms": elapsed, "heavy": []}))
"""


@contextlib.contextmanager
def image_models(dockerfile: Path) -> Iterator[dict[str, str]]:
    """The cut-down botocore models the image at `dockerfile` writes (lambda_kit.aws_models,
    from this interpreter's botocore), as the setting the image gives its functions."""
    from lambda_kit import aws_models
    from tests.backend.dockerfile import read_dockerfile

    with tempfile.TemporaryDirectory(prefix="aws-models-") as directory:
        aws_models.write(Path(directory), read_dockerfile(dockerfile).aws_calls)
        yield {"AWS_DATA_PATH": directory}


def import_child(module: str) -> str:
    return f"""
import time
started = time.perf_counter()
import {module}
elapsed = (time.perf_counter() - started) * 1000
import json
print(json.dumps({{"ms": elapsed, "heavy": []}}))
"""


def child_environment(src: Path = BACKEND_SRC, **settings: str) -> dict[str, str]:
    """This shell's environment without IRIS, OpenAI, SpendSense or AWS endpoint settings, plus
    `settings`: without them the IRIS handler starts offline."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("IRIS_", "OPENAI_", "SPENDSENSE_", "DB_PATH", "PYTHON", "AWS_ENDPOINT_URL")
        )
    }
    # The task root, then the handler kit the image copies beside it (a backend of its own time
    # given with --src may hold its kit inside, which then comes first).
    return {**env, "PYTHONPATH": os.pathsep.join([str(src), str(REPO)]), **settings}


def run_child(
    code: str, stdin: str = "", env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> tuple[dict[str, Any], float]:
    """(the child's report, whole-process ms) of one fresh interpreter."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or child_environment(),
        cwd=REPO,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1]), wall_ms


# (code, stdin, environment or None for the default, command-line arguments)
Child = tuple[str, str, dict[str, str] | None, tuple[str, ...]]


def cold_starts(
    children: dict[str, Child], runs: int = COLD_RUNS, warmups: int = COLD_WARMUPS
) -> dict[str, dict[str, Any]]:
    """Median of every figure each child reports, and of its wall ms; the children run
    interleaved, round by round, so a busy moment weighs on all of them alike."""
    samples: dict[str, list[tuple[dict[str, Any], float]]] = {name: [] for name in children}
    for round_number in range(warmups + runs):
        for name, (code, stdin, env, args) in children.items():
            sample = run_child(code, stdin, env, args)
            if round_number >= warmups:
                samples[name].append(sample)
    medians = {}
    for name, runs in samples.items():
        figures = {
            key: statistics.median(report[key] for report, _ in runs)
            for key, value in runs[0][0].items()
            if isinstance(value, float | int)
        }
        figures["wall_ms"] = statistics.median(wall for _, wall in runs)
        figures["heavy"] = sorted({m for report, _ in runs for m in report.get("heavy", [])})
        figures["reports"] = [report for report, _ in runs]
        medians[name] = figures
    return medians


def paired_difference(
    these: list[dict[str, Any]],
    those: list[dict[str, Any]],
    figure: Callable[[dict[str, Any]], float],
) -> tuple[float, float]:
    """(mean, standard error) of `figure` of these minus those, round by round: one fresh
    process varies by tens of milliseconds, so a change smaller than that shows in the pairs
    of one run before it shows in two medians."""
    differences = [figure(this) - figure(that) for this, that in zip(these, those, strict=True)]
    if len(differences) < 2:
        return statistics.fmean(differences), float("nan")
    return statistics.fmean(differences), statistics.stdev(differences) / len(differences) ** 0.5


@contextlib.contextmanager
def quiet_servers() -> Iterator[None]:
    """Keeps the loopback servers' request lines off the report: moto's server and the LLM's
    are both werkzeug servers, which log every request at INFO on stderr (werkzeug adds its
    own handler when nothing else handles its logger). Warnings and errors still show."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def cpu_factor(memory_mb: int) -> float:
    """How much slower than here an invocation runs: it gets memory/1769 of a vCPU, and one
    thread never more than one."""
    return max(1.0, FULL_VCPU_MB / memory_mb)


def modelled_ms(figures: dict[str, Any], memory_mb: int = MODELLED_MEMORY_MB) -> float:
    """INIT (with its CPU burst) plus the first request at the function's share of a vCPU."""
    return figures["init_ms"] + figures["first_ms"] * cpu_factor(memory_mb)
