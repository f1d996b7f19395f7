"""A stack's route table: which of its functions each API Gateway route reaches, and whether the
X-API-Key authorizer guards it.

Plain data with no Pulumi import: the HttpApi component declares the routes from it, and the
local stand-in (`local_api`) picks a route for each request from the same table, with API
Gateway's precedence, so both call the function the stack would call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_ROUTE",
    "GUARDED_METHODS",
    "Route",
    "guarded_prefix",
    "match_route",
    "path_parameters",
    "route_problems",
]

DEFAULT_ROUTE = "$default"
# The methods a guarded prefix covers: every one a client may send, never ANY or OPTIONS (an
# authorizer on those would refuse browser preflights; API Gateway answers preflights itself).
GUARDED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# The greedy path variable a prefix route ends with, and its name in pathParameters.
GREEDY_VARIABLE = "{proxy+}"
GREEDY_NAME = "proxy"

_METHODS = {*GUARDED_METHODS, "OPTIONS", "ANY"}
_PATH = re.compile(r"/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*(/\{proxy\+\})?)?|/\{proxy\+\}")


@dataclass(frozen=True)
class Route:
    # API Gateway's route key: "<METHOD> <path>" or "$default".
    key: str
    # The stack's name for the function the route reaches (a key of its function table).
    function: str
    # Behind the X-API-Key authorizer when the stack has API keys; open otherwise.
    guarded: bool = False

    @property
    def method(self) -> str | None:
        return None if self.key == DEFAULT_ROUTE else self.key.partition(" ")[0]

    @property
    def path(self) -> str | None:
        return None if self.key == DEFAULT_ROUTE else self.key.partition(" ")[2]


def guarded_prefix(prefix: str, function: str) -> tuple[Route, ...]:
    """Every other path under `prefix`/ for each method a client may send, guarded, so none falls
    through to an open `$default` (API Gateway picks an exact route first, then the greedy route
    with the longest prefix, then `$default`)."""
    return tuple(
        Route(f"{method} {prefix}/{GREEDY_VARIABLE}", function, guarded=True)
        for method in GUARDED_METHODS
    )


def route_problems(routes: Sequence[Route], functions: Iterable[str]) -> list[str]:
    """What API Gateway would refuse in this table, or what would make a route unreachable or
    a preflight fail; one sentence each, naming the route."""
    known = set(functions)
    problems: list[str] = []
    seen: set[str] = set()
    for route in routes:
        if route.key in seen:
            problems.append(f"route {route.key!r} is declared twice; each route key once")
        seen.add(route.key)
        if route.function not in known:
            problems.append(
                f"route {route.key!r} reaches function {route.function!r}, which the stack does "
                f"not declare; known: {', '.join(sorted(known)) or 'none'}"
            )
        if route.key == DEFAULT_ROUTE:
            if route.guarded:
                problems.append(
                    "route '$default' cannot be guarded: preflights and unknown paths reach it"
                )
            continue
        method, _, path = route.key.partition(" ")
        if method not in _METHODS or not _PATH.fullmatch(path):
            problems.append(
                f"route {route.key!r} is not '<METHOD> /path' (METHOD one of "
                f"{', '.join(sorted(_METHODS))}; a path may end with /{GREEDY_VARIABLE}) or "
                "'$default'"
            )
        elif route.guarded and method in ("ANY", "OPTIONS"):
            problems.append(
                f"route {route.key!r} cannot be guarded: an authorizer on {method} refuses "
                "browser preflights; guard each method instead"
            )
    unrouted = known - {route.function for route in routes}
    problems.extend(
        f"function {name!r} has no route; give it one or leave it out" for name in sorted(unrouted)
    )
    return problems


def match_route(routes: Sequence[Route], method: str, path: str) -> Route | None:
    """The route API Gateway would pick for this request, in its order of precedence: the exact
    route (or `ANY` on the same path), else the greedy route of the same method (or `ANY`) with
    the longest prefix of the path, else `$default`; None when the table has none of them."""
    by_key = {route.key: route for route in routes}
    for key in (f"{method} {path}", f"ANY {path}"):
        if key in by_key:
            return by_key[key]
    greedy = [
        route
        for route in routes
        if route.method in (method, "ANY") and _greedy_rest(route.key, path) is not None
    ]
    if greedy:
        # The longest prefix wins; on a tie, the route naming the method beats ANY.
        return max(
            greedy,
            key=lambda route: (len(route.key) - len(route.method or ""), route.method != "ANY"),
        )
    return by_key.get(DEFAULT_ROUTE)


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
