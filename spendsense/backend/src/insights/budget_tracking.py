"""The budget_tracking function's entry point (`insights.budget_tracking.handler`):
that one insight through the Lambda handler kit, without FastAPI."""

from __future__ import annotations

from spendsense_core.insights import budget_tracking
from spendsense_core.lambda_entry import insight_handler

handler = insight_handler(budget_tracking)
