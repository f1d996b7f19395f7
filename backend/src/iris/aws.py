"""AWS clients for one container: one boto3 session, one client per service, bounded calls.

boto3 is imported on first use, so a local offline run never pays for it; deployed, the app asks
for its clients at INIT, where Lambda gives the CPU a burst. Endpoints come from the SDK's own
settings (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`).

Every call is one attempt with short timeouts: botocore's defaults (60 s timeouts, retries with
back-off) would let one stuck dependency outlast API Gateway's 30 s. Where a second attempt is
worth its time, the caller makes it (see `iris.parameters`).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "client", "forget_clients"]

CONNECT_TIMEOUT_S = 1.0
# SSM and DynamoDB answer in milliseconds inside a region; a cache read that waits longer than
# a second has already cost more than it can save.
READ_TIMEOUT_S = {"ssm": 2.0, "dynamodb": 1.0}

_lock = threading.Lock()
_session: Any = None
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The container's client for `service` ("ssm" or "dynamodb"), created once.

    Raises ImportError where boto3 is not installed (the Lambda base image ships it; a local
    run may not have it).
    """
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            global _session
            if _session is None:
                _session = boto3.session.Session()
            _clients[service] = _session.client(
                service,
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=READ_TIMEOUT_S[service],
                    retries={"mode": "standard", "total_max_attempts": 1},
                ),
            )
        return _clients[service]


def forget_clients() -> None:
    """Drop the session and clients, as a new container would start without them."""
    global _session
    with _lock:
        _session = None
        _clients.clear()
