"""IRIS's logs: the handler kit's JSON lines and secret redaction (`lambda_kit.logs`) on the
"iris" logger, which the app, the handler and the authorizer all write to."""

from __future__ import annotations

import logging

from lambda_kit import logs
from lambda_kit.logs import (
    REDACTED,
    JsonFormatter,
    SecretRedactor,
    forget_secrets,
    install_redaction,
    redact,
    register_secret,
    request_id_var,
)

__all__ = [
    "LOGGER_NAME",
    "REDACTED",
    "JsonFormatter",
    "SecretRedactor",
    "configure_logging",
    "forget_secrets",
    "install_redaction",
    "redact",
    "register_secret",
    "request_id_var",
]

LOGGER_NAME = "iris"


def configure_logging(level: str) -> logging.Logger:
    """The "iris" logger, writing JSON lines to stdout at `level`, with secrets masked."""
    return logs.configure_logging(LOGGER_NAME, level)
