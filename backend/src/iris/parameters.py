"""SSM SecureString values, read once per container.

Flask-free and boto3-free at import time: the API-key authorizer imports this module on
every cold start, and `/health` must not pay for boto3. The value never reaches a log line
or an exception message.
"""

from __future__ import annotations

import functools

__all__ = ["SecureParameterError", "read_secure_parameter"]

# The read happens inside a request with a 30 s gateway limit: botocore's defaults (60 s
# timeouts, retries) would let a stuck SSM call outlast it. Fail within a few seconds instead.
_CLIENT_CONFIG = {
    "connect_timeout": 1,
    "read_timeout": 2,
    "retries": {"mode": "standard", "total_max_attempts": 2},
}


class SecureParameterError(RuntimeError):
    """An SSM parameter could not be read; the message names the parameter and the reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"SSM parameter {name!r} could not be read: {reason}")
        self.name = name
        self.reason = reason


@functools.cache
def read_secure_parameter(name: str) -> str:
    """The decrypted value of the SecureString `name`.

    Cached per name for the life of the container (a rotated value reaches a container when it
    starts again); a failed read is not cached, so the next call tries again.
    `read_secure_parameter.cache_clear()` forgets every value, as a new container would.
    """
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        # The Lambda base image ships boto3; a local run may not have it installed.
        raise SecureParameterError(
            name, "boto3 is not installed (pip install boto3, or set the value itself)"
        ) from None

    try:
        client = boto3.client("ssm", config=Config(**_CLIENT_CONFIG))
        answer = client.get_parameter(Name=name, WithDecryption=True)
    except ClientError as error:
        raise SecureParameterError(
            name, error.response["Error"].get("Code", "ClientError")
        ) from None
    except BotoCoreError as error:
        raise SecureParameterError(name, type(error).__name__) from None
    return answer["Parameter"]["Value"]
