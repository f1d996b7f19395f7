"""What SpendSense's Lambda entry points share: JSON logs, the authorizer guard, the handler kit.

Importing it sets up the "spendsense" logger (level SPENDSENSE_LOG_LEVEL) that every SpendSense
module logs under, so an entry point imports it before the app: the database loads at INIT and
its log line is JSON like the rest. With SPENDSENSE_REQUIRE_AUTHORIZER=true (the stack sets it
beside apiKeys), /api/* is served only to requests the X-API-Key authorizer passed.
"""

from __future__ import annotations

import os
from types import ModuleType

import lambda_kit
from lambda_kit.logs import configure_logging
from lambda_kit.settings import parse_flag, parse_log_level
from spendsense_core.asgi import App
from spendsense_core.database import container_database
from spendsense_core.insight_app import insight_app

__all__ = ["GUARDED_PREFIX", "LOGGER_NAME", "insight_handler", "lambda_handler"]

LOGGER_NAME = "spendsense"
GUARDED_PREFIX = "/api"

# A bad value fails the import (and so the cold start) with a message naming the variable.
log = configure_logging(
    LOGGER_NAME, parse_log_level(os.environ.get("SPENDSENSE_LOG_LEVEL"), "SPENDSENSE_LOG_LEVEL")
)
require_authorizer = parse_flag(
    os.environ.get("SPENDSENSE_REQUIRE_AUTHORIZER"), "SPENDSENSE_REQUIRE_AUTHORIZER"
)


def lambda_handler(app: App) -> lambda_kit.HttpHandler:
    """An ASGI app's `handler(event, context)`."""
    guarded_prefix = GUARDED_PREFIX if require_authorizer else None
    return lambda_kit.http_handler(lambda_kit.asgi(app), logger=log, guarded_prefix=guarded_prefix)


def insight_handler(insight: ModuleType) -> lambda_kit.HttpHandler:
    """The entry point of one insight's function: its route alone (`PATH`, `compute`), over the
    container's database, loaded now (INIT); a failed load is retried by the next request."""
    database = container_database()
    database.prepare()
    return lambda_handler(insight_app(insight.PATH, insight.compute, database))
