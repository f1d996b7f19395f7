"""An ASGI app for one insight's route, without a framework: the split shape's entry points.

It answers exactly what `api.main` answers for that route (the same query rules, JSON and
errors; tests/spendsense/test_insight_app.py compares the two), while a cold start loads the
one insight, the data layer and the standard library, not FastAPI.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from spendsense_core.answers import Insight, answer_insight
from spendsense_core.asgi import App, JsonSafetyNet, Receive, Scope, Send, send_json
from spendsense_core.database import Database
from spendsense_core.errors import ApiError, error_body

__all__ = ["insight_app"]


def insight_app(path: str, insight: Insight, database: Database) -> App:
    """GET `path` answers the insight; any other path is 404, any other method 405."""
    return JsonSafetyNet(_InsightRoute(path, insight, database))


class _InsightRoute:
    def __init__(self, path: str, insight: Insight, database: Database) -> None:
        self.path = path
        self.insight = insight
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != self.path:
            await send_json(send, 404, error_body("not_found", f"No route {scope['path']}."))
            return
        if scope["method"] != "GET":
            message = f"{scope['method']} is not allowed on {self.path}."
            body = error_body("method_not_allowed", message)
            await send_json(send, 405, body, ((b"allow", b"GET"),))
            return
        status, body = self._answer(scope["query_string"])
        await send_json(send, status, body)

    def _answer(self, query_string: bytes) -> tuple[int, dict[str, Any]]:
        # As Starlette reads a query: latin-1 bytes, %-escapes as UTF-8, the last value wins.
        params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        try:
            answer = answer_insight(
                self.database, self.insight, params.get("user_id"), params.get("as_of")
            )
        except ApiError as error:
            return error.status, error.body()
        return 200, answer
