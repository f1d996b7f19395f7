"""CORS the way API Gateway HTTP API applies its cors_configuration.

With CORS configured, the gateway answers preflights itself (no route, no authorizer, no
function), adds the configured headers to every other answer for an allowed origin, and
ignores any CORS header the function returns. Each app's lists are its stack's own
(`iris_infra.apps.iris.routes`, `iris_infra.apps.spendsense.routes`: plain data, no Pulumi);
IRIS's are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.datastructures import Headers

from iris_infra.apps.iris.routes import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    CORS_MAX_AGE_SECONDS,
)


@dataclass(frozen=True)
class CorsPolicy:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = CORS_ALLOW_METHODS
    allow_headers: tuple[str, ...] = CORS_ALLOW_HEADERS
    expose_headers: tuple[str, ...] = CORS_EXPOSE_HEADERS
    max_age_seconds: int = CORS_MAX_AGE_SECONDS

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this Origin, or None if it is not allowed."""
        if not origin:
            return None
        if "*" in self.allow_origins:
            return "*"
        return origin if origin in self.allow_origins else None

    def preflight_headers(self, origin: str | None) -> Headers:
        """Headers of the gateway's own 204 answer to a preflight; empty for other origins."""
        headers = Headers()
        allowed = self.allowed_origin(origin)
        if allowed is None:
            return headers
        headers["access-control-allow-origin"] = allowed
        headers["access-control-allow-methods"] = ",".join(self.allow_methods)
        headers["access-control-allow-headers"] = ",".join(self.allow_headers)
        headers["access-control-max-age"] = str(self.max_age_seconds)
        return headers

    def apply(self, headers: Headers, origin: str | None) -> None:
        """Replace whatever CORS headers the function set with the gateway's own."""
        for name in {key.lower() for key in headers.keys()}:
            if name.startswith("access-control-"):
                del headers[name]
        allowed = self.allowed_origin(origin)
        if allowed is None:
            return
        headers["access-control-allow-origin"] = allowed
        if self.expose_headers:
            headers["access-control-expose-headers"] = ",".join(self.expose_headers)


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    """A CORS preflight: OPTIONS with both Origin and Access-Control-Request-Method."""
    return method == "OPTIONS" and bool(origin) and bool(requested_method)
