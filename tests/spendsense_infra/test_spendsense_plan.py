"""The SpendSense stack declares exactly what its held plans say, in both shapes: a change to the
shared components, or a move of SpendSense's wiring, cannot change one resource, name, parent,
input or output of SpendSense's (so no URN changes) unless the held plans are rewritten too."""

from __future__ import annotations

import pytest

from tests.spendsense_infra.spendsense_plan_snapshot import HELD, VARIANTS, snapshot_path


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_spendsense_plan_is_unchanged(variant: str) -> None:
    assert not (difference := HELD.difference(variant)), difference


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
