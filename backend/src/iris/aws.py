"""The container's AWS clients, as IRIS's cache, budget and SSM reads share them: the handler
kit's (`lambda_kit.aws`), bounded and created once per container."""

from __future__ import annotations

from lambda_kit.aws import (
    CONNECT_TIMEOUT_S,
    READ_TIMEOUT_S,
    call_failures,
    client,
    failure_detail,
    forget_clients,
    is_timeout,
)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "call_failures",
    "client",
    "failure_detail",
    "forget_clients",
    "is_timeout",
]
