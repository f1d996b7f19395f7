"""Lambda entry point (the image's CMD): API Gateway events -> the handler kit -> Flask.

Flask speaks WSGI, so the kit serves it through Mangum over a2wsgi's WSGI->ASGI adapter
(`lambda_kit.wsgi`); everything around the app (event checks, warm-up pings, the JSON safety
net, the request id) is the kit's, as for every entry point.
"""

from __future__ import annotations

import logging

import lambda_kit
from iris.logs import LOGGER_NAME
from server import app

handler = lambda_kit.http_handler(lambda_kit.wsgi(app), logger=logging.getLogger(LOGGER_NAME))
