"""The budget_suggestion function's entry point (`insights.budget_suggestion.handler`):
that one insight through the Lambda handler kit, without FastAPI."""

from __future__ import annotations

from spendsense_core.insights import budget_suggestion
from spendsense_core.lambda_entry import insight_handler

handler = insight_handler(budget_suggestion)
