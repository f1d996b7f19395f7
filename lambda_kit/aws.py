"""AWS clients for one container: one botocore session, one client per service, bounded calls.

botocore is imported on first use, so a local offline run never pays for it; deployed, the app
asks for its clients at INIT, where Lambda gives the CPU a burst. botocore's own session, not
boto3's: the same clients without `import boto3` and its resource layer, which every cold start
would pay (as SpendSense's S3 download measured). Endpoints come from the SDK's own settings
(`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`).

Every call is one attempt with short timeouts: botocore's defaults (60 s timeouts, retries with
back-off) would let one stuck dependency outlast API Gateway's 30 s. Where a second attempt is
worth its time, the caller makes it (see `lambda_kit.parameters`).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = [
    "CONNECT_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "call_failures",
    "client",
    "failure_detail",
    "forget_clients",
    "is_timeout",
]

CONNECT_TIMEOUT_S = 1.0
# SSM and DynamoDB answer in milliseconds inside a region; a cache read that waits longer than
# a second has already cost more than it can save.
READ_TIMEOUT_S = {"ssm": 2.0, "dynamodb": 1.0}

_lock = threading.Lock()
_session: Any = None
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The container's client for `service` ("ssm" or "dynamodb"), created once.

    Raises ImportError where botocore is not installed (the Lambda base image ships it with
    boto3; a local run may not have it).
    """
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            import botocore.session
            from botocore.config import Config

            global _session
            if _session is None:
                _session = botocore.session.get_session()
            _clients[service] = _session.create_client(
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


def call_failures() -> tuple[type[Exception], ...]:
    """What a bounded call may raise and a caller survive: botocore's errors, or no botocore."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return (ImportError,)
    return (ImportError, BotoCoreError, ClientError)


def is_timeout(error: Exception) -> bool:
    """A connection or read that ran out of time (not one refused at once)."""
    if isinstance(error, ImportError):
        return False
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    return isinstance(error, ConnectTimeoutError | ReadTimeoutError)


def failure_detail(error: Exception) -> dict[str, str | None]:
    """What a log line may say about a failed call: its type and AWS's error code, if any."""
    # Only a ClientError carries AWS's error code (throttling, missing table, access denied).
    # botocore's timeouts are also requests-style errors whose `response` is None.
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return {"error_type": type(error).__name__, "error_code": code}
