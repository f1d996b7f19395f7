"""The mock harness really runs its checks: a wrong expectation inside an apply fails the test,
and outputs that never resolve (a preview) are an error, not a silent pass."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from iris_infra.components.cache_table import CacheTable, CacheTableArgs


def test_a_failing_check_inside_an_apply_fails_the_test(mocks):
    @pulumi.runtime.test
    def wrong_expectation():
        cache = CacheTable("cache", CacheTableArgs("iris-dev-cache"))

        def check(name: str) -> None:
            assert name == "not-the-table-name", "the deliberately wrong expectation ran"

        return cache.table_name.apply(check)

    with pytest.raises(AssertionError, match="the deliberately wrong expectation ran"):
        wrong_expectation()


def test_a_passing_check_inside_an_apply_passes(mocks):
    checked: list[str] = []

    @pulumi.runtime.test
    def right_expectation():
        return CacheTable("cache", CacheTableArgs("iris-dev-cache")).table_name.apply(
            checked.append
        )

    right_expectation()
    assert checked and checked[0] == "iris-dev-cache"


def stream_arn() -> pulumi.Output[str]:
    """An output the mocks do not answer: unknown in a preview, None in an update."""
    table = aws.dynamodb.Table("t", hash_key="pk", attributes=[{"name": "pk", "type": "S"}])
    return table.stream_arn


def test_outputs_that_never_resolve_are_an_error(mocks, resolve):
    mocks.use("dev", preview=True)
    with pytest.raises(AssertionError, match="never resolved"):
        resolve(stream_arn)


def test_the_mocks_run_as_an_update_so_every_output_resolves(mocks, resolve):
    assert resolve(stream_arn) is None
    assert resolve(
        lambda: CacheTable("cache", CacheTableArgs("iris-dev-cache")).table_arn
    ).startswith("arn:aws:dynamodb:")
