"""One JSON shape for every failure: {"error": {"code": ..., "message": ...}}.

No traceback or exception text from inside the app ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

log = logging.getLogger("iris")

# Werkzeug's status codes mapped to the codes clients can switch on.
_HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    404: ("not_found", "No route matches this path."),
    405: ("method_not_allowed", "This route does not accept that method."),
    413: ("body_too_large", "The request body is larger than this API accepts."),
    415: (
        "unsupported_media_type",
        "The request body must be JSON (Content-Type: application/json).",
    ),
}


class ApiError(Exception):
    """An error the client should see, with its HTTP status, a snake_case code and any headers
    it needs (a 429's Retry-After)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify(error={"code": code, "message": message}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> ResponseReturnValue:
        body, status = error_response(error.status, error.code, error.message)
        body.headers.update(error.headers)
        return body, status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        code, message = _HTTP_CODES.get(
            status, (_snake_case(error.name), error.description or error.name)
        )
        response = error.get_response()
        body, _ = error_response(status, code, message)
        # Keep headers such as Allow on a 405.
        for header in ("Allow", "Retry-After"):
            if header in response.headers:
                body.headers[header] = response.headers[header]
        return body, status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error", extra={"error_type": type(error).__name__})
        return error_response(500, "internal_error", "The server failed to handle this request.")


def _snake_case(name: str) -> str:
    return "_".join(name.lower().split())
