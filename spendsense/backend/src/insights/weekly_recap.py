"""The weekly_recap function's entry point (`insights.weekly_recap.handler`):
that one insight through the Lambda handler kit, without FastAPI."""

from __future__ import annotations

from spendsense_core.insights import weekly_recap
from spendsense_core.lambda_entry import insight_handler

handler = insight_handler(weekly_recap)
