"""What each hostile stack file costs `make check`: the wall time and peak memory of a fresh
`python -m stack_check --stack <it>`, beside a good stack file (planned: the program runs under
the mocks), and the time and peak of allocations of reading the
file alone in this process (stack_check.files.read_document; its peak under tracemalloc).

Each run gets an address-space limit (--memory-mb) and a time limit (--timeout), so a reader
that expands an alias bomb stops there instead of taking the machine; such a run shows
`killed`. Not part of the test suite:

    .venv/bin/python -m benchmarks.stack_files_bench [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

from stack_check.files import StackFileError, read_document
from tests.infra.hostile_stack_files import GOOD, HOSTILE, project, run_check


def read_alone(path: Path) -> tuple[float, float]:
    """(seconds, peak traced MB) of reading `path` as the check does, in this process: timed
    on its own, as tracemalloc slows every allocation down."""

    def read() -> None:
        try:
            read_document(path)
        except StackFileError:
            pass

    start = time.perf_counter()
    read()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    read()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(HOSTILE), default=None)
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    cases = {"good": GOOD.encode(), **{name: hostile.content for name, hostile in HOSTILE.items()}}
    names = args.only or list(cases)
    print(
        f"{'stack file':<21} {'bytes':>9}  {'check s':>7} {'peak RSS MB':>11}  "
        f"{'read s':>6} {'read peak MB':>12}  last stderr line"
    )
    for name in names:
        with tempfile.TemporaryDirectory() as directory:
            project_dir = project(Path(directory), {name: cases[name]})
            try:
                run = run_check(
                    project_dir,
                    "--stack",
                    name,
                    timeout=args.timeout,
                    memory_mb=args.memory_mb,
                )
            except subprocess.TimeoutExpired:
                check, last = f"{'killed':>7} {'':>11}", f"still running after {args.timeout:g} s"
            else:
                check = f"{run.seconds:>7.2f} {run.peak_mb:>11.0f}"
                last = (run.stderr.strip().splitlines() or [""])[-1][:80]
            seconds, peak = read_alone(project_dir / f"Pulumi.{name}.yaml")
        print(f"{name:<21} {len(cases[name]):>9,}  {check}  {seconds:>6.3f} {peak:>12.2f}  {last}")


if __name__ == "__main__":
    main()
