"""Structured JSON logs, one object a line, each with the request id.

The request id is the Lambda invocation's (aws_request_id), set by the handler kit at the start
of every invocation; an app may set its own where there is none (a local run).
Every record also passes `SecretRedactor`: a secret the process has read (`register_secret`)
is masked in the message, the extra fields and the traceback, whatever logged it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from contextvars import ContextVar
from typing import Any, TextIO

# Set at the start of each invocation (an HTTP request or an authorizer's decision).
request_id_var: ContextVar[str | None] = ContextVar("lambda_request_id", default=None)

# Attributes every LogRecord has; anything else was passed with extra= and is logged as a field.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


REDACTED = "[redacted]"
# Shorter values (and shorter runs of visible characters inside one) are not masked: they
# would mask ordinary words, and no real key is that short.
MIN_SECRET_CHARS = 8
# The runs of visible ASCII inside a secret: an exception's repr escapes what lies between
# them (b'Bearer sk-...\r\n'), so the whole value would not match there.
# (A pattern `re` compiles and caches at the first secret, not at every cold start.)
_VISIBLE_RUN = rf"[!-~]{{{MIN_SECRET_CHARS},}}"
_PLAIN_TYPES = (int, float, bool, type(None))

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Mask `value` (and each long visible run inside it) in every log record from now on."""
    pieces = {value.strip(), *re.findall(_VISIBLE_RUN, value)}
    pieces = {piece for piece in pieces if len(piece) >= MIN_SECRET_CHARS}
    global _secret_pattern
    with _secrets_lock:
        if pieces <= _secrets:
            return
        _secrets.update(pieces)
        # Longest first, so that a whole value is masked before the runs inside it.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(map(re.escape, ordered)))


def forget_secrets() -> None:
    """Forget every registered secret, as a new container would start without them."""
    global _secret_pattern
    with _secrets_lock:
        _secrets.clear()
        _secret_pattern = None


def redact(text: str) -> str:
    """`text` with every registered secret replaced by REDACTED."""
    pattern = _secret_pattern
    return text if pattern is None else pattern.sub(REDACTED, text)


class SecretRedactor(logging.Filter):
    """Masks registered secrets in a record before any formatter sees it.

    The message is formatted here (args included) and the traceback rendered to `exc_text`,
    so a formatter that renders `exc_info` itself has nothing left to render.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _secret_pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad args: the handler reports it, with nothing formatted here
            return True
        record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS:
                record.__dict__[key] = _redacted_field(value)
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(
                record.exc_info
            )
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redacted_field(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, _PLAIN_TYPES):
        return value
    text = str(value)
    masked = redact(text)
    return value if masked == text else masked


def install_redaction(logger: logging.Logger) -> None:
    """Put a SecretRedactor on every handler that `logger`'s records and the root's reach."""
    handlers = [*logger.handlers, *logging.getLogger().handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, SecretRedactor) for f in handler.filters):
            handler.addFilter(SecretRedactor())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _RECORD_FIELDS
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever `sys.stdout` is when a record is emitted.

    The Lambda runtime and pytest's capture both replace `sys.stdout` after start-up; a
    stream bound when logging was configured would keep writing to the replaced one.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stdout


def configure_logging(name: str, level: str) -> logging.Logger:
    """Give the logger `name` its own JSON handler on stdout (CloudWatch reads stdout), and
    every handler in reach of its records a SecretRedactor.

    Its records stop there (no propagation): the Lambda runtime's handler on the root logger
    would write each of them a second time.
    """
    logger = logging.getLogger(name)
    logger.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.propagate = False
    install_redaction(logger)
    # At DEBUG (AWS_LAMBDA_LOG_LEVEL=DEBUG sets the root logger so) botocore logs every
    # response body, an SSM SecureString's value among them, before the app has read the value
    # and can mask it: its records stop at INFO whatever the root logger's level.
    quiet_sdk = logging.getLogger("botocore")
    if quiet_sdk.getEffectiveLevel() < logging.INFO:
        quiet_sdk.setLevel(logging.INFO)
    return logger
