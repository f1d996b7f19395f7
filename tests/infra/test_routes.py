"""Route tables (iris_infra.components.routes): what API Gateway would refuse is named route by
route, and a request is matched with API Gateway's precedence: the exact route, ANY on that
path, the longest greedy prefix, then $default."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iris_infra.apps.iris import routes as iris_routes
from iris_infra.apps.spendsense import routes as spendsense_routes
from iris_infra.components.routes import (
    DEFAULT_ROUTE,
    GUARDED_METHODS,
    Route,
    guarded_prefix,
    match_route,
    path_parameters,
    route_problems,
)
from tests.infra.conftest import PROJECT_DIR

# Every kind of route once: exact, ANY on an exact path, greedy routes of a method and of ANY
# at two depths, and $default.
TABLE = (
    Route("GET /health", "api"),
    Route("ANY /health", "probe"),
    Route("ANY /api/items", "items"),
    Route("GET /api/{proxy+}", "api", guarded=True),
    Route("ANY /api/{proxy+}", "catch"),
    Route("GET /api/items/{proxy+}", "items", guarded=True),
    Route("ANY /api/items/{proxy+}", "items"),
    Route(DEFAULT_ROUTE, "api"),
)
FUNCTIONS = ("api", "probe", "items", "catch")
TABLES = {
    "iris": iris_routes.ROUTES,
    "spendsense-split": spendsense_routes.routes("split"),
    "spendsense-single": spendsense_routes.routes("single"),
    "every-kind": TABLE,
    "no-default": TABLE[:-1],
}


def test_the_tables_load_without_pulumi():
    """The local stand-in reads them (and IRIS's CORS answers) with no Pulumi installed."""
    program = (
        "import sys, iris_infra.apps.iris.routes, iris_infra.apps.spendsense.routes; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("table", "functions"),
    [
        (iris_routes.ROUTES, [iris_routes.API_FUNCTION]),
        (spendsense_routes.routes("split"), spendsense_routes.function_names("split")),
        (spendsense_routes.routes("single"), spendsense_routes.function_names("single")),
        (TABLE, FUNCTIONS),
    ],
)
def test_the_stacks_tables_have_no_problem(table, functions):
    assert route_problems(table, functions) == []


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        (Route("GET /health", "api"), "route 'GET /health' is declared twice"),
        (
            Route("GET /report", "reports"),
            "route 'GET /report' reaches function 'reports', which the stack does not "
            "declare; known: api",
        ),
        (Route(DEFAULT_ROUTE, "api", guarded=True), "route '$default' cannot be guarded"),
        (Route("FETCH /health", "api"), "route 'FETCH /health' is not '<METHOD> /path'"),
        (Route("get /health", "api"), "route 'get /health' is not '<METHOD> /path'"),
        (Route("GET health", "api"), "route 'GET health' is not '<METHOD> /path'"),
        (Route("GET /a//b", "api"), "route 'GET /a//b' is not '<METHOD> /path'"),
        (Route("GET /a/{id}", "api"), "route 'GET /a/{id}' is not '<METHOD> /path'"),
        (Route("GET /{proxy+}/a", "api"), "route 'GET /{proxy+}/a' is not '<METHOD> /path'"),
        (Route("GET", "api"), "route 'GET' is not '<METHOD> /path'"),
        (Route("ANY /api/{proxy+}", "api", guarded=True), "route 'ANY /api/{proxy+}' cannot be"),
        (Route("OPTIONS /api/x", "api", guarded=True), "route 'OPTIONS /api/x' cannot be guarded"),
    ],
)
def test_each_refusal_names_the_route(route, problem):
    problems = route_problems((Route("GET /health", "api"), route), ["api"])
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems


def test_a_function_with_no_route_is_named():
    problems = route_problems((Route(DEFAULT_ROUTE, "api"),), ["api", "net_worth", "budget"])
    assert problems == [
        "function 'budget' has no route; give it one or leave it out",
        "function 'net_worth' has no route; give it one or leave it out",
    ]


def test_a_table_with_no_function_lists_none_known():
    (problem,) = route_problems((Route(DEFAULT_ROUTE, "api"),), [])
    assert problem.endswith("known: none")


def test_a_guarded_prefix_covers_every_method_a_client_sends_and_no_preflight():
    routes = guarded_prefix("/api/iris", "api")
    assert [route.key for route in routes] == [
        f"{method} /api/iris/{{proxy+}}" for method in GUARDED_METHODS
    ]
    assert all(route.guarded and route.function == "api" for route in routes)
    assert not {"ANY", "OPTIONS"} & {route.method for route in routes}


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        # The exact route, before ANY on the same path and before any greedy route.
        ("GET", "/health", "GET /health"),
        ("POST", "/health", "ANY /health"),
        ("GET", "/api/items", "ANY /api/items"),
        # The longest greedy prefix; on the same prefix, the method's route before ANY's.
        ("GET", "/api/items/7", "GET /api/items/{proxy+}"),
        ("DELETE", "/api/items/7", "ANY /api/items/{proxy+}"),
        ("GET", "/api/items/7/parts", "GET /api/items/{proxy+}"),
        ("GET", "/api/other", "GET /api/{proxy+}"),
        ("PUT", "/api/other/x", "ANY /api/{proxy+}"),
        ("GET", "/api/itemsx", "GET /api/{proxy+}"),
        # A greedy variable takes at least one character: the prefix alone is not under it.
        ("GET", "/api", DEFAULT_ROUTE),
        ("GET", "/api/", DEFAULT_ROUTE),
        ("GET", "/api/items/", "GET /api/{proxy+}"),
        # Nothing else: $default.
        ("GET", "/", DEFAULT_ROUTE),
        ("GET", "/healthz", DEFAULT_ROUTE),
        ("OPTIONS", "/elsewhere", DEFAULT_ROUTE),
    ],
)
def test_a_request_matches_as_api_gateway_picks(method, path, key):
    route = match_route(TABLE, method, path)
    assert route is not None and route.key == key


def test_without_default_an_unmatched_request_matches_nothing():
    assert match_route(TABLES["no-default"], "GET", "/elsewhere") is None
    assert match_route(TABLES["no-default"], "GET", "/api") is None
    assert match_route((), "GET", "/health") is None


def test_the_iris_table_guards_everything_under_api_iris_and_nothing_else():
    table = iris_routes.ROUTES
    assert match_route(table, "POST", "/api/iris/analyze").key == "POST /api/iris/analyze"
    assert match_route(table, "PATCH", "/api/iris/x/y").key == "PATCH /api/iris/{proxy+}"
    assert match_route(table, "GET", "/api/iris/health").guarded
    # Preflights and unknown paths fall to the open $default, which the app answers 404/405.
    for method, path in (("OPTIONS", "/api/iris/analyze"), ("GET", "/"), ("GET", "/api/x")):
        assert match_route(table, method, path).key == DEFAULT_ROUTE


def test_each_spendsense_insight_reaches_its_own_function_in_the_split_shape():
    for name, path in spendsense_routes.INSIGHT_PATHS.items():
        split = match_route(spendsense_routes.routes("split"), "GET", path)
        single = match_route(spendsense_routes.routes("single"), "GET", path)
        assert (split.function, split.guarded) == (name, True)
        assert (single.function, single.guarded) == ("api", True)


@pytest.mark.parametrize(
    ("route_key", "path", "parameters"),
    [
        ("GET /api/{proxy+}", "/api/items/7", {"proxy": "items/7"}),
        ("ANY /api/items/{proxy+}", "/api/items/a%2Fb", {"proxy": "a%2Fb"}),
        ("GET /api/{proxy+}", "/api/", {}),
        ("GET /api/{proxy+}", "/other/x", {}),
        ("GET /health", "/health", {}),
        (DEFAULT_ROUTE, "/anything", {}),
    ],
)
def test_path_parameters_carry_what_the_greedy_variable_took(route_key, path, parameters):
    assert path_parameters(route_key, path) == parameters


METHODS = st.one_of(
    st.sampled_from([*GUARDED_METHODS, "OPTIONS", "ANY", "get", ""]), st.text(max_size=8)
)
# The tables' own paths and greedy prefixes, so that generated paths hit every kind of route,
# then anything after them, or any text at all.
KNOWN_PATHS = sorted(
    {
        route.path.removesuffix("{proxy+}")
        for table in TABLES.values()
        for route in table
        if route.path is not None
    }
)
PATHS = st.one_of(
    st.text(max_size=40),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(KNOWN_PATHS),
            st.one_of(st.just(""), st.sampled_from(["x", "7/parts", "/", "{proxy+}"])),
            st.one_of(st.just(""), st.text(max_size=6)),
        ),
    ),
)


# Some requests exactly as a route of a table names them (ANY as the method too).
REQUESTS = st.one_of(
    st.tuples(METHODS, PATHS),
    st.sampled_from(
        sorted(
            {
                (route.method, route.path)
                for table in TABLES.values()
                for route in table
                if route.path is not None
            }
        )
    ),
)


@settings(derandomize=True, database=None, deadline=None, max_examples=600)
@given(table=st.sampled_from(sorted(TABLES)), request=REQUESTS)
def test_any_request_matches_a_route_of_the_table_or_none(table, request):
    method, path = request
    routes = TABLES[table]
    route = match_route(routes, method, path)
    assert route is None or route in routes
    if any(r.key == DEFAULT_ROUTE for r in routes):
        assert route is not None
    if route is not None and route.key != DEFAULT_ROUTE:
        # What it picked really matches the request: its method (or ANY), and its exact path
        # or a greedy prefix of it with something after.
        assert route.method in (method, "ANY")
        assert route.path == path or path_parameters(route.key, path)
