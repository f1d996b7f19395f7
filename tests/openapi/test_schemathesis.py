"""schemathesis, a peer's fuzzer, against both local APIs, driven by the published documents.

Every check (`--checks all`: status codes, content types, headers, bodies against the schemas,
negative data refused, positive data accepted, auth enforced, unsupported methods...), seeded,
with a bounded number of examples per operation. IRIS runs without and with API keys, SpendSense
in both shapes (split with keys, single without). With keys the run reads the document as a
stack with `apiKeys` means it (the key required) and sends a valid key, so schemathesis also
checks that no key and a wrong key are refused. Where the fuzzer and the API disagree, the
document is what changes (the earliest `as_of` is in its pattern), never a suppression.

The fuzzer runs as its CLI does, in a child process, against `python -m local_api` children.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_api import PROJECT_DIR
from tests.local_api.support import write_sample_database
from tests.local_apis import local_apis, start_local_api

DOCS = PROJECT_DIR / "docs" / "openapi"
SEED = 20250630
MAX_EXAMPLES = 10
API_KEY = "fuzz-key-6a1d94c2e0b7f358"
FUZZ_TIMEOUT_S = 300


@dataclass(frozen=True)
class Run:
    name: str
    document: str
    args: tuple[str, ...]
    keys_variable: str | None = None


RUNS = (
    Run("iris", "iris.json", ()),
    Run("iris-api-keys", "iris.json", (), keys_variable="IRIS_API_KEYS"),
    Run(
        "spendsense-split-api-keys",
        "spendsense.json",
        ("--app", "spendsense", "--deployment", "split"),
        keys_variable="SPENDSENSE_API_KEYS",
    ),
    Run("spendsense-single", "spendsense.json", ("--app", "spendsense", "--deployment", "single")),
)


def key_required(document: dict[str, Any]) -> dict[str, Any]:
    """The document as a stack with `apiKeys` means it: each operation that takes a key
    (X-API-Key, or none without apiKeys) requires it."""
    for operations in document["paths"].values():
        for operation in operations.values():
            security = operation.get("security")
            if security:
                operation["security"] = [option for option in security if option]
    return document


@pytest.mark.parametrize("run", RUNS, ids=[run.name for run in RUNS])
def test_schemathesis_finds_nothing(run: Run, tmp_path: Path) -> None:
    document = DOCS / run.document
    environ = {"DB_PATH": str(write_sample_database(tmp_path))}
    headers: list[str] = []
    if run.keys_variable:
        environ[run.keys_variable] = API_KEY
        keyed = key_required(json.loads(document.read_text()))
        document = tmp_path / f"keyed-{run.document}"
        document.write_text(json.dumps(keyed))
        headers = ["--header", f"X-API-Key: {API_KEY}"]

    api = start_local_api(tmp_path / "local-api.log", *run.args, environ=environ)
    with local_apis(api) as (url,):
        fuzz = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "run", str(document)),
                *("--url", url, "--checks", "all", "--mode", "all"),
                *("--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES), "--workers", "1"),
                *("--request-timeout", "20", "--no-color"),
                *headers,
            ],
            # Its cache of failures (.schemathesis/) stays out of the repository, and a run
            # replays no failure of an earlier one: each run is its seed's alone.
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=FUZZ_TIMEOUT_S,
        )

    report = fuzz.stdout + fuzz.stderr
    assert fuzz.returncode == 0, f"{report[-8000:]}\nlocal_api:\n{api.output()}"
    assert "No issues found" in report, report[-4000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases is not None, report[-4000:]
    # Every operation was exercised, each with several cases.
    operations = re.search(r"Tested: (\d+)", report)
    assert operations is not None and int(operations.group(1)) == len(
        json.loads(document.read_text())["paths"]
    ), report[-4000:]
    assert int(cases.group(1)) >= MAX_EXAMPLES, report[-4000:]
