"""One insight's entry point loads that insight, the data layer and the handler kit: no FastAPI,
Starlette or pydantic, no other insight, no WSGI adapter, no boto3 (until a download needs it),
even once it has served a request. Measured in fresh interpreters, as a cold start would."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.events import http_api_v2_event

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "spendsense" / "backend" / "src"
# Where the handler kit (lambda_kit/) is, which the image copies beside the code.
KIT_ROOT = REPO
INSIGHTS = (
    "weekly_recap",
    "spending_analysis",
    "budget_tracking",
    "budget_suggestion",
    "net_worth",
)
FRAMEWORKS = ("fastapi", "starlette", "pydantic", "anyio", "boto3", "botocore", "api")
# IRIS's side of the kit, which no SpendSense entry point needs.
WSGI = ("a2wsgi", "flask", "werkzeug")


def modules_after(statement: str, database: Path | None = None) -> set[str]:
    """The modules a fresh interpreter holds after running `statement` in the task root (the
    app's code and the kit beside it, as the image copies them)."""
    script = f"import sys; before = set(sys.modules); {statement}; " + (
        "import json; print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    env = {key: value for key, value in os.environ.items() if key != "DB_PATH"}
    env["PYTHONPATH"] = str(KIT_ROOT)
    if database is not None:
        env["DB_PATH"] = str(database)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=SRC, env=env, check=True, capture_output=True, text=True
    )
    # The entry points' JSON log lines come first, on the same stdout.
    return set(json.loads(result.stdout.splitlines()[-1]))


def served_by(module: str, path: str, query: str) -> str:
    """Import the entry point (INIT), then answer one request through its handler."""
    event = json.dumps(http_api_v2_event("GET", path, query=query))
    return (
        f"import {module} as entry; answer = entry.handler(__import__('json').loads({event!r}),"
        " None); assert answer['statusCode'] == 200, answer"
    )


@pytest.mark.parametrize("name", INSIGHTS)
def test_an_insight_entry_point_loads_no_framework_and_no_other_insight(
    name: str, hand_database: Path
) -> None:
    path = importlib.import_module(f"spendsense_core.insights.{name}").PATH
    loaded = modules_after(served_by(f"insights.{name}", path, "user_id=u-1"), hand_database)

    assert {f"insights.{name}", f"spendsense_core.insights.{name}"} <= loaded
    assert {"spendsense_core.database", "spendsense_core.insight_app", "mangum"} <= loaded
    others = {f"spendsense_core.insights.{other}" for other in INSIGHTS if other != name}
    assert not loaded & others
    assert not {module.split(".")[0] for module in loaded} & {*FRAMEWORKS, *WSGI}


def test_the_api_entry_point_loads_fastapi_and_every_insight_but_no_wsgi_adapter() -> None:
    """The comparison point: the check above would see these if the split leaked."""
    loaded = modules_after(served_by("handler", "/health", ""))

    assert {f"spendsense_core.insights.{name}" for name in INSIGHTS} <= loaded
    assert {"fastapi", "starlette", "pydantic", "mangum", "api.main"} <= loaded
    assert not {module.split(".")[0] for module in loaded} & set(WSGI)
