"""The IRIS stack declares exactly what its held plans say: the shared components can change for
SpendSense's sake without changing one resource, name, input or output of IRIS's."""

from __future__ import annotations

import pytest

from tests.infra.iris_plan_snapshot import HELD, VARIANTS, snapshot_path


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_iris_plan_is_unchanged(variant: str) -> None:
    assert not (difference := HELD.difference(variant)), difference


def test_the_variants_declare_every_optional_part() -> None:
    """Between them the variants plan the authorizer, alarms, domain (both ways), warm-up,
    provisioned concurrency and a pinned image: a component change shows in one of them."""
    planned = "".join(snapshot_path(variant).read_text(encoding="utf-8") for variant in VARIANTS)
    for marker in (
        "aws:apigatewayv2/authorizer:Authorizer",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:apigatewayv2/apiMapping:ApiMapping",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig",
        "docker:index/image:Image",
    ):
        assert marker in planned, marker
    assert "docker:index/image:Image" not in snapshot_path("prod-pinned").read_text()
