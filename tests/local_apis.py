"""`python -m local_api` as a child process, exactly as a developer runs it, for the tests that
talk to whole local APIs over HTTP (the OpenAPI fuzz runs and the browser test).

Each child starts as a fresh container would, from its own environment, so several differently
configured APIs (keys, shapes, databases, model settings) run side by side. Its output goes to a
file (a pipe nobody reads would fill and stall it), which a failure message quotes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_api import PROJECT_DIR

# What the child must not inherit from the test process: its settings are the test's own.
_OWN_PREFIXES = ("IRIS_", "OPENAI_", "SPENDSENSE_", "DB_PATH", "CORS_ORIGINS")
_BANNER = re.compile(r"local API on (http://[^\s|]+)")
START_TIMEOUT_S = 60.0


@dataclass
class LocalApi:
    """One running `python -m local_api`; `url` once it has printed its start-up line."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def wait_until_serving(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            found = _BANNER.search(self.log.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"local_api did not start; its output:\n{self.output()}")

    def output(self, last: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-last:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_local_api(log: Path, *args: str, environ: Mapping[str, str] | None = None) -> LocalApi:
    """Start `python -m local_api --port 0 <args>` with the test process's environment less
    every app setting, plus `environ`; logs at WARNING unless `environ` says otherwise."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
    env.update({"IRIS_LOG_LEVEL": "WARNING", "SPENDSENSE_LOG_LEVEL": "WARNING"})
    env.update(environ or {})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_api", "--port", "0", *args],
            cwd=PROJECT_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return LocalApi(process, log)


@contextmanager
def local_apis(*apis: LocalApi) -> Iterator[list[str]]:
    """Wait for every API (they start in parallel) and stop them all afterwards; their URLs."""
    try:
        yield [api.wait_until_serving() for api in apis]
    finally:
        for api in apis:
            api.stop()
