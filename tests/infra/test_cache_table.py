"""CacheTable: on-demand, keyed by `pk`, items expire by TTL, encrypted, PITR only when asked."""

from __future__ import annotations

import pytest

from iris import budget
from iris_infra.apps.iris.functions import TOKEN_COUNTER_KEY_PREFIX
from iris_infra.components.cache_table import CacheTable, CacheTableArgs

TABLE = "aws:dynamodb/table:Table"


@pytest.mark.parametrize("pitr", [False, True])
def test_the_table_is_an_on_demand_ttl_cache(mocks, resolve, pitr):
    def program():
        cache = CacheTable("cache", CacheTableArgs("iris-dev-cache", point_in_time_recovery=pitr))
        return {"name": cache.table_name, "arn": cache.table_arn}

    outputs = resolve(program)
    table = mocks.resource(TABLE, "cache-table")
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "pk"
    assert table.inputs["attributes"] == [{"name": "pk", "type": "S"}]
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": pitr}
    assert "readCapacity" not in table.inputs and "writeCapacity" not in table.inputs
    assert outputs == {"name": table.outputs["name"], "arn": table.outputs["arn"]}


def test_the_role_may_update_exactly_the_keys_the_backend_counts_in():
    """The IAM condition's prefix is the backend's; a cache key (64 hex digits) never has it."""

    assert budget.COUNTER_KEY_PREFIX == TOKEN_COUNTER_KEY_PREFIX
    assert set(TOKEN_COUNTER_KEY_PREFIX) - set("0123456789abcdef")
    assert budget.counter_key("2026-12-01").startswith(TOKEN_COUNTER_KEY_PREFIX)
