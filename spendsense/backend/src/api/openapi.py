"""What SpendSense's OpenAPI document says of each route, for FastAPI's own generator.

The app answers plain dicts (the split shape's insight functions answer the same JSON without
FastAPI), so these models document the answers without validating them: the routes take
`response_model=None` and list them in `responses`. Parameters keep FastAPI's validation and
add, for the document only, the rules `spendsense_core.queries` checks (`user_id`'s length,
`as_of`'s form and earliest day). `describe(app)` adds what FastAPI does not generate: the
`X-API-Key` scheme, and no 422 (its validation errors answer 400 `invalid_query` here).

The committed document is `docs/openapi/spendsense.json`; `make openapi` writes it from
`app.openapi()`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fastapi import FastAPI
from pydantic import BaseModel

from api.answers import (
    BudgetSuggestion,
    BudgetTracking,
    Error,
    GatewayMessage,
    Health,
    NetWorth,
    SpendingAnalysis,
    WeeklyRecap,
)
from spendsense_core.insights import (
    budget_suggestion,
    budget_tracking,
    net_worth,
    spending_analysis,
    weekly_recap,
)
from spendsense_core.queries import MAX_USER_ID_LENGTH
from spendsense_core.schema import MIN_DAY

__all__ = [
    "AS_OF_SCHEMA",
    "DESCRIPTION",
    "GUARDED",
    "HEALTH_RESPONSES",
    "INSIGHT_DOCS",
    "Documented",
    "USER_ID_SCHEMA",
    "describe",
    "guarded_responses",
]

API_KEY_SCHEME = "apiKey"
# With the stack's apiKeys a key is required; without, the same routes are open.
GUARDED: dict[str, Any] = {"security": [{API_KEY_SCHEME: []}, {}]}

DESCRIPTION = (
    "The base URL is the stack's `apiUrl` output (`pulumi stack output --json`, run in "
    "`spendsense/`); `make run-spendsense` serves the same API on http://127.0.0.1:8001.\n\n"
    "**API keys.** When the stack sets `apiKeys`, every path under `/api/` needs one of them in "
    "the `X-API-Key` header; without it the same routes are open. Browser preflights never need "
    "a key.\n\n"
    "**CORS.** API Gateway answers preflights and adds the CORS headers for the origins in the "
    "stack's `corsOrigins`: methods GET, OPTIONS; request header `X-API-Key`; a page may read "
    "`X-Request-Id`.\n\n"
    '**Errors.** The functions answer every error as `{"error": {"code", "message"}}`; a '
    "client switches on `code`. Unknown paths are 404 `not_found`, other methods on a route 405 "
    "`method_not_allowed` (with `Allow`). Some answers come from API Gateway itself, in its own "
    'shape `{"message": "..."}` and without `X-Request-Id`: 401 and 403 from the '
    "authorizer, 429 when throttled, 500 when a function crashed, 503 when it did not answer "
    "within 30 s. Read the status first and expect either body.\n\n"
    "**Amounts** are integer cents; days are `YYYY-MM-DD`, windows inclusive."
)

# FastAPI validates only `min_length`; the rest is `parse_insight_query`'s, so that both shapes
# answer the same message.
USER_ID_SCHEMA: dict[str, Any] = {
    "maxLength": MAX_USER_ID_LENGTH,
    "examples": ["u-001"],
}
# A day from MIN_DAY (0002-01-01) on: an insight's window reaches three months back, and the
# calendar starts at 0001-01-01. JSON Schema has no minimum for a date, so the pattern says it.
AS_OF_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": "^(?!000[01]-)[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "examples": ["2025-06-30"],
    "description": (
        "The day the insight is answered for (`to`): a calendar day written `YYYY-MM-DD`, from "
        f"{MIN_DAY.isoformat()} on. Default: the user's latest transaction date (else the "
        "database's latest, else today in UTC)."
    ),
}


def _request_id(required: bool) -> dict[str, Any]:
    if required:
        return {
            "description": "The Lambda request id of this answer, as in the function's logs.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
    return {
        "description": "The Lambda request id when a function answered; absent from API "
        "Gateway's own answers.",
        "schema": {"type": "string", "minLength": 1},
    }


def _examples(**bodies: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"examples": {name: {"value": b} for name, b in bodies.items()}}}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _either() -> dict[str, Any]:
    """A response that is the function's error or API Gateway's own answer."""
    return {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Error"},
                    {"$ref": "#/components/schemas/GatewayMessage"},
                ]
            }
        }
    }


def _merged(*contents: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {}
    for content in contents:
        media.update(content["application/json"])
    return {"application/json": media}


_GATEWAY_ANSWERS: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "API Gateway's own answer when the stage's throttling refuses the request.",
        "model": GatewayMessage,
        "content": _examples(gateway={"message": "Too Many Requests"}),
    },
    500: {
        "description": "`internal_error`: a function failed to answer (never with a traceback); "
        "or API Gateway's own answer when a function crashed rather than answering.",
        "headers": {"X-Request-Id": _request_id(False)},
        "content": _merged(
            _either(),
            _examples(
                internal_error=_error(
                    "internal_error", "The server failed to answer; try again later."
                ),
                gateway={"message": "Internal Server Error"},
            ),
        ),
    },
}

HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The function is up; touches no data.",
        "model": Health,
        "headers": {"X-Request-Id": _request_id(True)},
    },
    **_GATEWAY_ANSWERS,
    503: {
        "description": "API Gateway's own answer when the function did not answer within 30 s.",
        "model": GatewayMessage,
        "content": _examples(gateway={"message": "Service Unavailable"}),
    },
}

UNAUTHORIZED_MESSAGE = (
    "This route needs a valid API key, checked by the API's authorizer: send it in the "
    "X-API-Key header."
)


def guarded_responses(model: type[BaseModel], *, insight: bool) -> dict[int | str, Any]:
    """The answers of a route under /api/: `model` with 200, the errors of an insight's query
    when `insight`, the authorizer's, the data's and API Gateway's."""
    responses: dict[int | str, Any] = {
        200: {
            "description": "The answer; amounts in integer cents.",
            "model": model,
            "headers": {"X-Request-Id": _request_id(True)},
        },
    }
    if insight:
        responses[400] = {
            "description": "`invalid_query`: no `user_id` (or an empty one), one over "
            f"{MAX_USER_ID_LENGTH} characters, or an `as_of` that is not a day from "
            f"{MIN_DAY.isoformat()} on.",
            "model": Error,
            "headers": {"X-Request-Id": _request_id(True)},
            "content": _examples(
                invalid_query=_error(
                    "invalid_query",
                    f"as_of must be a calendar day written YYYY-MM-DD, from {MIN_DAY.isoformat()}.",
                )
            ),
        }
    responses[401] = {
        "description": "Only with the stack's `apiKeys` set. API Gateway's own answer when the "
        "request has no `X-API-Key` header, or the function's `unauthorized` error for a request "
        "that reached it without passing the authorizer.",
        "headers": {"X-Request-Id": _request_id(False)},
        "content": _merged(
            _either(),
            _examples(
                gateway={"message": "Unauthorized"},
                unauthorized=_error("unauthorized", UNAUTHORIZED_MESSAGE),
            ),
        ),
    }
    responses[403] = {
        "description": "Only with the stack's `apiKeys` set: the authorizer refused the "
        "`X-API-Key`. API Gateway's own answer, without `X-Request-Id`.",
        "model": GatewayMessage,
        "content": _examples(gateway={"message": "Forbidden"}),
    }
    if insight:
        responses[404] = {
            "description": "`user_not_found`: the database has no such `user_id`.",
            "model": Error,
            "headers": {"X-Request-Id": _request_id(True)},
            "content": _examples(
                user_not_found=_error("user_not_found", "No user with user_id 'u-404'.")
            ),
        }
    responses.update(_GATEWAY_ANSWERS)
    responses[503] = {
        "description": "`data_unavailable`: the database could not be loaded, or a query ran "
        "past its time; or API Gateway's own answer when the function did not answer within "
        "30 s.",
        "headers": {"X-Request-Id": _request_id(False)},
        "content": _merged(
            _either(),
            _examples(
                data_unavailable=_error(
                    "data_unavailable",
                    "The SpendSense database is not available; try again later.",
                ),
                gateway={"message": "Service Unavailable"},
            ),
        ),
    }
    return responses


class Documented(NamedTuple):
    answer: type[BaseModel]
    # What a generated client names the call.
    operation_id: str
    summary: str
    description: str


INSIGHT_DOCS: dict[str, Documented] = {
    weekly_recap.PATH: Documented(
        WeeklyRecap,
        "weeklyRecap",
        "Weekly recap",
        "Spending, income and transactions of the 7 days ending `as_of`.",
    ),
    spending_analysis.PATH: Documented(
        SpendingAnalysis,
        "spendingAnalysis",
        "Spending analysis",
        "Each category's spending and share of the 30 days ending `as_of`.",
    ),
    budget_tracking.PATH: Documented(
        BudgetTracking,
        "budgetTracking",
        "Budget tracking",
        "Each budget's limit against the spending of `as_of`'s month so far.",
    ),
    budget_suggestion.PATH: Documented(
        BudgetSuggestion,
        "budgetSuggestion",
        "Budget suggestion",
        "A monthly limit per category from the 3 full months before `as_of`'s month.",
    ),
    net_worth.PATH: Documented(
        NetWorth,
        "netWorth",
        "Net worth",
        "Assets less liabilities, from the accounts' current balances (`as_of` selects no "
        "history here).",
    ),
}


def describe(app: FastAPI) -> None:
    """Make `app.openapi()` add the X-API-Key scheme and drop FastAPI's 422 (validation errors
    answer 400 `invalid_query` here). FastAPI generates the document when first asked for it
    (never at INIT) and keeps it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for operations in document["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            document["components"]["schemas"].pop(name, None)
        document["components"]["securitySchemes"] = {
            API_KEY_SCHEME: {
                "type": "apiKey",
                "in": "header",
                "name": "X-API-Key",
                "description": "One of the stack's `apiKeys`, checked by API Gateway's "
                "authorizer; only when the stack sets `apiKeys`. A key sent by a web page is "
                "public: it identifies the page, not its user.",
            }
        }
        return document

    app.openapi = openapi  # type: ignore[method-assign]
