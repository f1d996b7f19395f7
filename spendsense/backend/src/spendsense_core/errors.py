"""The API's errors (docs/api.md), each with its status and code, and the JSON they answer."""

from __future__ import annotations

__all__ = [
    "ApiError",
    "DataUnavailable",
    "InvalidQuery",
    "UserNotFound",
    "error_body",
]


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The API's error shape: `{"error": {"code", "message"}}`."""
    return {"error": {"code": code, "message": message}}


class ApiError(Exception):
    """An answer other than 200 that the request itself explains; `message` is for the client."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        return error_body(self.code, self.message)


class InvalidQuery(ApiError):
    status = 400
    code = "invalid_query"


class UserNotFound(ApiError):
    status = 404
    code = "user_not_found"


class DataUnavailable(ApiError):
    status = 503
    code = "data_unavailable"
