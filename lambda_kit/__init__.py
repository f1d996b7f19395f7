"""The Lambda handler kit: one way for a WSGI or an ASGI app to answer API Gateway's events.

    handler = lambda_kit.http_handler(lambda_kit.wsgi(flask_app), logger=log)
    handler = lambda_kit.http_handler(lambda_kit.asgi(asgi_app), logger=log)

`lambda_kit.handler` says what happens around the app on every invocation; `lambda_kit.events`
which events the adapters can read; `lambda_kit.logs` the JSON log lines (request id, masked
secrets); `lambda_kit.authorizer` the X-API-Key authorizer and `lambda_kit.guard` the function's
own check that it ran. Standard library only at import: Mangum and a2wsgi are imported when an
app is wrapped, so an authorizer's cold start loads neither.
"""

from __future__ import annotations

from lambda_kit.handler import HttpHandler, asgi, http_handler, wsgi

__all__ = ["HttpHandler", "asgi", "http_handler", "wsgi"]
