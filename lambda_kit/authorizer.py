"""X-API-Key authorizer: an HTTP API Lambda REQUEST authorizer, payload 2.0, simple responses.

A separate function built from an app's image, on the path of every guarded request, so it
imports only the standard library and the kit. An entry point builds one for its environment
prefix P (`ApiKeyAuthorizer("IRIS", ...)`): the accepted keys come from the SSM SecureString
named by P_API_KEYS_PARAM (deployed) or from P_API_KEYS (local runs); several comma-separated
keys are accepted at once so a key can be rotated without downtime. Deployed, the keys are read
at INIT and trusted for P_SECRET_MAX_AGE_S, then read again, so a key changed outside a
deployment is honoured (or refused) within that time; the stack puts the parameter's version
in P_API_KEYS_PARAM_VERSION, so a change made by a deployment starts fresh containers.
P_LOG_LEVEL sets its log level. No key ever reaches a log line.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from typing import Any

from lambda_kit.api_keys import KEY_SLOT, MAX_KEY_CHARS, key_slot, parse_keys
from lambda_kit.logs import configure_logging, register_secret, request_id_var
from lambda_kit.parameters import INIT_ATTEMPTS, REQUEST_ATTEMPTS, read_secure_parameter
from lambda_kit.settings import parse_log_level, parse_secret_max_age

__all__ = ["API_KEY_HEADER", "MAX_KEY_BYTES", "ApiKeyAuthorizer"]

API_KEY_HEADER = "x-api-key"
# The stacks accept only ASCII keys of at most MAX_KEY_CHARS: anything longer is refused
# before it is compared.
MAX_KEY_BYTES = MAX_KEY_CHARS


class ApiKeyAuthorizer:
    """The authorizer of one app, configured by the variables named with `prefix`.

    Building it reads the log level and the secret's max age (a bad value fails the import,
    and so the cold start, with a message naming the variable); the keys are read by `prepare`
    (at INIT) and then by the decisions that find them stale.
    """

    def __init__(self, prefix: str, *, logger_name: str) -> None:
        self.keys_variable = f"{prefix}_API_KEYS"
        self.parameter_variable = f"{prefix}_API_KEYS_PARAM"
        level_variable, max_age_variable = f"{prefix}_LOG_LEVEL", f"{prefix}_SECRET_MAX_AGE_S"
        self.log = configure_logging(
            logger_name, parse_log_level(os.environ.get(level_variable), level_variable)
        )
        self.secret_max_age_s: float = parse_secret_max_age(
            os.environ.get(max_age_variable), max_age_variable
        )

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The function's `handler(event, context)`: API Gateway's simple response."""
        token = request_id_var.set(getattr(context, "aws_request_id", None))
        try:
            reason, slot = self.decide(event)
            fields = {"authorized": slot is not None, "reason": reason, **_request_fields(event)}
            if slot is None:
                self.log.info("authorization decision", extra=fields)
                return {"isAuthorized": False}
            self.log.info("authorization decision", extra={**fields, KEY_SLOT: slot})
            return {"isAuthorized": True, "context": {KEY_SLOT: slot}}
        finally:
            request_id_var.reset(token)

    def decide(self, event: Mapping[str, Any]) -> tuple[str, str | None]:
        """(reason, matching key slot or None); fails closed when the keys are unavailable."""
        try:
            keys = self.accepted_keys()
        except Exception as error:  # whatever broke the read, the answer must be "deny"
            self.log.error("api keys could not be read", extra={"error_type": type(error).__name__})
            return "keys_unavailable", None
        if not keys:
            self.log.error("no api keys are configured: every request is denied")
            return "no_keys_configured", None

        presented = presented_key(event)
        if not presented:
            return "missing", None
        if len(presented.encode("utf-8")) > MAX_KEY_BYTES:
            return "too_long", None
        slot = matching_slot(presented, keys)
        return ("match", slot) if slot else ("no_match", None)

    def accepted_keys(self, attempts: int = REQUEST_ATTEMPTS) -> tuple[str, ...]:
        """The accepted keys; read from SSM once per max age, a failed read retried on the next
        call. The keys variable (local runs) wins over the parameter's (the deployed one's)."""
        direct = os.environ.get(self.keys_variable, "")
        if direct.strip():
            return _registered(parse_keys(direct))
        parameter = os.environ.get(self.parameter_variable, "").strip()
        if parameter:
            value = read_secure_parameter(
                parameter, max_age_s=self.secret_max_age_s, attempts=attempts
            )
            return _registered(parse_keys(value))
        return ()

    def prepare(self) -> None:
        """INIT: read the keys with one short attempt; a failure is logged, the first request
        reads again (and denies if it still cannot)."""
        try:
            self.accepted_keys(attempts=INIT_ATTEMPTS)
        except Exception as error:  # whatever broke the read, INIT must go on
            self.log.warning(
                "init: api keys could not be read; the first request retries",
                extra={"error_type": type(error).__name__},
            )


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


def _registered(keys: tuple[str, ...]) -> tuple[str, ...]:
    """`keys`, each now masked in every log line (the whole list already is, once read)."""
    for key in keys:
        register_secret(key)
    return keys


def _request_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    return {
        "apiRequestId": request_context.get("requestId"),
        "routeKey": event.get("routeKey"),
    }
