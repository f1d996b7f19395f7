"""Fixtures for the local API: a fresh authorizer for every test (`serve` is shared)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import authorizer
from iris.parameters import read_secure_parameter


@pytest.fixture(autouse=True)
def fresh_authorizer() -> Iterator[None]:
    """The authorizer reads its keys once per container: start each test as a new one."""
    authorizer.accepted_keys.cache_clear()
    read_secure_parameter.cache_clear()
    yield
    authorizer.accepted_keys.cache_clear()
    read_secure_parameter.cache_clear()
