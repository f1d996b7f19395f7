"""With API keys, the local API and the deployed one agree on every spelling of a guarded path:
the gateway decodes the path once and routes it, the authorizer's context reaches the function
as `requestContext.authorizer.lambda`, and the function (IRIS_REQUIRE_AUTHORIZER, as the stack
sets it) refuses a guarded path that arrived without it."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator

import pytest

import lambda_handler
import server
from local_api.apps import IRIS, build_api
from tests.local_api.support import ALLOWED_ORIGIN, call

KEY = "local-key-1-5b0e3c9a7d214f68"
BODY = json.dumps({"text": "Sepal 5.1 cm, petal 1.4 cm"}).encode()
GATEWAY_401 = (401, {"message": "Unauthorized"})
FUNCTION_401 = "unauthorized"


@pytest.fixture
def url(serve: Callable[[object], str]) -> Iterator[str]:
    """`python -m local_api` with API keys: the function built with what the stack adds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IRIS_API_KEYS", KEY)
        patch.setenv("IRIS_LLM_PROVIDER", "offline")
        for name, value in IRIS.function_environment({"IRIS_API_KEYS": KEY}).items():
            patch.setenv(name, value)
        importlib.reload(server)
        importlib.reload(lambda_handler)
        yield serve(build_api(IRIS, (ALLOWED_ORIGIN,), {"IRIS_API_KEYS": KEY}))
    importlib.reload(server)
    importlib.reload(lambda_handler)


def test_with_api_keys_the_function_is_told_to_require_the_authorizer() -> None:
    assert IRIS.function_environment({"IRIS_API_KEYS": KEY}) == {"IRIS_REQUIRE_AUTHORIZER": "true"}
    assert IRIS.function_environment({"IRIS_API_KEYS_PARAM": "/iris/dev/api-keys"}) == {
        "IRIS_REQUIRE_AUTHORIZER": "true"
    }
    assert IRIS.function_environment({}) == {}


@pytest.mark.parametrize(
    ("path", "with_key"),
    [
        # Decoded once by the gateway into the guarded route: the authorizer runs.
        ("/api/iris/analyze", 200),
        ("/api/%69ris/analyze", 200),
        ("/%61pi/iris/analyze", 200),
        ("/api/iris%2Fanalyze", 200),
        ("/api/iris%2fanalyze", 200),
        # Routed to $default: no authorizer, so the function refuses it.
        ("/api/%2569ris/analyze", FUNCTION_401),
        ("/api/iris%252Fanalyze", FUNCTION_401),
        ("/API/iris/analyze", FUNCTION_401),
        ("/api/IRIS/analyze", FUNCTION_401),
    ],
)
def test_every_spelling_of_a_guarded_path_needs_the_authorizer(
    url: str, path: str, with_key: int | str
) -> None:
    key = [("Content-Type", "application/json"), ("X-API-Key", KEY)]
    keyed = call(url, "POST", path, headers=key, body=BODY)
    anonymous = call(url, "POST", path, headers=key[:1], body=BODY)

    if with_key == 200:
        assert keyed.status == 200, keyed.body
        assert keyed.json()["analysis"]
        assert (anonymous.status, anonymous.json()) == GATEWAY_401
    else:
        for reply in (keyed, anonymous):
            assert (reply.status, reply.json()["error"]["code"]) == (401, with_key), reply.body
