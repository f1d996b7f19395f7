"""SpendSense's HTTP API as plain data, for both shapes: which function each route reaches, and
the CORS answers of its API (the local stand-in reads both without Pulumi).

`split`: each insight route reaches its own function; `/health`, `/api/stats` and `$default`
(unknown paths, wrong methods: the app's JSON 404/405) reach the API function. `single`: the
API function serves every route. With apiKeys, everything under /api/ is guarded: the stats and
insight routes, and every other path under /api/ for each method a client may send, so none
falls to the open `$default`.
"""

from __future__ import annotations

from iris_infra.components.routes import DEFAULT_ROUTE, Route, guarded_prefix

API_FUNCTION = "api"
DEPLOYMENTS = ("split", "single")
GUARDED_PREFIX = "/api"

# What API Gateway answers SpendSense's preflights with (HttpApiArgs' cors_*): every route is a
# GET, with the key in X-API-Key and no body.
CORS_ALLOW_METHODS = ("GET", "OPTIONS")
CORS_ALLOW_HEADERS = ("x-api-key",)
CORS_EXPOSE_HEADERS = ("x-request-id",)
CORS_MAX_AGE_SECONDS = 600

# Insight name (its entry point insights.<name>.handler, its functionNames key) -> its path.
INSIGHT_PATHS: dict[str, str] = {
    "weekly_recap": "/api/insights/weekly-recap",
    "spending_analysis": "/api/insights/spending-analysis",
    "budget_tracking": "/api/insights/budget-tracking",
    "budget_suggestion": "/api/insights/budget-suggestion",
    "net_worth": "/api/insights/net-worth",
}


def function_names(deployment: str) -> tuple[str, ...]:
    """The stack's functions: the API function, and in the split shape one per insight."""
    if deployment == "single":
        return (API_FUNCTION,)
    return (API_FUNCTION, *INSIGHT_PATHS)


def routes(deployment: str) -> tuple[Route, ...]:
    if deployment not in DEPLOYMENTS:
        raise ValueError(f"deployment {deployment!r} is not one of {', '.join(DEPLOYMENTS)}")
    split = deployment == "split"
    return (
        Route("GET /health", API_FUNCTION),
        Route(DEFAULT_ROUTE, API_FUNCTION),
        Route("GET /api/stats", API_FUNCTION, guarded=True),
        *(
            Route(f"GET {path}", name if split else API_FUNCTION, guarded=True)
            for name, path in INSIGHT_PATHS.items()
        ),
        *guarded_prefix(GUARDED_PREFIX, API_FUNCTION),
    )
