"""A stack's HTTP API as a WSGI app: its route table, CORS answers and X-API-Key authorizer.

Requests are handled the way API Gateway handles them: a preflight is answered by the gateway
itself; the route is picked from the stack's table (`iris_infra.components.routes.match_route`);
guarded routes call the authorizer first (401 without a key, 403 when it says no); everything
else becomes a payload 2.0 event for the route's function, whose result becomes the response,
with the gateway's CORS headers in place of any the function set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from iris_infra.components.routes import Route, match_route, path_parameters, route_problems
from local_api.cors import CorsPolicy, is_preflight
from local_api.events import (
    LambdaContext,
    PlainResponse,
    authorizer_event,
    gateway_response,
    http_api_event,
    http_response,
)

LambdaHandler = Callable[[dict[str, Any], Any], Any]

log = logging.getLogger("local_api")


# HTTP API's payload quota; the app's own, smaller limit answers 413 before this one.
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024

_INTERNAL_ERROR = {"message": "Internal Server Error"}


class _Request(Request):
    max_content_length = PAYLOAD_LIMIT_BYTES


class LocalHttpApi:
    """A WSGI app routing by a stack's route table to its functions, each a Lambda handler
    (`functions`: the table's function keys -> handlers). `authorizer=None` leaves the guarded
    routes open (no API keys configured)."""

    def __init__(
        self,
        routes: Sequence[Route],
        functions: Mapping[str, LambdaHandler],
        cors: CorsPolicy,
        authorizer: LambdaHandler | None = None,
        *,
        function_names: Mapping[str, str] | None = None,
        authorizer_name: str = "local-authorizer",
    ) -> None:
        problems = route_problems(routes, functions)
        if problems:
            raise ValueError("; ".join(problems))
        self.routes = tuple(routes)
        # Mutable, so a test can stand a recorder or a broken release in for one function.
        self.functions = dict(functions)
        self.cors = cors
        self.authorizer = authorizer
        self.function_names = {
            key: (function_names or {}).get(key, f"local-{key}") for key in functions
        }
        self.authorizer_name = authorizer_name

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        response = self.respond(_Request(environ))
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        origin = request.headers.get("Origin")
        requested_method = request.headers.get("Access-Control-Request-Method")
        if is_preflight(request.method, origin, requested_method):
            return PlainResponse(status=204, headers=self.cors.preflight_headers(origin))
        response = self._forward(request)
        self.cors.apply(response.headers, origin)
        return response

    def _forward(self, request: Request) -> Response:
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return gateway_response(413, {"message": "Request Entity Too Large"})
        route = match_route(self.routes, request.method, request.path)
        if route is None:
            # A table without $default: API Gateway answers an unmatched request itself.
            return gateway_response(404, {"message": "Not Found"})
        event = http_api_event(request, route.key, body, path_parameters(route.key, request.path))
        if route.guarded and self.authorizer is not None:
            denial = self._authorize(event)
            if denial is not None:
                return denial
        function = self.functions[route.function]
        try:
            result = invoke(function, event, LambdaContext(self.function_names[route.function]))
        except Exception:
            log.exception("the function raised; API Gateway answers 500")
            return gateway_response(500, _INTERNAL_ERROR)
        return http_response(result)

    def _authorize(self, event: dict[str, Any]) -> Response | None:
        """None when the request may go on; otherwise the gateway's answer."""
        key = event["headers"].get("x-api-key")
        if not key:
            # The identity source is missing: the gateway answers without calling the authorizer.
            return gateway_response(401, {"message": "Unauthorized"})
        try:
            decision = invoke(
                self.authorizer,
                authorizer_event(event, [key]),
                LambdaContext(self.authorizer_name),
            )
        except Exception:
            log.exception("the authorizer raised; API Gateway answers 500")
            return gateway_response(500, _INTERNAL_ERROR)
        if not (isinstance(decision, Mapping) and decision.get("isAuthorized") is True):
            return gateway_response(403, {"message": "Forbidden"})
        # The integration sees the authorizer's context, as on AWS.
        event["requestContext"]["authorizer"] = {"lambda": dict(decision.get("context") or {})}
        return None


def invoke(handler: LambdaHandler, event: dict[str, Any], context: LambdaContext) -> Any:
    """Call a Lambda handler on this request's thread, with an event loop of its own.

    Lambda calls a handler on its main thread, where `asyncio.get_event_loop()` (Mangum's
    call) makes a loop; here every request has its own thread, which has none, and a loop
    left open on a finished thread would leak its sockets.
    """
    on_request_thread = threading.current_thread() is not threading.main_thread()
    if on_request_thread:
        asyncio.set_event_loop(asyncio.new_event_loop())
    try:
        return handler(event, context)
    finally:
        if on_request_thread:
            _close_thread_event_loop()


def _close_thread_event_loop() -> None:
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:
        return
    loop.close()
    policy.set_event_loop(None)
