"""Fixtures for the local API: fresh authorizers for every test (`serve` is shared)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambda_kit import aws
from lambda_kit.parameters import forget_secure_parameters


@pytest.fixture(autouse=True)
def fresh_authorizer() -> Iterator[None]:
    """The authorizers (IRIS's and SpendSense's, both the handler kit's) keep the keys they
    read: start each test as a new container."""
    forget_secure_parameters()
    aws.forget_clients()
    yield
    forget_secure_parameters()
    aws.forget_clients()
