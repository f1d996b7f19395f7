"""Fixtures for the local API: a fresh authorizer for every test (`serve` is shared)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iris import aws
from iris.parameters import forget_secure_parameters


@pytest.fixture(autouse=True)
def fresh_authorizer() -> Iterator[None]:
    """The authorizer keeps the keys it read: start each test as a new container."""
    forget_secure_parameters()
    aws.forget_clients()
    yield
    forget_secure_parameters()
    aws.forget_clients()
