"""Whether the API's X-API-Key authorizer passed a request, and which paths need it to have.

API Gateway guards routes by route match alone, and `$default` is open: an event that reached
a function by another route (a path spelt so that no guarded route matched it, a console test
event) would otherwise be served (pitfall 41). So a function whose API has the authorizer
checks what API Gateway adds to every request the authorizer let through: the authorizer's
context in `requestContext.authorizer.lambda`, with the key's slot.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from lambda_kit.api_keys import KEY_SLOT, is_key_slot

__all__ = ["UNAUTHORIZED_MESSAGE", "authorizer_ran", "is_guarded_path", "route_key"]

UNAUTHORIZED_MESSAGE = (
    "This route needs a valid API key, checked by the API's authorizer: send it in the "
    "X-API-Key header."
)
# (A pattern `re` compiles and caches at the first guarded request, not at every cold start.)
_SLASHES = r"/+"


def authorizer_ran(event: Any) -> bool:
    """Whether the event carries the context the kit's authorizer returns (its key slot)."""
    context = _child(_child(_child(event, "requestContext"), "authorizer"), "lambda")
    return is_key_slot(context.get(KEY_SLOT))


def is_guarded_path(path: str, prefix: str) -> bool:
    """Whether a path is `prefix` or under it, in any case, with any run of slashes, and
    percent-decoded any number of times: no spelling of a guarded path escapes the check."""
    prefix = prefix.lower()
    while True:  # Each decoding that changes the path shortens it: this ends.
        normal = re.sub(_SLASHES, "/", path).lower()
        if normal == prefix or normal.startswith(prefix + "/"):
            return True
        decoded = unquote(path)
        if decoded == path:
            return False
        path = decoded


def route_key(event: Any) -> str | None:
    """The route API Gateway matched (a string it sets, safe to log), if the event says."""
    value = event.get("routeKey") if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


def _child(value: Any, key: str) -> dict[str, Any]:
    child = value.get(key) if isinstance(value, dict) else None
    return child if isinstance(child, dict) else {}
