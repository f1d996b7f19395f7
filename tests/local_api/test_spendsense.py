"""SpendSense through the local API, in both shapes, over the sample database: each route
reaches the function its stack would call (split: an insight function each), the gateway
answers preflights and guards /api/ with keys, and no request gets a non-JSON 5xx."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from iris_infra.apps.spendsense.routes import CORS_EXPOSE_HEADERS, INSIGHT_PATHS
from local_api.apps import IRIS, SAMPLE_DATABASE, SPENDSENSE, build_api
from local_api.gateway import LocalHttpApi
from tests.backend.test_events_fuzz import FUZZ
from tests.events import LambdaContext, http_api_v2_event
from tests.local_api.support import (
    ALLOWED_ORIGIN,
    OTHER_ORIGIN,
    Recorder,
    call,
    spendsense_container,
    write_sample_database,
)

KEY_1 = "spendsense-key-1-8c2d6f0b4a19"
KEY_2 = "spendsense-key-2-3e7a9c5d1f60"
ORIGINS = (ALLOWED_ORIGIN,)
USER = "u-001"
SHAPES = ("split", "single")

Serve = Callable[[object], str]


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_database(tmp_path_factory.mktemp("spendsense"))


@pytest.fixture
def container(sample_database: Path) -> Iterator[None]:
    with spendsense_container(sample_database):
        yield


def spendsense_api(deployment: str) -> LocalHttpApi:
    """`python -m local_api --app spendsense` in this shape, from the test's environment."""
    return build_api(SPENDSENSE, ORIGINS, os.environ, deployment)


@pytest.fixture
def keyed_container(sample_database: Path) -> Iterator[None]:
    """The functions of a stack with `apiKeys` set, and the keys for the authorizer."""
    with spendsense_container(sample_database, keys=f"{KEY_1},{KEY_2}"):
        yield


def record_every_function(api: LocalHttpApi) -> dict[str, Recorder]:
    recorders = {key: Recorder(function) for key, function in api.functions.items()}
    api.functions.update(recorders)
    return recorders


def insight(path: str) -> str:
    return f"{path}?user_id={USER}"


# (method, path, the split shape's function, status, what the answer holds)
ROUTED = [
    ("GET", "/health", "api", 200, "status"),
    ("GET", "/api/stats", "api", 200, "lastDate"),
    *(("GET", insight(path), name, 200, "userId") for name, path in INSIGHT_PATHS.items()),
    ("POST", insight("/api/insights/weekly-recap"), "api", 405, "error"),
    ("GET", "/api/insights/weekly-recap/", "api", 404, "error"),
    ("GET", "/api/nowhere", "api", 404, "error"),
    ("GET", "/nowhere", "api", 404, "error"),
]


@pytest.mark.usefixtures("container")
@pytest.mark.parametrize("deployment", SHAPES)
def test_each_route_reaches_the_function_of_its_shape(serve: Serve, deployment: str) -> None:
    api = spendsense_api(deployment)
    recorders = record_every_function(api)
    url = serve(api)
    expected_functions = {"api", *INSIGHT_PATHS} if deployment == "split" else {"api"}

    assert set(recorders) == expected_functions
    for method, path, split_function, status, holds in ROUTED:
        before = {key: len(recorder.events) for key, recorder in recorders.items()}
        reply = call(url, method, path)

        assert reply.status == status, (path, reply.body)
        assert holds in reply.json(), (path, reply.body)
        called = {key for key, recorder in recorders.items() if len(recorder.events) > before[key]}
        assert called == {split_function if deployment == "split" else "api"}, (path, called)


@pytest.mark.usefixtures("container")
def test_an_insight_event_carries_its_route_key_and_a_greedy_one_its_path_parameters(
    serve: Serve,
) -> None:
    api = spendsense_api("split")
    recorders = record_every_function(api)
    url = serve(api)

    call(url, "GET", insight("/api/insights/net-worth"))
    call(url, "DELETE", "/api/insights/net-worth")

    (event,) = recorders["net_worth"].events
    assert (
        event["routeKey"] == event["requestContext"]["routeKey"] == ("GET /api/insights/net-worth")
    )
    assert event["queryStringParameters"] == {"user_id": USER}
    assert "pathParameters" not in event
    (greedy,) = recorders["api"].events
    assert greedy["routeKey"] == "DELETE /api/{proxy+}"
    assert greedy["pathParameters"] == {"proxy": "insights/net-worth"}
    assert recorders["net_worth"].contexts[0].function_name == "spendsense-local-net-worth"


@pytest.mark.usefixtures("container")
def test_an_insight_function_serves_its_own_route_only_and_the_gateway_routes_around_it(
    serve: Serve,
) -> None:
    """Called directly with another insight's path, the weekly-recap function answers 404;
    through the gateway, that path reaches its own function."""
    api = spendsense_api("split")
    url = serve(api)
    other = "/api/insights/budget-tracking"
    event = http_api_v2_event("GET", other, query=f"user_id={USER}", route_key=f"GET {other}")

    direct = api.functions["weekly_recap"](event, LambdaContext())
    routed = call(url, "GET", insight(other))

    assert direct["statusCode"] == 404
    assert json.loads(direct["body"])["error"]["code"] == "not_found"
    assert routed.status == 200
    assert set(routed.json()) == {"userId", "month", "budgets"}


@pytest.mark.usefixtures("keyed_container")
@pytest.mark.parametrize("deployment", SHAPES)
def test_preflights_are_answered_by_the_gateway_even_with_keys(
    serve: Serve, deployment: str
) -> None:
    api = spendsense_api(deployment)
    recorders = record_every_function(api)
    url = serve(api)

    allowed = call(
        url,
        "OPTIONS",
        "/api/insights/weekly-recap",
        headers=[
            ("Origin", ALLOWED_ORIGIN),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-api-key"),
        ],
    )
    other = call(
        url,
        "OPTIONS",
        "/api/stats",
        headers=[("Origin", OTHER_ORIGIN), ("Access-Control-Request-Method", "GET")],
    )

    assert allowed.status == 204 and allowed.body == b""
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "x-api-key" in allowed.headers["Access-Control-Allow-Headers"].split(",")
    assert other.status == 204
    assert not [name for name in other.headers if name.lower().startswith("access-control-")]
    assert all(recorder.events == [] for recorder in recorders.values())


@pytest.mark.parametrize("deployment", SHAPES)
def test_answers_carry_the_gateways_cors_headers_not_the_apps(
    serve: Serve, deployment: str, sample_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pitfall 10: even an app that allows every origin (CORS_ORIGINS, local runs only) gets
    the gateway's CORS, as deployed."""
    monkeypatch.setenv("CORS_ORIGINS", "*")
    with spendsense_container(sample_database):
        url = serve(spendsense_api(deployment))
        path = insight("/api/insights/net-worth")
        allowed = call(url, "GET", path, headers=[("Origin", ALLOWED_ORIGIN)])
        other = call(url, "GET", path, headers=[("Origin", OTHER_ORIGIN)])

    assert allowed.status == other.status == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert allowed.headers["Access-Control-Expose-Headers"] == ",".join(CORS_EXPOSE_HEADERS)
    assert not [name for name in other.headers if name.lower().startswith("access-control-")]


GUARDED = [
    ("GET", "/api/stats", 200),
    *(("GET", insight(path), 200) for path in INSIGHT_PATHS.values()),
    ("GET", "/api/nowhere", 404),
    ("POST", "/api/stats", 405),
]


@pytest.mark.usefixtures("keyed_container")
@pytest.mark.parametrize("deployment", SHAPES)
def test_with_keys_every_path_under_api_needs_one(serve: Serve, deployment: str) -> None:
    url = serve(spendsense_api(deployment))

    for method, path, status in GUARDED:
        anonymous = call(url, method, path)
        wrong = call(url, method, path, headers=[("X-API-Key", KEY_1[:-1])])
        keyed = call(url, method, path, headers=[("X-API-Key", KEY_2)])

        assert (anonymous.status, anonymous.json()) == (401, {"message": "Unauthorized"}), path
        assert (wrong.status, wrong.json()) == (403, {"message": "Forbidden"}), path
        assert keyed.status == status, (path, keyed.body)
    assert call(url, "GET", "/health").status == 200


@pytest.mark.usefixtures("container")
@pytest.mark.parametrize("deployment", SHAPES)
def test_an_unknown_path_is_the_contracts_json_404(serve: Serve, deployment: str) -> None:
    url = serve(spendsense_api(deployment))

    for path in ("/nowhere", "/", "/api", "/api/insights/weekly-recap/extra"):
        reply = call(url, "GET", path)

        assert reply.status == 404, path
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json()["error"]["code"] == "not_found", path


ROUTE_PATHS = ["/health", "/api/stats", *INSIGHT_PATHS.values()]
# GET half the time, so the routes' own answers are reached as often as their refusals.
METHODS = st.one_of(
    st.just("GET"),
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
)
SEGMENTS = st.one_of(
    st.sampled_from(["api", "insights", "stats", "health", "weekly-recap", "net-worth", ""]),
    st.text(st.characters(codec="utf-8", exclude_characters="/?#"), max_size=8),
)
PATHS = st.one_of(
    st.sampled_from(ROUTE_PATHS),
    st.tuples(st.sampled_from(ROUTE_PATHS), st.sampled_from(["/", "//", "/x", "%2F", "."])).map(
        "".join
    ),
    st.sampled_from(ROUTE_PATHS).map(str.upper),
    st.lists(SEGMENTS, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts)),
)
QUERIES = st.dictionaries(
    st.sampled_from(["user_id", "as_of", "x"]),
    st.one_of(
        st.sampled_from([USER, "u-004", "u-404", "2025-06-30", "2025-02-30", "2025-6-1", ""]),
        st.text(max_size=6),
    ),
    max_size=3,
)


@pytest.fixture(scope="module")
def apis(sample_database: Path) -> Iterator[dict[str, LocalHttpApi]]:
    with spendsense_container(sample_database):
        yield {shape: spendsense_api(shape) for shape in SHAPES}


@pytest.fixture
def urls(serve: Serve, apis: dict[str, LocalHttpApi]) -> dict[str, str]:
    return {shape: serve(api) for shape, api in apis.items()}


def assert_json_answer(status: int, content_type: str | None, body: bytes) -> None:
    """No server error, and every answer with a body is JSON (HEAD and preflights have none)."""
    assert status < 500, (status, body)
    if body:
        assert content_type == "application/json", (status, body)
        json.loads(body)


@hypothesis_settings(FUZZ, max_examples=300)
@given(method=METHODS, path=PATHS, query=QUERIES, shape=st.sampled_from(SHAPES))
def test_no_path_or_method_gets_a_non_json_server_error(
    urls: dict[str, str], method: str, path: str, query: dict[str, str], shape: str
) -> None:
    # Sent as a client sends it: percent-encoded, for the gateway to decode once.
    target = quote(path, safe="/") + (f"?{urlencode(query)}" if query else "")
    reply = call(urls[shape], method, target)

    assert_json_answer(reply.status, reply.headers.get("Content-Type"), reply.body)


@pytest.mark.parametrize(
    "answer",
    [
        (500, "text/plain", b"Internal Server Error"),
        (500, "application/json", b'{"error": {"code": "internal_error", "message": "x"}}'),
        (404, "text/html", b"<h1>Not Found</h1>"),
        (200, "application/json", b"{not json"),
    ],
)
def test_the_answer_check_refuses_what_the_contract_rules_out(
    answer: tuple[int, str, bytes],
) -> None:
    with pytest.raises((AssertionError, ValueError)):
        assert_json_answer(*answer)


@pytest.mark.parametrize(
    ("environ", "added"),
    [
        ({}, {"DB_PATH": str(SAMPLE_DATABASE)}),
        ({"DB_PATH": "/data/other.db"}, {}),
        ({"SPENDSENSE_DB_BUCKET": "bucket"}, {}),
        ({"SPENDSENSE_API_KEYS": KEY_1}, {"SPENDSENSE_REQUIRE_AUTHORIZER": "true",
                                          "DB_PATH": str(SAMPLE_DATABASE)}),
        ({"SPENDSENSE_API_KEYS_PARAM": "/spendsense/dev/api-keys", "DB_PATH": "/d.db"},
         {"SPENDSENSE_REQUIRE_AUTHORIZER": "true"}),
        ({"IRIS_API_KEYS": KEY_1, "DB_PATH": "/d.db"}, {}),
    ],
    ids=["sample-database", "db-path", "s3", "keys", "keys-parameter", "iris-keys"],
)  # fmt: skip
def test_the_functions_get_what_the_stack_adds_for_these_settings(
    environ: dict[str, str], added: dict[str, str]
) -> None:
    assert SPENDSENSE.function_environment(environ) == added


def test_each_program_has_its_own_authorizer_though_both_modules_are_named_authorizer(
    serve: Serve, sample_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both task roots share this process's sys.path (deployed, each has its own containers):
    SpendSense's `authorizer` must not be IRIS's, which reads IRIS's keys."""
    monkeypatch.setenv("IRIS_API_KEYS", KEY_2)
    with spendsense_container(sample_database, keys=KEY_1):
        spendsense_url = serve(spendsense_api("single"))
        iris_url = serve(build_api(IRIS, ORIGINS, os.environ))
        answers = {
            (program, key): call(url, "GET", path, headers=[("X-API-Key", key)]).status
            for program, url, path in [
                ("spendsense", spendsense_url, "/api/stats"),
                ("iris", iris_url, "/api/iris/health"),
            ]
            for key in (KEY_1, KEY_2)
        }

    assert answers == {
        ("spendsense", KEY_1): 200,
        ("spendsense", KEY_2): 403,
        ("iris", KEY_1): 403,
        ("iris", KEY_2): 200,
    }


@pytest.mark.usefixtures("keyed_container")
@pytest.mark.parametrize("deployment", SHAPES)
@pytest.mark.parametrize(
    ("path", "refused_by"),
    [
        # Decoded once by the gateway into a guarded route: the gateway refuses it.
        ("/api/stats", "gateway"),
        ("/%61pi/stats", "gateway"),
        ("/api%2Finsights/net-worth", "gateway"),
        # Routed to the open $default: the function sees no authorizer's context and refuses.
        ("/%2561pi/stats", "function"),
        ("/API/stats", "function"),
    ],
)
def test_every_spelling_of_a_guarded_path_needs_the_authorizer(
    serve: Serve, deployment: str, path: str, refused_by: str
) -> None:
    """pitfall 41: with keys, a path that reaches `$default` unauthorized is refused by the
    function (SPENDSENSE_REQUIRE_AUTHORIZER, as the stack sets it), never served."""
    url = serve(spendsense_api(deployment))

    reply = call(url, "GET", f"{path}?user_id={USER}")

    assert reply.status == 401, reply.body
    if refused_by == "gateway":
        assert reply.json() == {"message": "Unauthorized"}
    else:
        assert reply.json()["error"]["code"] == "unauthorized"
