"""SpendSense's HTTP API: every route of docs/api.md, computed from the SQLite database.

`app` is the module-level app the Lambda entry point and local servers serve. Importing this
module loads the database (at INIT, deployed); each route's work lives in `spendsense_core`,
so one insight's entry point can serve it without this module.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import WithJsonSchema
from starlette.exceptions import HTTPException

from api.answers import Stats
from api.openapi import (
    AS_OF_SCHEMA,
    DESCRIPTION,
    GUARDED,
    HEALTH_RESPONSES,
    INSIGHT_DOCS,
    USER_ID_SCHEMA,
    describe,
    guarded_responses,
)
from spendsense_core import stats
from spendsense_core.answers import Insight, answer_insight, answer_stats
from spendsense_core.asgi import JsonSafetyNet
from spendsense_core.database import Database, container_database
from spendsense_core.errors import ApiError, error_body
from spendsense_core.insights import (
    budget_suggestion,
    budget_tracking,
    net_worth,
    spending_analysis,
    weekly_recap,
)

__all__ = ["INSIGHTS", "app", "cors_origins", "create_app"]

INSIGHTS: tuple[tuple[str, Insight], ...] = tuple(
    (module.PATH, module.compute)
    for module in (weekly_recap, spending_analysis, budget_tracking, budget_suggestion, net_worth)
)
_STATUS_CODES = {404: "not_found", 405: "method_not_allowed"}


def cors_origins(environ: Mapping[str, str]) -> tuple[str, ...]:
    """CORS_ORIGINS, comma-separated; set for local runs only (deployed, the gateway answers)."""
    return tuple(
        origin.strip() for origin in environ.get("CORS_ORIGINS", "").split(",") if origin.strip()
    )


def create_app(database: Database, origins: tuple[str, ...] = ()) -> FastAPI:
    """The app over `database`; `origins` adds CORS (local runs only)."""
    # Only the documented routes: no docs pages, and no redirect from a trailing slash (a
    # non-JSON 307); such paths are 404 not_found, as the gateway's exact routes make them.
    # app.openapi() still generates the document (docs/openapi/spendsense.json).
    app = FastAPI(
        title="SpendSense",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_query)

    @app.get(
        "/health",
        response_model=None,
        responses=HEALTH_RESPONSES,
        operation_id="health",
        summary="Liveness probe",
    )
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        stats.PATH,
        response_model=None,
        responses=guarded_responses(Stats, insight=False),
        operation_id="stats",
        summary="Database stats",
        description="Counts and date range over the whole database.",
        openapi_extra=GUARDED,
    )
    async def database_stats() -> dict[str, Any]:
        return answer_stats(database)

    for path, insight in INSIGHTS:
        documented = INSIGHT_DOCS[path]
        app.add_api_route(
            path,
            _insight_route(database, insight),
            methods=["GET"],
            response_model=None,
            responses=guarded_responses(documented.answer, insight=True),
            operation_id=documented.operation_id,
            summary=documented.summary,
            description=documented.description,
            openapi_extra=GUARDED,
        )
    describe(app)

    # Added first, so it sits inside CORS: a 500 carries the CORS headers too.
    app.add_middleware(JsonSafetyNet)
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["GET"])
    # Starlette builds the stack on the first request; at INIT it runs with Lambda's CPU burst.
    app.middleware_stack = app.build_middleware_stack()
    return app


def _insight_route(
    database: Database, insight: Insight
) -> Callable[..., Awaitable[dict[str, Any]]]:
    # Async, so no worker thread is started for it: a query takes milliseconds, and Lambda
    # sends a container one request at a time.
    async def route(
        user_id: Annotated[str, Query(min_length=1, json_schema_extra=USER_ID_SCHEMA)],
        as_of: Annotated[str | None, Query(), WithJsonSchema(AS_OF_SCHEMA)] = None,
    ) -> dict[str, Any]:
        return answer_insight(database, insight, user_id, as_of)

    route.__name__ = insight.__module__.rpartition(".")[2]
    return route


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.status)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    status = HTTPStatus(error.status_code)
    code = _STATUS_CODES.get(status, status.phrase.lower().replace(" ", "_").replace("-", "_"))
    messages = {
        404: f"No route {request.url.path}.",
        405: f"{request.method} is not allowed on {request.url.path}.",
    }
    message = messages.get(status, f"{status.phrase}.")
    return JSONResponse(error_body(code, message), status_code=status.value, headers=error.headers)


async def _invalid_query(_: Request, error: Exception) -> JSONResponse:
    """FastAPI's own validation (a 422 by default) is the API's 400 invalid_query."""
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'query'}: {problem['msg']}"
        for problem in error.errors()
    )
    return JSONResponse(error_body("invalid_query", f"Invalid query: {problems}."), status_code=400)


database = container_database()
database.prepare()
app = create_app(database, cors_origins(os.environ))
