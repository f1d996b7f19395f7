"""IRIS's HTTP API as plain data: its route table, one function behind every route, and the
CORS answers of its API (the local stand-in reads both without Pulumi).

Open: the liveness probe, and `$default`, so unknown paths and wrong methods reach the app's JSON
404/405. Guarded when the stack has apiKeys: the IRIS routes, and every other path under
/api/iris/ (iris_infra.components.routes.guarded_prefix), so none falls to the open `$default`.
"""

from __future__ import annotations

from iris_infra.components.routes import DEFAULT_ROUTE, Route, guarded_prefix

API_FUNCTION = "api"

# What API Gateway answers IRIS's preflights with (HttpApiArgs' cors_*).
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("content-type", "x-api-key")
# Retry-After: when a browser may try again after a 429 llm_budget_exhausted (or a 503
# llm_budget_unavailable).
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")
CORS_MAX_AGE_SECONDS = 600

ROUTES: tuple[Route, ...] = (
    Route("GET /health", API_FUNCTION),
    Route(DEFAULT_ROUTE, API_FUNCTION),
    Route("GET /api/iris/health", API_FUNCTION, guarded=True),
    Route("POST /api/iris/analyze", API_FUNCTION, guarded=True),
    *guarded_prefix("/api/iris", API_FUNCTION),
)
