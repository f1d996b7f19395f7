"""Route selection as API Gateway does it, over the tables the local API serves: the exact route,
then a greedy `{proxy+}` route of the same method, then `$default`; and in SpendSense's split
shape, each insight route to its own function."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iris_infra.apps.iris import routes as iris_routes
from iris_infra.apps.spendsense.routes import INSIGHT_PATHS
from iris_infra.components.routes import match_route, path_parameters
from local_api import PROJECT_DIR
from local_api.apps import IRIS, SPENDSENSE


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
def test_the_iris_route_is_picked_by_api_gateways_precedence(
    method: str, path: str, route_key: str
) -> None:
    route = match_route(IRIS.routes(None), method, path)

    assert route is not None and route.key == route_key
    assert route.guarded is (route_key not in ("GET /health", "$default"))


def test_the_local_api_serves_the_stacks_own_iris_table() -> None:
    """One table for the stack and the local run: no copy to drift."""
    assert IRIS.routes(None) is iris_routes.ROUTES


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


SPENDSENSE_CASES = [
    ("GET", "/health", "GET /health", "api"),
    ("GET", "/api/stats", "GET /api/stats", "api"),
    *(("GET", path, f"GET {path}", name) for name, path in INSIGHT_PATHS.items()),
    ("POST", "/api/insights/weekly-recap", "POST /api/{proxy+}", "api"),
    ("HEAD", "/api/insights/net-worth", "HEAD /api/{proxy+}", "api"),
    ("GET", "/api/insights/weekly-recap/", "GET /api/{proxy+}", "api"),
    ("GET", "/api/insights", "GET /api/{proxy+}", "api"),
    ("GET", "/api", "$default", "api"),
    ("OPTIONS", "/api/stats", "$default", "api"),
    ("GET", "/", "$default", "api"),
]


@pytest.mark.parametrize("deployment", ["split", "single"])
@pytest.mark.parametrize(("method", "path", "route_key", "split_function"), SPENDSENSE_CASES)
def test_each_spendsense_route_reaches_the_function_of_its_shape(
    deployment: str, method: str, path: str, route_key: str, split_function: str
) -> None:
    route = match_route(SPENDSENSE.routes(deployment), method, path)

    assert route is not None and route.key == route_key
    assert route.function == (split_function if deployment == "split" else "api")
    assert route.guarded is (route_key not in ("GET /health", "$default"))


@pytest.mark.parametrize(
    ("deployment", "entry_points"),
    [
        ("single", {"api": "handler"}),
        ("split", {"api": "handler", **{name: f"insights.{name}" for name in INSIGHT_PATHS}}),
    ],
)
def test_each_spendsense_function_has_the_entry_point_its_image_command_names(
    deployment: str, entry_points: dict[str, str]
) -> None:
    assert SPENDSENSE.entry_points(deployment) == entry_points


def test_the_local_api_reads_the_tables_without_pulumi() -> None:
    """`make run` installs no Pulumi: the tables it shares with the stacks are plain data."""
    code = (
        "import sys, local_api.__main__;"
        "from local_api.apps import APPS;"
        "[app.routes(None) for app in APPS.values()];"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == "[]\n"
