"""The SpendSense stack declares exactly what its held plans say, in both shapes: a change to the
shared components, or a move of SpendSense's wiring, cannot change one resource, name, parent,
input or output of SpendSense's (so no URN changes) unless the held plans are rewritten too."""

from __future__ import annotations

import difflib

import pytest

from tests.spendsense_infra.spendsense_plan_snapshot import VARIANTS, render_variant, snapshot_path


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_spendsense_plan_is_unchanged(variant: str) -> None:
    held = snapshot_path(variant).read_text(encoding="utf-8")
    planned = render_variant(variant)
    diff = "".join(
        difflib.unified_diff(
            held.splitlines(keepends=True),
            planned.splitlines(keepends=True),
            fromfile=f"held {variant}",
            tofile=f"planned {variant}",
            n=2,
        )
    )
    assert not diff, (
        "the SpendSense plan changed; if that is meant, rewrite the held plans with "
        "`.venv/bin/python -m tests.spendsense_infra.spendsense_plan_snapshot --write`:\n"
        + diff[:6000]
    )


def test_the_variants_declare_both_shapes_and_every_optional_part() -> None:
    """Split and single, each with and without the authorizer and the alarms."""
    plans = {variant: snapshot_path(variant).read_text(encoding="utf-8") for variant in VARIANTS}
    insight = "iris:index:Function spendsense-weekly-recap-function"
    guarded = ("aws:apigatewayv2/authorizer:Authorizer", "aws:cloudwatch/metricAlarm:MetricAlarm")
    for variant, plan in plans.items():
        assert (insight in plan) == variant.startswith("split"), variant
        for marker in guarded:
            assert (marker in plan) == variant.endswith("-guarded"), (variant, marker)
    assert "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig" in "".join(
        plans.values()
    )
