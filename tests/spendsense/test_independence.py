"""One insight's code loads that insight and the data layer: no FastAPI, no other insight, no
boto3 (until a download needs it). Measured in fresh interpreters, as a cold start would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "spendsense" / "backend" / "src"
INSIGHTS = (
    "weekly_recap",
    "spending_analysis",
    "budget_tracking",
    "budget_suggestion",
    "net_worth",
)
FRAMEWORKS = ("fastapi", "starlette", "pydantic", "anyio", "boto3", "botocore", "api")


def modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running `statement` in the task root."""
    script = f"import sys; before = set(sys.modules); {statement}; " + (
        "import json; print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=SRC, check=True, capture_output=True, text=True
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("name", INSIGHTS)
def test_one_insight_loads_no_framework_and_no_other_insight(name: str) -> None:
    # What an insight's entry point needs besides the Lambda handler kit.
    loaded = modules_after(
        f"from spendsense_core.insights import {name}; import spendsense_core.insight_app"
    )

    assert f"spendsense_core.insights.{name}" in loaded
    assert {"spendsense_core.database", "spendsense_core.insight_app"} <= loaded
    others = {f"spendsense_core.insights.{other}" for other in INSIGHTS if other != name}
    assert not loaded & others
    assert not {module.split(".")[0] for module in loaded} & set(FRAMEWORKS)


def test_the_whole_app_loads_every_insight_and_fastapi() -> None:
    """The comparison point: the check above would see these if the split leaked."""
    loaded = modules_after("import api.main")

    assert {f"spendsense_core.insights.{name}" for name in INSIGHTS} <= loaded
    assert {"fastapi", "starlette", "pydantic"} <= loaded
