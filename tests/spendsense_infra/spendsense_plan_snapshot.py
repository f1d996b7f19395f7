"""The SpendSense stack's plan for both shapes, with and without the optional parts, as `make
check` renders it, and the copies of it held in tests/spendsense_infra/spendsense_plans/: what
test_spendsense_plan.py compares, so that a change to the shared components or to SpendSense's
wiring that would change anything it declares (a resource, a name, a parent, an input, an
output) fails until it is meant and the copies are rewritten:

    .venv/bin/python -m tests.spendsense_infra.spendsense_plan_snapshot --write

The program runs from spendsense/__main__.py, as `pulumi up` runs it, on the sample database
`make spendsense-db` writes (the same bytes every run), written to a temporary directory.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from spendsense.scripts import make_db
from stack_check.check import PROGRAMS, _plan_lines
from stack_check.files import read_engine_config
from stack_check.plan import run_program
from tests.plan_snapshots import HeldPlans

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROGRAM = PROGRAMS["spendsense"]
SNAPSHOT_DIR = Path(__file__).resolve().parent / "spendsense_plans"

_API_KEYS = "plan-snapshot-key-one,plan-snapshot-key-two"
_GUARDED = {"apiKeys": _API_KEYS, "alarmEmail": "oncall@example.com"}

# Each: (stack file to start from, settings on top of it). Both shapes, each with and without
# the authorizer and the alarms.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "split": ("dev", {"deployment": "split"}),
    "split-guarded": (
        "dev",
        {
            "deployment": "split",
            **_GUARDED,
            "provisionedConcurrency": "2",
            "architecture": "x86_64",
        },
    ),
    "single": ("dev", {"deployment": "single", "apiMemoryMb": "3008"}),
    "single-guarded": ("dev", {"deployment": "single", **_GUARDED}),
}


def render_variant(name: str) -> str:
    stack, settings = VARIANTS[name]
    engine = read_engine_config(stack, PROGRAM.directory)
    values = dict(engine.values)
    values.update({f"{PROGRAM.project}:{key}": value for key, value in settings.items()})
    secret_keys = (f"{PROGRAM.project}:apiKeys",) if "apiKeys" in settings else ()
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "spendsense.db"
        make_db.write_database(database)
        values[f"{PROGRAM.project}:databaseFile"] = str(database)
        plan = run_program(PROGRAM.directory, stack, values, secret_keys, project=PROGRAM.project)
        text = "\n".join(_plan_lines(plan)) + "\n"
    assert directory not in text, "the plan names the temporary database's path"
    return text


HELD = HeldPlans(
    "SpendSense",
    "tests.spendsense_infra.spendsense_plan_snapshot",
    SNAPSHOT_DIR,
    tuple(VARIANTS),
    render_variant,
)
snapshot_path = HELD.path


if __name__ == "__main__":
    sys.exit(HELD.main())
