"""Structured JSON logs, one object a line, each with the request id.

In Lambda the request id is the invocation's (aws_request_id); elsewhere a fresh UUID.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import TextIO

# Set at the start of each request (or authorizer invocation); Flask-free so the
# authorizer can log the same way without importing Flask.
request_id_var: ContextVar[str | None] = ContextVar("iris_request_id", default=None)

# Attributes every LogRecord has; anything else was passed with extra= and is logged as a field.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
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


def configure_logging(level: str) -> logging.Logger:
    """Give the "iris" logger its own JSON handler on stdout (CloudWatch reads stdout)."""
    logger = logging.getLogger("iris")
    logger.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.propagate = False
    return logger
