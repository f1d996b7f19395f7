"""Stack files made to hurt a YAML reader or to slip a mistake past it (pitfall 64), each with
the words its one problem line must hold, and a run of `python -m stack_check` on them that
reports what it cost. The tests check them; benchmarks/stack_files_bench.py measures them."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A stack file `make check` plans: the region and an encrypted key.
GOOD = "config:\n  aws:region: us-east-1\n  iris-infra:openaiApiKey:\n    secure: v1:abc\n"


@dataclass(frozen=True)
class Hostile:
    content: bytes
    # What the one problem line says after `Pulumi.<stack>.yaml: `.
    says: str
    # Refused before any Python object is built from it: while reading, decoding or composing.
    before_building: bool = True
    # What it says instead when the other parser refuses it in its own words (libyaml's
    # refuses escapes that PyYAML's reads, and the reader then refuses what they wrote).
    or_says: str | None = None

    def is_said_by(self, problem: str) -> bool:
        return any(words in problem for words in (self.says, self.or_says) if words)


def _entry(text: str) -> bytes:
    return (GOOD + text).encode("utf-8")


def alias_bomb(levels: int = 9, width: int = 9) -> bytes:
    """Billion laughs in a few hundred bytes: each level lists the one before `width` times, so
    the last alias stands for width ** levels strings."""
    lines = ['  iris-infra:openaiModel: &l0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    lines += [
        f"  iris-infra:x{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]"
        for level in range(1, levels + 1)
    ]
    lines.append(f"  iris-infra:corsOrigins: *l{levels}")
    return _entry("\n".join(lines) + "\n")


DEPTH = 5_000
HOSTILE = {
    "aliasbomb": Hostile(alias_bomb(), "uses a YAML alias (*l0) at line 6"),
    "selfalias": Hostile(_entry("  iris-infra:corsOrigins: &loop [*loop]\n"), "alias (*loop)"),
    "nestedbrackets": Hostile(
        _entry("  iris-infra:corsOrigins: " + "[" * DEPTH + "]" * DEPTH + "\n"),
        "nests values more than 32 levels deep at line 5",
    ),
    "nestedblocks": Hostile(
        _entry("  iris-infra:corsOrigins:\n    " + "- " * DEPTH + "x\n"),
        "nests values more than 32 levels deep at line 6",
    ),
    "hugeinteger": Hostile(
        _entry("  iris-infra:memoryMb: " + "9" * DEPTH + "\n"),
        "has an integer 5,000 characters long at line 5, column 24",
    ),
    "hugehexinteger": Hostile(
        _entry("  iris-infra:memoryMb: 0x" + "f" * DEPTH + "\n"), "5,002 characters long"
    ),
    "millionitems": Hostile(
        _entry("  iris-infra:corsOrigins: [" + "1," * 1_000_000 + "1]\n"),
        "is 2,000,108 bytes; a stack file may be 65,536 (64 KiB) at most",
    ),
    "manyvalues": Hostile(
        _entry("  iris-infra:corsOrigins: [" + "1," * 20_000 + "1]\n"),
        "holds more than 10,000 values",
    ),
    "notutf8": Hostile(_entry("  iris-infra:openaiModel: caf") + b"\xe9\n", "UTF-8"),
    "utf16": Hostile(GOOD.encode("utf-16"), "is UTF-16 text"),
    "nulbyte": Hostile(_entry("  iris-infra:openaiModel: a\x00b\n"), "a NUL byte at line 5"),
    "controlcharacter": Hostile(_entry("  iris-infra:openaiModel: a\x1bb\n"), "U+001B at line 5"),
    "escapedsurrogate": Hostile(
        _entry('  iris-infra:openaiModel: "\\ud83d"\n'),
        "U+D83D at line 5",
        or_says="line 5, column 30: found invalid Unicode character escape code",
    ),
    "escapednul": Hostile(_entry('  iris-infra:openaiModel: "a\\0b"\n'), "U+0000 at line 5"),
    "pythontag": Hostile(
        _entry("  iris-infra:openaiModel: !!python/object/apply:os.system ['true']\n"),
        "uses the YAML tag !!python/object/apply:os.system at line 5",
    ),
    "inttagontext": Hostile(
        _entry("  iris-infra:memoryMb: !!int lots\n"), "uses the YAML tag !!int at line 5"
    ),
    "duplicatekey": Hostile(
        _entry("  iris-infra:memoryMb: 2048\n  iris-infra:memoryMb: 512\n"),
        "iris-infra:memoryMb is set twice (lines 5 and 6)",
        before_building=False,
    ),
    "duplicateconfig": Hostile(
        _entry("config:\n  iris-infra:memoryMb: 512\n"),
        "config is set twice (lines 1 and 5)",
        before_building=False,
    ),
    "misspeltnamespace": Hostile(
        _entry("  iri-infra:memoryMb: 2048\n"),
        "iri-infra:memoryMb is in no namespace this program reads (iris-infra, aws, docker, "
        "pulumi): did you mean iris-infra:memoryMb?",
        before_building=False,
    ),
    "misspeltkey": Hostile(
        _entry("  iris-infra:memoryMB: 2048\n"),
        "memoryMB is not a setting of this stack; did you mean iris-infra:memoryMb? known keys:",
        before_building=False,
    ),
    "severaldocuments": Hostile(
        _entry("---\nconfig: {}\n"), "not valid YAML at line 5", before_building=False
    ),
    "toplevellist": Hostile(
        b"- config\n", "is not a YAML mapping of settings", before_building=False
    ),
    "confignotamapping": Hostile(
        b"config: [1, 2]\n", "its config block is not a mapping", before_building=False
    ),
}


@dataclass(frozen=True)
class Run:
    status: int
    stdout: str
    stderr: str
    seconds: float
    # The child's peak resident memory.
    peak_mb: float


def project(directory: Path, stacks: dict[str, bytes]) -> Path:
    """IRIS's Pulumi.yaml and program in `directory`, with a Pulumi.<name>.yaml per stack."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, directory / name)
    for name, content in stacks.items():
        (directory / f"Pulumi.{name}.yaml").write_bytes(content)
    return directory


def run_check(project_dir: Path, *args: str, timeout: float, memory_mb: int = 2048) -> Run:
    """`python -m stack_check --project-dir DIR ARGS` in a fresh interpreter whose address space
    is limited to `memory_mb`, so that a reader that expands a bomb stops there instead of
    taking the machine. Raises subprocess.TimeoutExpired, having killed it, after `timeout`."""
    limit = memory_mb * 1024 * 1024

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    command = [sys.executable, "-m", "stack_check", "--project-dir", str(project_dir), *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=REPO, stdout=out, stderr=err, text=True, preexec_fn=limit_memory
        )
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        # wait4 rather than wait: it also returns what the child used.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        timed_out = not timer.is_alive()
        timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        if timed_out:
            raise subprocess.TimeoutExpired(command, timeout)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in KiB on Linux.
        return Run(child.returncode, out.read(), err.read(), seconds, usage.ru_maxrss / 1024)
