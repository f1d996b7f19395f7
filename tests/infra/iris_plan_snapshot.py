"""The IRIS stack's plan for a few configurations, as `make check` renders it, and the copies of
it held in tests/infra/iris_plans/: what test_iris_plan.py compares, so that a change to the
shared components that would change anything IRIS declares (a resource, a name, an input, an
output) fails until it is meant and the copies are rewritten:

    .venv/bin/python -m tests.infra.iris_plan_snapshot --write
"""

from __future__ import annotations

import sys
from pathlib import Path

from iris_infra.apps.iris.config import PROJECT
from stack_check.check import _plan_lines
from stack_check.files import read_engine_config
from stack_check.plan import run_program
from tests.plan_snapshots import HeldPlans

PROJECT_DIR = Path(__file__).resolve().parents[2]
SNAPSHOT_DIR = Path(__file__).resolve().parent / "iris_plans"

_SECRETS = {
    "openaiApiKey": "sk-plan-snapshot",
    "apiKeys": "plan-snapshot-key-one,plan-snapshot-key-two",
}
_ZONE = "Z0123456789ABCDEFGHIJ"
_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
_DIGEST = "sha256:" + "ab" * 32

# Each: (stack file to start from, settings on top of it). Between them every optional part of
# the stack is declared at least once.
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "dev": ("dev", {"openaiApiKey": _SECRETS["openaiApiKey"]}),
    "prod": ("prod", dict(_SECRETS)),
    "dev-everything": (
        "dev",
        {
            **_SECRETS,
            "alarmEmail": "oncall@example.com",
            "customDomain": "api.example.com",
            "hostedZoneId": _ZONE,
            "warmupIntervalMinutes": "5",
            "reservedConcurrency": "5",
            "provisionedConcurrency": "1",
            "architecture": "x86_64",
        },
    ),
    "prod-pinned": (
        "prod",
        {
            **_SECRETS,
            "imageUri": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-prod@{_DIGEST}",
            "customDomain": "api.example.com",
            "certificateArn": _CERTIFICATE,
            "disableExecuteApiEndpoint": "true",
            "llmDailyTokenBudget": "0",
        },
    ),
}


def render_variant(name: str) -> str:
    stack, settings = VARIANTS[name]
    engine = read_engine_config(stack, PROJECT_DIR)
    values = dict(engine.values)
    values.update({f"{PROJECT}:{key}": value for key, value in settings.items()})
    secret_keys = tuple(f"{PROJECT}:{key}" for key in _SECRETS)
    plan = run_program(PROJECT_DIR, stack, values, secret_keys)
    return "\n".join(_plan_lines(plan)) + "\n"


HELD = HeldPlans(
    "IRIS", "tests.infra.iris_plan_snapshot", SNAPSHOT_DIR, tuple(VARIANTS), render_variant
)
snapshot_path = HELD.path


if __name__ == "__main__":
    sys.exit(HELD.main())
