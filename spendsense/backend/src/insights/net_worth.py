"""The net_worth function's entry point (`insights.net_worth.handler`):
that one insight through the Lambda handler kit, without FastAPI."""

from __future__ import annotations

from spendsense_core.insights import net_worth
from spendsense_core.lambda_entry import insight_handler

handler = insight_handler(net_worth)
