"""Release: the `live` alias on the function's newest version, and provisioned concurrency on
that alias (never on $LATEST or a bare version), only when asked for."""

from __future__ import annotations

import pytest

from iris_infra.components.release import LIVE_ALIAS, Release, ReleaseArgs

ALIAS = "aws:lambda/alias:Alias"
PROVISIONED = "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"


def build(resolve, provisioned_concurrency=0):
    def program():
        release = Release(
            "rel",
            ReleaseArgs(
                function_name="iris-prod",
                function_version="12",
                provisioned_concurrency=provisioned_concurrency,
            ),
        )
        return {
            "alias_name": release.alias_name,
            "alias_arn": release.alias_arn,
            "invoke_arn": release.invoke_arn,
            "version": release.version,
        }

    return resolve(program)


def test_the_live_alias_points_at_the_given_version(mocks, resolve):
    outputs = build(resolve)
    alias = mocks.resource(ALIAS, "rel-alias")
    assert LIVE_ALIAS == "live"
    assert alias.inputs["name"] == "live" == outputs["alias_name"]
    assert alias.inputs["functionName"] == "iris-prod"
    assert alias.inputs["functionVersion"] == "12" == outputs["version"]
    assert outputs["alias_arn"] == alias.outputs["arn"]
    assert outputs["alias_arn"].endswith(":function:iris-prod:live")
    assert outputs["invoke_arn"] == alias.outputs["invokeArn"]
    assert "routingConfig" not in alias.inputs
    assert alias.inputs["description"] == ReleaseArgs.description


def test_the_alias_carries_the_given_description(mocks, resolve):
    def program():
        release = Release(
            "rel",
            ReleaseArgs(
                function_name="iris-prod-authorizer", function_version="3", description="x"
            ),
        )
        return release.alias_name

    resolve(program)
    assert mocks.resource(ALIAS, "rel-alias").inputs["description"] == "x"


def test_without_provisioned_concurrency_there_is_no_configuration(mocks, resolve):
    build(resolve)
    assert not mocks.of_type(PROVISIONED)


@pytest.mark.parametrize("instances", [1, 3])
def test_provisioned_concurrency_is_configured_on_the_alias(mocks, resolve, instances):
    outputs = build(resolve, provisioned_concurrency=instances)
    config = mocks.resource(PROVISIONED, "rel-provisioned-concurrency")
    assert config.inputs["functionName"] == "iris-prod"
    assert config.inputs["qualifier"] == outputs["alias_name"] == "live"
    assert config.inputs["provisionedConcurrentExecutions"] == instances
    assert config.inputs.get("skipDestroy") in (None, False)
