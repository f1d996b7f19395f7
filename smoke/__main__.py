"""`python -m smoke --url <base url> | --stack <stack> [--origin <origin>]`: one line per check.

The API key comes from the SMOKE_API_KEY environment variable, never from the command line
(where `ps` would show it). Exit status: 0 when every check passes or is skipped, 1 when one
fails, 2 when the test cannot run (bad arguments, no Pulumi CLI, a stack without outputs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

from smoke.checks import Outcome, Run, run_checks, unique_text
from smoke.client import Client, Secret
from smoke.target import (
    API_KEY_VARIABLE,
    Target,
    UsageError,
    api_key,
    base_url,
    origin,
    stack_target,
)

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# Above API Gateway's 30 s integration limit, so a slow analysis shows the gateway's answer.
DEFAULT_TIMEOUT_S = 35.0
MAX_TIMEOUT_S = 300.0
NAME_WIDTH = 16


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    args = _parse_args(argv)
    try:
        key = api_key(environ)
    except UsageError as error:
        Report(out, err, None).error(str(error))
        return EXIT_USAGE
    report = Report(out, err, key)
    try:
        target = _target(args, key, environ)
    except UsageError as error:
        report.error(str(error))
        return EXIT_USAGE

    client = Client(target.base_url, args.timeout)
    report.line(
        f"IRIS smoke test of {target.base_url} ({target.source})"
        f" | origin {target.origin or 'none'}"
        f" | API key {'given' if key else 'not given'}"
        f" | timeout {args.timeout:g} s"
    )
    started = time.perf_counter()
    outcomes = []
    for outcome in run_checks(Run(target, client, unique_text())):
        report.outcome(outcome)
        outcomes.append(outcome)
    return report.summary(outcomes, (time.perf_counter() - started) * 1000)


def _target(args: argparse.Namespace, key: Secret | None, environ: Mapping[str, str]) -> Target:
    chosen_origin = origin(args.origin, source="ORIGIN") if args.origin else None
    if args.url is not None:
        return Target(base_url(args.url, source="URL"), chosen_origin, key, "URL")
    return stack_target(args.stack, chosen_origin, key, environ)


class Report:
    """Writes every line with the API key, should any text hold it, masked."""

    def __init__(self, out: TextIO, err: TextIO, key: Secret | None) -> None:
        self.out = out
        self.err = err
        self.key = key

    def line(self, text: str, stream: TextIO | None = None) -> None:
        if self.key is not None:
            text = text.replace(self.key.reveal(), "***")
        stream = stream or self.out
        stream.write(text + "\n")
        stream.flush()

    def error(self, text: str) -> None:
        self.line(f"smoke: error: {text}", self.err)

    def outcome(self, outcome: Outcome) -> None:
        self.line(
            f"{outcome.result}  {outcome.name:<{NAME_WIDTH}}"
            f" {outcome.elapsed_ms:7.0f} ms  {outcome.detail}"
        )

    def summary(self, outcomes: Sequence[Outcome], elapsed_ms: float) -> int:
        counts = {
            result: sum(1 for outcome in outcomes if outcome.result == result)
            for result in ("PASS", "FAIL", "SKIP")
        }
        failed = [outcome.name for outcome in outcomes if outcome.result == "FAIL"]
        verdict = f"FAILED ({', '.join(failed)})" if failed else "OK"
        self.line(
            f"smoke test {verdict}: {counts['PASS']} passed, {counts['FAIL']} failed,"
            f" {counts['SKIP']} skipped in {elapsed_ms:.0f} ms"
        )
        return EXIT_FAILED if failed else EXIT_PASSED


def _timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a timeout: give seconds, above 0 and at most {MAX_TIMEOUT_S:g}"
        )
    return seconds


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m smoke",
        description=(
            "Check a running IRIS API end to end: health, CORS preflight, analyze and its "
            f"cache, and the API key (read from {API_KEY_VARIABLE}, never from arguments)."
        ),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of the API, e.g. http://127.0.0.1:8000")
    where.add_argument(
        "--stack", help="Pulumi stack whose apiUrl and first corsOrigins to use (needs pulumi)"
    )
    parser.add_argument("--origin", help="origin of the CORS preflight; default: the stack's")
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
