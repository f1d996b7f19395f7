"""Running the smoke test in-process, reading its lines, and a stand-in `pulumi` executable."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from smoke import spendsense
from smoke.__main__ import main
from smoke.checks import CHECKS

CHECK_NAMES = tuple(name for name, _ in CHECKS)
SPENDSENSE_CHECK_NAMES = tuple(name for name, _ in spendsense.CHECKS)
ALLOWED_ORIGIN = "http://localhost:5173"
LINE = re.compile(r"^(PASS|FAIL|SKIP)  (.+?) +(\d+) ms  (.*)$")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def results(self) -> dict[str, str]:
        """Check name -> PASS/FAIL/SKIP, from the check lines."""
        return {match[2]: match[1] for match in map(LINE.match, self.out.splitlines()) if match}

    @property
    def failed(self) -> set[str]:
        return {name for name, result in self.results.items() if result == "FAIL"}

    def detail(self, name: str) -> str:
        for match in map(LINE.match, self.out.splitlines()):
            if match and match[2] == name:
                return match[4]
        raise AssertionError(f"no line for {name!r} in:\n{self.out}")

    @property
    def text(self) -> str:
        return self.out + self.err


def run_smoke(
    *argv: str, key: str | None = None, environ: Mapping[str, str] | None = None
) -> Result:
    """`python -m smoke <argv>` in this process, with SMOKE_API_KEY=key when given."""
    env = dict(os.environ if environ is None else environ)
    env.pop("SMOKE_API_KEY", None)
    if key is not None:
        env["SMOKE_API_KEY"] = key
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(list(argv), env, out, err)
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def write_pulumi(
    bin_dir: Path,
    *,
    stack: str = "dev",
    outputs: object = None,
    stdout: str | None = None,
    exit_code: int = 0,
) -> Path:
    """A `pulumi` that answers `stack output --json --stack <stack>` with `outputs` (or the raw
    `stdout`), says "no stack named" for any other stack, and records each call's arguments and
    working directory."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "pulumi"
    printed = stdout if stdout is not None else json.dumps(outputs, indent=4)
    expected = f"stack output --json --stack {stack}"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {shlex.quote(str(bin_dir / "calls"))}\n'
        f'printf "%s\\n" "$PWD" >> {shlex.quote(str(bin_dir / "directories"))}\n'
        f'if [ "$*" != {shlex.quote(expected)} ]; then\n'
        "  echo \"error: no stack named '$5' found\" >&2\n"
        "  exit 255\n"
        "fi\n"
        f"printf '%s\\n' {shlex.quote(printed)}\n"
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def pulumi_calls(bin_dir: Path) -> list[str]:
    calls = bin_dir / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def pulumi_directories(bin_dir: Path) -> list[str]:
    """The working directory of each call: the Pulumi project it read."""
    directories = bin_dir / "directories"
    return directories.read_text().splitlines() if directories.exists() else []


def path_with(bin_dir: Path, rest: Sequence[str] = ()) -> str:
    return os.pathsep.join([str(bin_dir), *rest])
