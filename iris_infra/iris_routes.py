"""IRIS's route table: one function behind every route.

Open: the liveness probe, and `$default`, so unknown paths and wrong methods reach the app's JSON
404/405. Guarded when the stack has apiKeys: the IRIS routes, and every other path under
/api/iris/ (iris_infra.routes.guarded_prefix), so none falls to the open `$default`.
"""

from __future__ import annotations

from iris_infra.routes import DEFAULT_ROUTE, Route, guarded_prefix

API_FUNCTION = "api"

ROUTES: tuple[Route, ...] = (
    Route("GET /health", API_FUNCTION),
    Route(DEFAULT_ROUTE, API_FUNCTION),
    Route("GET /api/iris/health", API_FUNCTION, guarded=True),
    Route("POST /api/iris/analyze", API_FUNCTION, guarded=True),
    *guarded_prefix("/api/iris", API_FUNCTION),
)
