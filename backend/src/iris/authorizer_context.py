"""With apiKeys set, /api/iris/* is served only to requests the X-API-Key authorizer passed.

When IRIS_REQUIRE_AUTHORIZER is set, the app checks what API Gateway adds to every request its
authorizer let through (`lambda_kit.guard`: the authorizer's context, with the key's slot). The
decision is made in Flask, on the path it routes on (the route it matched, and the path in any
case and with any slashes or percent-encoding), so no spelling of a guarded path escapes it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request

from iris.errors import ApiError
from lambda_kit.guard import UNAUTHORIZED_MESSAGE, authorizer_ran, is_guarded_path, route_key

log = logging.getLogger("iris")

GUARDED_PREFIX = "/api/iris"
# The routes' own words are logged as they are; any other segment only by its form.
_ROUTE_WORDS = frozenset({"", "api", "iris", "analyze", "health"})
_MAX_SHAPE_SEGMENTS = 8


def require_authorizer_context() -> None:
    """A `before_request` hook: a guarded path without the authorizer's context is a 401."""
    event = _lambda_event()
    if not _is_guarded_request() or authorizer_ran(event):
        return
    log.warning(
        "unauthorized: no authorizer context on a guarded path",
        extra={"routeKey": route_key(event), "path_shape": path_shape(request.path)},
    )
    raise ApiError(401, "unauthorized", UNAUTHORIZED_MESSAGE)


def path_shape(path: str) -> str:
    """The path's form for the log: the routes' own words as they are, every other segment as
    its length (and a `%` when it holds one), so nothing a client typed is logged."""
    segments = path.split("/")
    shaped = [
        segment if segment in _ROUTE_WORDS else f"<{len(segment)}{'%' if '%' in segment else ''}>"
        for segment in segments[:_MAX_SHAPE_SEGMENTS]
    ]
    if len(segments) > _MAX_SHAPE_SEGMENTS:
        shaped.append(f"<{len(segments) - _MAX_SHAPE_SEGMENTS} more>")
    return "/".join(shaped)


def _is_guarded_request() -> bool:
    rule = request.url_rule
    return is_guarded_path(request.path, GUARDED_PREFIX) or (
        rule is not None and is_guarded_path(rule.rule, GUARDED_PREFIX)
    )


def _lambda_event() -> Any:
    # a2wsgi keeps the ASGI scope in the environ, and Mangum puts the Lambda event there.
    scope = request.environ.get("asgi.scope") or {}
    return scope.get("aws.event")
