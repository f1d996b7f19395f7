"""The JSON each SpendSense route answers, as pydantic models for the OpenAPI document only:
the routes answer plain dicts (api.openapi says why), and these describe them."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(_Answer):
    status: Literal["ok"]


class Stats(_Answer):
    users: NonNegativeInt
    accounts: NonNegativeInt
    transactions: NonNegativeInt
    firstDate: date | None = Field(description="The earliest transaction's day; null if none.")
    lastDate: date | None = Field(description="The latest transaction's day; null if none.")


class WeeklyRecap(_Answer):
    userId: str
    from_: date = Field(alias="from", description="`to` - 6 days.")
    to: date
    spentCents: NonNegativeInt
    incomeCents: NonNegativeInt
    transactions: NonNegativeInt
    byCategory: dict[str, NonNegativeInt] = Field(
        description="Spent cents by category; only categories with spending."
    )


class CategorySpending(_Answer):
    category: str
    spentCents: NonNegativeInt
    share: float = Field(ge=0, le=1, description="spent / total, to 4 decimals (0 if no total).")


class SpendingAnalysis(_Answer):
    userId: str
    from_: date = Field(alias="from", description="`to` - 29 days.")
    to: date
    totalSpentCents: NonNegativeInt
    categories: list[CategorySpending] = Field(
        description="By `spentCents` descending, then `category`."
    )


class TrackedBudget(_Answer):
    category: str
    limitCents: int
    spentCents: NonNegativeInt
    remainingCents: int = Field(description="limit - spent; negative when over.")
    status: Literal["over", "under"]


class BudgetTracking(_Answer):
    userId: str
    month: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="`as_of`'s month, YYYY-MM.")
    budgets: list[TrackedBudget] = Field(
        description="Every budget of the user, by `category`; spending from the 1st to `as_of`."
    )


class Suggestion(_Answer):
    category: str
    averageSpentCents: NonNegativeInt = Field(description="The 3 months' total / 3, rounded down.")
    suggestedLimitCents: NonNegativeInt = Field(
        description="The average rounded up to a multiple of 1000."
    )


class BudgetSuggestion(_Answer):
    userId: str
    months: list[str] = Field(
        min_length=3, max_length=3, description="The 3 full months before `as_of`'s, oldest first."
    )
    suggestions: list[Suggestion] = Field(
        description="Every category with spending in those months, by `category`."
    )


class NetWorth(_Answer):
    userId: str
    assetsCents: int
    liabilitiesCents: int
    netWorthCents: int = Field(description="assets - liabilities.")


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", description="What to switch on.")
    message: str = Field(description="A sentence for people; never a traceback.")


class Error(BaseModel):
    """Every error the functions answer."""

    model_config = ConfigDict(extra="forbid")
    error: _Fault


class GatewayMessage(BaseModel):
    """An answer API Gateway gives itself; an HTTP API cannot change it."""

    model_config = ConfigDict(extra="forbid")
    message: str
