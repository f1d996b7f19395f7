"""The stack's HTTP API as a WSGI app: its routes, CORS answers and X-API-Key authorizer.

Requests are handled the way API Gateway handles them: a preflight is answered by the gateway
itself; guarded routes call the authorizer first (401 without a key, 403 when it says no);
everything else becomes a payload 2.0 event for the function, whose result becomes the
response, with the gateway's CORS headers in place of any the function set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

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


# The stack's routes (a test holds them equal to iris_infra.http_api's). The greedy routes keep
# every other path under /api/iris/ behind the authorizer; $default takes the rest to the
# function, unguarded, for its JSON 404/405.
OPEN_ROUTES = ("GET /health", "$default")
GUARDED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
GUARDED_ROUTES = (
    "GET /api/iris/health",
    "POST /api/iris/analyze",
    *(f"{method} /api/iris/{{proxy+}}" for method in GUARDED_METHODS),
)

# The greedy path variable the guarded routes end with, and its name in pathParameters.
GREEDY_VARIABLE = "{proxy+}"
GREEDY_NAME = "proxy"

# HTTP API's payload quota; the app's own, smaller limit answers 413 before this one.
PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024

_INTERNAL_ERROR = {"message": "Internal Server Error"}


def match_route(method: str, path: str) -> str:
    """The route key API Gateway would pick for this request, in its order of precedence: the
    exact route, else the greedy route of the same method with the longest prefix of the path,
    else $default.
    """
    routes = (*OPEN_ROUTES, *GUARDED_ROUTES)
    key = f"{method} {path}"
    if key in routes:
        return key
    greedy = [
        route
        for route in routes
        if route.startswith(f"{method} /") and _greedy_rest(route, path) is not None
    ]
    return max(greedy, key=len, default="$default")


def path_parameters(route_key: str, path: str) -> dict[str, str]:
    """The event's pathParameters: the greedy variable's part of the path, if the route has one."""
    rest = _greedy_rest(route_key, path)
    return {} if rest is None else {GREEDY_NAME: rest}


def _greedy_rest(route_key: str, path: str) -> str | None:
    """What a greedy route's variable captures of `path` (at least one character), else None."""
    route_path = route_key.partition(" ")[2]
    if not route_path.endswith(GREEDY_VARIABLE):
        return None
    prefix = route_path.removesuffix(GREEDY_VARIABLE)
    rest = path.removeprefix(prefix)
    return rest if path.startswith(prefix) and rest else None


class _Request(Request):
    max_content_length = PAYLOAD_LIMIT_BYTES


class LocalHttpApi:
    """A WSGI app; `authorizer=None` leaves the guarded routes open (no API keys configured)."""

    def __init__(
        self,
        function: LambdaHandler,
        cors: CorsPolicy,
        authorizer: LambdaHandler | None = None,
        *,
        function_name: str = "iris-local-api",
        authorizer_name: str = "iris-local-authorizer",
    ) -> None:
        self.function = function
        self.cors = cors
        self.authorizer = authorizer
        self.function_name = function_name
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
        route_key = match_route(request.method, request.path)
        event = http_api_event(request, route_key, body, path_parameters(route_key, request.path))
        if route_key in GUARDED_ROUTES and self.authorizer is not None:
            denial = self._authorize(event)
            if denial is not None:
                return denial
        try:
            result = invoke(self.function, event, LambdaContext(self.function_name))
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
    """Call a Lambda handler on this request's thread, then close the event loop it left.

    Lambda runs one invocation at a time per container; here every request has its own
    thread, and a loop left open on a finished thread would leak its sockets.
    """
    try:
        return handler(event, context)
    finally:
        _close_thread_event_loop()


def _close_thread_event_loop() -> None:
    if threading.current_thread() is threading.main_thread():
        return
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:
        return
    loop.close()
    policy.set_event_loop(None)


def api_keys_configured(environ: Mapping[str, str]) -> bool:
    """Whether the stack's authorizer would guard the API: the same variables it reads."""
    return any(environ.get(name, "").strip() for name in ("IRIS_API_KEYS", "IRIS_API_KEYS_PARAM"))


def function_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What the stack adds to the API function's environment for these settings: with API keys,
    IRIS_REQUIRE_AUTHORIZER=true, so the function checks that the authorizer ran, as deployed."""
    return {"IRIS_REQUIRE_AUTHORIZER": "true"} if api_keys_configured(environ) else {}


def build_api(cors_origins: tuple[str, ...], environ: Mapping[str, str]) -> LocalHttpApi:
    """The local API around the real Lambda handler (and the real authorizer when keys are set).

    Importing the handler builds the Flask app from the environment, as a cold start does.
    """
    from lambda_handler import handler

    authorizer = None
    if api_keys_configured(environ):
        from authorizer import handler as authorizer

    return LocalHttpApi(handler, CorsPolicy(allow_origins=cors_origins), authorizer)
