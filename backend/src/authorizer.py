"""X-API-Key authorizer: an HTTP API Lambda REQUEST authorizer, payload 2.0, simple responses.

A separate function built from the same image, on the path of every guarded request, so it
imports only the standard library and Flask-free `iris` helpers. The accepted keys come from
the SSM SecureString named by IRIS_API_KEYS_PARAM (deployed) or from IRIS_API_KEYS (local
runs); several comma-separated keys are accepted at once so a key can be rotated without
downtime. Deployed, the keys are read at INIT and trusted for IRIS_SECRET_MAX_AGE_S, then read
again, so a key changed outside a deployment is honoured (or refused) within that time.
No key ever reaches a log line.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from typing import Any

from iris.api_keys import KEY_SLOT, MAX_KEY_CHARS, key_slot, parse_keys
from iris.logs import configure_logging, register_secret, request_id_var
from iris.parameters import INIT_ATTEMPTS, REQUEST_ATTEMPTS, read_secure_parameter
from iris.settings import parse_log_level, parse_secret_max_age

API_KEY_HEADER = "x-api-key"
# The stack accepts only ASCII keys of at most MAX_KEY_CHARS: anything longer is refused
# before it is compared.
MAX_KEY_BYTES = MAX_KEY_CHARS

# A bad value fails the import (and so the cold start) with a message naming the variable.
log = configure_logging(parse_log_level(os.environ.get("IRIS_LOG_LEVEL")))
SECRET_MAX_AGE_S = parse_secret_max_age(os.environ.get("IRIS_SECRET_MAX_AGE_S"))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id_var.set(getattr(context, "aws_request_id", None))
    reason, slot = decide(event)
    fields = {"authorized": slot is not None, "reason": reason, **_request_fields(event)}
    if slot is None:
        log.info("authorization decision", extra=fields)
        return {"isAuthorized": False}
    log.info("authorization decision", extra={**fields, KEY_SLOT: slot})
    return {"isAuthorized": True, "context": {KEY_SLOT: slot}}


def decide(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """(reason, matching key slot or None); fails closed when the keys are unavailable."""
    try:
        keys = accepted_keys()
    except Exception as error:  # whatever broke the read, the answer must be "deny"
        log.error("api keys could not be read", extra={"error_type": type(error).__name__})
        return "keys_unavailable", None
    if not keys:
        log.error("no api keys are configured: every request is denied")
        return "no_keys_configured", None

    presented = presented_key(event)
    if not presented:
        return "missing", None
    if len(presented.encode("utf-8")) > MAX_KEY_BYTES:
        return "too_long", None
    slot = matching_slot(presented, keys)
    return ("match", slot) if slot else ("no_match", None)


def presented_key(event: Mapping[str, Any]) -> str | None:
    """The X-API-Key value: from the headers (any case), else from the identity source."""
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == API_KEY_HEADER and isinstance(value, str):
            return value
    identity = event.get("identitySource") or []
    if identity and isinstance(identity[0], str):
        return identity[0]
    return None


def matching_slot(presented: str, keys: tuple[str, ...]) -> str | None:
    """The slot ("key-1", "key-2", ...) of the matching key, or None.

    Every key is compared, whatever matched before, so the time taken does not tell
    which slot (if any) matched.
    """
    candidate = presented.encode("utf-8")
    results = [hmac.compare_digest(candidate, key.encode("utf-8")) for key in keys]
    for position, matched in enumerate(results, start=1):
        if matched:
            return key_slot(position)
    return None


def accepted_keys(attempts: int = REQUEST_ATTEMPTS) -> tuple[str, ...]:
    """The accepted keys; read from SSM once per IRIS_SECRET_MAX_AGE_S, a failed read retried
    on the next call.

    IRIS_API_KEYS (local runs) wins over IRIS_API_KEYS_PARAM (the deployed function's).
    """
    direct = os.environ.get("IRIS_API_KEYS", "")
    if direct.strip():
        return _registered(parse_keys(direct))
    parameter = os.environ.get("IRIS_API_KEYS_PARAM", "").strip()
    if parameter:
        value = read_secure_parameter(parameter, max_age_s=SECRET_MAX_AGE_S, attempts=attempts)
        return _registered(parse_keys(value))
    return ()


def _registered(keys: tuple[str, ...]) -> tuple[str, ...]:
    """`keys`, each now masked in every log line (the whole list already is, once read)."""
    for key in keys:
        register_secret(key)
    return keys


def prepare() -> None:
    """INIT: read the keys with one short attempt; a failure is logged, the first request
    reads again (and denies if it still cannot)."""
    try:
        accepted_keys(attempts=INIT_ATTEMPTS)
    except Exception as error:  # whatever broke the read, INIT must go on
        log.warning(
            "init: api keys could not be read; the first request retries",
            extra={"error_type": type(error).__name__},
        )


def _request_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    return {
        "apiRequestId": request_context.get("requestId"),
        "routeKey": event.get("routeKey"),
    }


prepare()
