"""The spending_analysis function's entry point (`insights.spending_analysis.handler`):
that one insight through the Lambda handler kit, without FastAPI."""

from __future__ import annotations

from spendsense_core.insights import spending_analysis
from spendsense_core.lambda_entry import insight_handler

handler = insight_handler(spending_analysis)
