"""Route selection as API Gateway does it: the exact route, then a greedy `{proxy+}` route of
the same method, then `$default`."""

from __future__ import annotations

import pytest

from local_api.gateway import match_route, path_parameters


@pytest.mark.parametrize(
    ("method", "path", "route_key"),
    [
        ("GET", "/health", "GET /health"),
        ("GET", "/api/iris/health", "GET /api/iris/health"),
        ("POST", "/api/iris/analyze", "POST /api/iris/analyze"),
        ("GET", "/api/iris/analyze", "GET /api/iris/{proxy+}"),
        ("POST", "/api/iris/health", "POST /api/iris/{proxy+}"),
        ("POST", "/api/iris/nope", "POST /api/iris/{proxy+}"),
        ("PUT", "/api/iris/analyze", "PUT /api/iris/{proxy+}"),
        ("PATCH", "/api/iris/a/b/c", "PATCH /api/iris/{proxy+}"),
        ("DELETE", "/api/iris/analyze", "DELETE /api/iris/{proxy+}"),
        ("OPTIONS", "/api/iris/analyze", "$default"),
        ("GET", "/api/iris", "$default"),
        ("GET", "/api/irises/x", "$default"),
        ("POST", "/health", "$default"),
        ("GET", "/nowhere", "$default"),
        ("GET", "/", "$default"),
    ],
)
def test_the_route_is_picked_by_api_gateways_precedence(
    method: str, path: str, route_key: str
) -> None:
    assert match_route(method, path) == route_key


@pytest.mark.parametrize(
    ("route_key", "path", "parameters"),
    [
        ("GET /api/iris/{proxy+}", "/api/iris/a/b", {"proxy": "a/b"}),
        ("DELETE /api/iris/{proxy+}", "/api/iris/analyze", {"proxy": "analyze"}),
        ("GET /api/iris/health", "/api/iris/health", {}),
        ("$default", "/anything", {}),
    ],
)
def test_a_greedy_route_passes_what_it_captured(
    route_key: str, path: str, parameters: dict[str, str]
) -> None:
    assert path_parameters(route_key, path) == parameters
