"""`python -m smoke [--app spendsense [--user-id <id>]] --url <base url> | --stack <stack>
[--origin <origin>]`: one line per check.

The API key comes from the SMOKE_API_KEY environment variable, never from the command line
(where `ps` would show it). Exit status: 0 when every check passes or is skipped, 1 when one
fails, 2 when the test cannot run (bad arguments, no Pulumi CLI, a stack without outputs).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from smoke import spendsense
from smoke.checks import CHECKS, IrisRun, Outcome, Run, run_checks, unique_text
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
NAME_WIDTH = 17
SPENDSENSE_PROJECT = Path(__file__).resolve().parents[1] / "spendsense"
USER_ID = re.compile(r"[\x21-\x7e]{1,128}")


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
    if args.user_id is not None and args.app != "spendsense":
        report.error("--user-id (USER_ID for make) applies to --app spendsense only")
        return EXIT_USAGE
    try:
        target = _target(args, key, environ)
    except UsageError as error:
        report.error(str(error))
        return EXIT_USAGE

    client = Client(target.base_url, args.timeout)
    run: Run
    if args.app == "spendsense":
        user_id = args.user_id or spendsense.DEFAULT_USER_ID
        name, checks = "SpendSense", spendsense.CHECKS
        run = spendsense.SpendSenseRun(target, client, user_id)
        user = f" | user {user_id}"
    else:
        name, checks, run, user = "IRIS", CHECKS, IrisRun(target, client, unique_text()), ""
    report.line(
        f"{name} smoke test of {target.base_url} ({target.source}){user}"
        f" | origin {target.origin or 'none'}"
        f" | API key {'given' if key else 'not given'}"
        f" | timeout {args.timeout:g} s"
    )
    started = time.perf_counter()
    outcomes = []
    for outcome in run_checks(run, checks):
        report.outcome(outcome)
        outcomes.append(outcome)
    return report.summary(outcomes, (time.perf_counter() - started) * 1000)


def _target(args: argparse.Namespace, key: Secret | None, environ: Mapping[str, str]) -> Target:
    chosen_origin = origin(args.origin, source="ORIGIN") if args.origin else None
    if args.url is not None:
        return Target(base_url(args.url, source="URL"), chosen_origin, key, "URL")
    if args.app == "spendsense":
        # SpendSense's project is its own directory; its stack has no corsOrigins output.
        return stack_target(
            args.stack,
            chosen_origin,
            key,
            environ,
            project_dir=SPENDSENSE_PROJECT,
            origin_required=False,
        )
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


def _user_id(value: str) -> str:
    if not USER_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a user id: give 1-128 visible ASCII characters, e.g. "
            f"{spendsense.DEFAULT_USER_ID}"
        )
    return value


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m smoke",
        description=(
            "Check a running API end to end: for IRIS health, CORS preflight, analyze and its "
            "cache; for SpendSense health, stats, every insight and its errors; and the API "
            f"key (read from {API_KEY_VARIABLE}, never from arguments)."
        ),
    )
    parser.add_argument(
        "--app",
        choices=("iris", "spendsense"),
        default="iris",
        help="the API to check (default iris)",
    )
    parser.add_argument(
        "--user-id",
        type=_user_id,
        help=(
            "SpendSense: the user the insight checks ask about (default "
            f"{spendsense.DEFAULT_USER_ID}, a user of the sample database)"
        ),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of the API, e.g. http://127.0.0.1:8000")
    where.add_argument(
        "--stack",
        help="Pulumi stack whose apiUrl and first corsOrigins to use (needs pulumi)",
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
