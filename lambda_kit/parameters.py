"""SSM SecureString values, read once per container and trusted for a bounded time.

Standard library only at import time: the API-key authorizers import this module on every cold
start. The value never reaches a log line or an exception message: it is stripped of
surrounding whitespace (`put-parameter --value file://key.txt` keeps the file's newline) and
registered with the log redaction (`lambda_kit.logs.register_secret`) as soon as it is read.

A value read is served from memory for `max_age_s` seconds, then read again, so a parameter
changed outside a deployment (an emergency `aws ssm put-parameter`) reaches warm containers
within that time. A read that fails is not remembered, and neither is the value it replaced:
past its age a value is no longer trusted, whatever SSM answers.
"""

from __future__ import annotations

import threading
import time

from lambda_kit import aws
from lambda_kit.logs import register_secret

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "INIT_ATTEMPTS",
    "REQUEST_ATTEMPTS",
    "SecureParameterError",
    "forget_secure_parameters",
    "read_secure_parameter",
]

DEFAULT_MAX_AGE_S = 300.0
# At INIT one short attempt (Lambda gives INIT 10 s in all); inside a request, a second one.
INIT_ATTEMPTS = 1
REQUEST_ATTEMPTS = 2
# The pause before a second attempt: enough for a throttled account to recover a little.
RETRY_PAUSE_S = 0.1
# Besides any 5xx: AWS's codes for "slow down".
_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})


class SecureParameterError(RuntimeError):
    """An SSM parameter could not be read; the message names the parameter and the reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"SSM parameter {name!r} could not be read: {reason}")
        self.name = name
        self.reason = reason


_lock = threading.Lock()
# name -> (value, _now() when it was read)
_values: dict[str, tuple[str, float]] = {}
# The clock ages are measured on; monotonic, so a change of the wall clock ages nothing.
_now = time.monotonic


def read_secure_parameter(
    name: str,
    *,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    attempts: int = REQUEST_ATTEMPTS,
    fresh: bool = False,
) -> str:
    """The decrypted value of the SecureString `name`.

    From memory while it is younger than `max_age_s` (unless `fresh`), else read from SSM in
    at most `attempts` attempts; raises SecureParameterError when it cannot be read.
    """
    remembered = _values.get(name)
    if remembered is not None and not fresh:
        value, read_at = remembered
        if _now() - read_at < max_age_s:
            return value
    try:
        value = _read(name, attempts)
    except SecureParameterError:
        with _lock:
            _values.pop(name, None)
        raise
    with _lock:
        _values[name] = (value, _now())
    return value


def forget_secure_parameters() -> None:
    """Forget every value, as a new container would start without them."""
    with _lock:
        _values.clear()


def _read(name: str, attempts: int) -> str:
    # The Lambda base image ships boto3 and botocore; a local run may not have them installed.
    no_boto3 = SecureParameterError(
        name, "the AWS SDK is not installed (pip install boto3, or set the value itself)"
    )
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise no_boto3 from None
    try:
        client = aws.client("ssm")
    except ImportError:
        raise no_boto3 from None
    except BotoCoreError as error:
        # No Region or no usable configuration: nothing a second attempt would change.
        raise SecureParameterError(name, type(error).__name__) from None

    for attempt in range(1, attempts + 1):
        try:
            answer = client.get_parameter(Name=name, WithDecryption=True)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code") or "ClientError"
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            retryable = code in _THROTTLING_CODES or status >= 500
            reason = code
        except BotoCoreError as error:
            # Timeouts and refused connections: no response, nothing to read from one.
            retryable, reason = True, type(error).__name__
        else:
            value = (answer.get("Parameter") or {}).get("Value")
            if isinstance(value, str):
                register_secret(value)
                return value.strip()
            # A 200 that is not SSM's JSON (a proxy's or portal's page) parses to nothing.
            retryable, reason = False, "malformed_answer"
        if not retryable or attempt == attempts:
            break
        time.sleep(RETRY_PAUSE_S)
    raise SecureParameterError(name, reason)
