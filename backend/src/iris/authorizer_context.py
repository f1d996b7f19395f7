"""With apiKeys set, /api/iris/* is served only to requests the X-API-Key authorizer passed.

API Gateway guards /api/iris/* by route match alone, and `$default` is open: an event that
reached the function by another route (a path spelt so that no guarded route matched it, a
console test event) would otherwise be served. So, when IRIS_REQUIRE_AUTHORIZER is set, the
function checks what API Gateway adds to every request its authorizer let through: the
authorizer's context in `requestContext.authorizer.lambda`, with the key's slot. The decision
is made on the path Flask routes on (the route it matched, and the path in any case and with
any slashes or percent-encoding), so no spelling of a guarded path escapes it.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

from flask import request

from iris.api_keys import KEY_SLOT, is_key_slot
from iris.errors import ApiError

log = logging.getLogger("iris")

GUARDED_PREFIX = "/api/iris"
# The routes' own words are logged as they are; any other segment only by its form.
_ROUTE_WORDS = frozenset({"", "api", "iris", "analyze", "health"})
_MAX_SHAPE_SEGMENTS = 8
_SLASHES = re.compile(r"/+")


def require_authorizer_context() -> None:
    """A `before_request` hook: a guarded path without the authorizer's context is a 401."""
    if not _is_guarded_request() or authorizer_ran(_lambda_event()):
        return
    event = _lambda_event()
    log.warning(
        "unauthorized: no authorizer context on a guarded path",
        extra={"routeKey": _route_key(event), "path_shape": path_shape(request.path)},
    )
    raise ApiError(
        401,
        "unauthorized",
        "This route needs a valid API key, checked by the API's authorizer: send it in the "
        "X-API-Key header.",
    )


def authorizer_ran(event: Any) -> bool:
    """Whether the event carries the context the stack's authorizer returns (its key slot)."""
    context = _child(_child(_child(event, "requestContext"), "authorizer"), "lambda")
    return is_key_slot(context.get(KEY_SLOT))


def is_guarded_path(path: str) -> bool:
    """Whether a path is /api/iris or under it, in any case, with any run of slashes, and
    percent-decoded any number of times."""
    while True:  # Each decoding that changes the path shortens it: this ends.
        normal = _SLASHES.sub("/", path).lower()
        if normal == GUARDED_PREFIX or normal.startswith(GUARDED_PREFIX + "/"):
            return True
        decoded = unquote(path)
        if decoded == path:
            return False
        path = decoded


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
    return is_guarded_path(request.path) or (rule is not None and is_guarded_path(rule.rule))


def _lambda_event() -> Any:
    # a2wsgi keeps the ASGI scope in the environ, and Mangum puts the Lambda event there.
    scope = request.environ.get("asgi.scope") or {}
    return scope.get("aws.event")


def _route_key(event: Any) -> Any:
    if not isinstance(event, dict):
        return None
    route_key = event.get("routeKey")
    return route_key if isinstance(route_key, str) else None


def _child(value: Any, key: str) -> dict[str, Any]:
    child = value.get(key) if isinstance(value, dict) else None
    return child if isinstance(child, dict) else {}
