"""IRIS's X-API-Key authorizer (the image's `authorizer.handler`): the kit's
(`lambda_kit.authorizer`), reading IRIS_API_KEYS / IRIS_API_KEYS_PARAM, IRIS_SECRET_MAX_AGE_S
and IRIS_LOG_LEVEL (the stack also sets IRIS_API_KEYS_PARAM_VERSION, so that a new value starts
fresh containers), and logging on the app's "iris" logger. No key ever reaches a log line.
"""

from __future__ import annotations

from iris.logs import LOGGER_NAME
from lambda_kit.api_keys import parse_keys
from lambda_kit.authorizer import ApiKeyAuthorizer

# Beside the handler, the parser the stack's config checks `apiKeys` with (lambda_kit.api_keys): a
# key is read the same way where it is set and where it is checked.
__all__ = ["authorizer", "handler", "parse_keys"]

authorizer = ApiKeyAuthorizer("IRIS", logger_name=LOGGER_NAME)
authorizer.prepare()
handler = authorizer.handler
