"""Every error example in the OpenAPI documents is an answer the API gives, word for word.

Each example is provoked through the local stand-in for API Gateway (its authorizer and its own
answers) in front of the app's real Lambda handler, and the answer must be the example: status
and body. So the documents list real codes and messages, and a new example needs a case here.
API Gateway's own answers are examples too (pitfall 42), and so is the function's 401 for a
request that did not pass the authorizer (pitfall 41); its throttling 429 and its
integration-timeout 503 cannot be provoked locally, and are listed as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.test import Client, TestResponse

import lambda_kit
from iris.analyze import AnalysisService
from iris.app import create_app as create_iris_app
from iris.settings import Settings
from iris_infra.apps.iris import routes as iris_routes
from iris_infra.apps.spendsense import routes as spendsense_routes
from local_api.apps import IRIS, SPENDSENSE
from local_api.cors import CorsPolicy
from local_api.gateway import LambdaHandler, LocalHttpApi
from spendsense_core.database import Database, LocalFile, NotConfigured
from tests.backend.openai_stub import OpenAIStub
from tests.local_api.support import write_sample_database
from tests.openapi.conftest import examples, load

KEY = "examples-key-0c5e2f7a9b1d4386"
JSON = {"Content-Type": "application/json"}
NOT_EMULATED = {("429", "gateway"), ("503", "gateway")}


@dataclass(frozen=True)
class Case:
    """A request that provokes one example, with the settings of the API that answers it."""

    method: str
    path: str
    environ: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    keys: bool = False
    # What else the case needs: "crash" (the app raises), "gateway_crash" (the function does),
    # "upstream" (a model endpoint answering `upstream`), "no_data".
    setup: str = ""
    upstream: dict[str, Any] = field(default_factory=dict)


def analyze(body: bytes, key: str | None = None, **options: Any) -> Case:
    headers = {**JSON, **({"X-API-Key": key} if key else {})}
    return Case("POST", "/api/iris/analyze", headers=headers, body=body, **options)


OPENAI = {"IRIS_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test", "OPENAI_MAX_RETRIES": "0"}
IRIS_CASES: dict[tuple[str, str], Case] = {
    ("400", "invalid_json"): analyze(b"{"),
    ("400", "invalid_field"): analyze(b'{"text": "   "}'),
    ("400", "text_too_long"): analyze(b'{"text": "%s"}' % (b"x" * 20_001)),
    ("401", "gateway"): analyze(b'{"text": "hi"}', keys=True),
    ("401", "unauthorized"): analyze(
        b'{"text": "hi"}', environ={"IRIS_REQUIRE_AUTHORIZER": "true"}
    ),
    ("403", "gateway"): analyze(b'{"text": "hi"}', "no", keys=True),
    ("413", "body_too_large"): analyze(b'{"text": "hi"}', environ={"IRIS_MAX_BODY_BYTES": "8"}),
    ("415", "unsupported_media_type"): Case("POST", "/api/iris/analyze", body=b"hi"),
    ("429", "llm_budget_exhausted"): analyze(
        b'{"text": "hi"}', environ={**OPENAI, "IRIS_LLM_DAILY_TOKEN_BUDGET": "1"}
    ),
    ("500", "internal_error"): analyze(b'{"text": "hi"}', setup="crash"),
    ("500", "gateway"): Case("GET", "/health", setup="gateway_crash"),
    ("502", "llm_upstream_error"): analyze(
        b'{"text": "hi"}', setup="upstream", upstream={"status": 500}
    ),
    ("502", "llm_rate_limited"): analyze(
        b'{"text": "hi"}', setup="upstream", upstream={"status": 429}
    ),
    ("502", "llm_auth_failed"): analyze(
        b'{"text": "hi"}', setup="upstream", upstream={"status": 401}
    ),
    ("503", "llm_not_configured"): analyze(
        b'{"text": "hi"}', environ={"IRIS_LLM_PROVIDER": "openai"}
    ),
    ("503", "llm_budget_unavailable"): analyze(
        b'{"text": "hi"}',
        environ={
            **OPENAI,
            "IRIS_LLM_DAILY_TOKEN_BUDGET": "100000",
            "IRIS_CACHE_TABLE": "iris-examples",
            # Nothing listens there: the budget's counter cannot reserve.
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
        },
    ),
    ("504", "llm_timeout"): analyze(
        b'{"text": "hi"}',
        environ={"OPENAI_TIMEOUT_S": "0.3"},
        setup="upstream",
        upstream={"delay_s": 1.0},
    ),
}

INSIGHT = "/api/insights/net-worth"
SPENDSENSE_CASES: dict[tuple[str, str], Case] = {
    ("400", "invalid_query"): Case("GET", f"{INSIGHT}?user_id=u-001&as_of=0001-12-31"),
    ("401", "gateway"): Case("GET", f"{INSIGHT}?user_id=u-001", keys=True),
    ("401", "unauthorized"): Case(
        "GET", f"{INSIGHT}?user_id=u-001", environ={"SPENDSENSE_REQUIRE_AUTHORIZER": "true"}
    ),
    ("403", "gateway"): Case(
        "GET", f"{INSIGHT}?user_id=u-001", keys=True, headers={"X-API-Key": "no"}
    ),
    ("404", "user_not_found"): Case("GET", f"{INSIGHT}?user_id=u-404"),
    ("500", "internal_error"): Case("GET", f"{INSIGHT}?user_id=u-001", setup="crash"),
    ("500", "gateway"): Case("GET", "/health", setup="gateway_crash"),
    ("503", "data_unavailable"): Case("GET", f"{INSIGHT}?user_id=u-001", setup="no_data"),
}


def crashing_function(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("the function crashed")


def iris_function(case: Case, monkeypatch: pytest.MonkeyPatch) -> LambdaHandler:
    app = create_iris_app(Settings.from_env(case.environ))
    if case.setup == "crash":

        def failing(*args: Any) -> Any:
            raise RuntimeError("the analysis crashed")

        monkeypatch.setattr(AnalysisService, "analyze", failing)
    return lambda_kit.http_handler(lambda_kit.wsgi(app), logger=logging.getLogger("iris"))


def spendsense_function(
    case: Case, database: Path, monkeypatch: pytest.MonkeyPatch
) -> LambdaHandler:
    from api.main import create_app

    source = NotConfigured("no data") if case.setup == "no_data" else LocalFile(database)
    if case.setup == "crash":

        def failing(self: Database) -> Any:
            raise RuntimeError("the query crashed")

        monkeypatch.setattr(Database, "connection", failing)
    guarded = "/api" if case.environ.get("SPENDSENSE_REQUIRE_AUTHORIZER") else None
    return lambda_kit.http_handler(
        lambda_kit.asgi(create_app(Database(source))),
        logger=logging.getLogger("spendsense"),
        guarded_prefix=guarded,
    )


def answer(
    case: Case,
    function: LambdaHandler,
    routes: Any,
    authorizer: Callable[[], LambdaHandler],
    monkeypatch: pytest.MonkeyPatch,
    keys_variable: str,
) -> TestResponse:
    if case.keys:
        monkeypatch.setenv(keys_variable, KEY)
    api = LocalHttpApi(
        routes,
        {"api": crashing_function if case.setup == "gateway_crash" else function},
        CorsPolicy(allow_origins=("http://127.0.0.1:5173",)),
        authorizer() if case.keys else None,
    )
    return Client(api).open(case.path, method=case.method, headers=case.headers, data=case.body)


def _ids(cases: dict[tuple[str, str], Case]) -> list[str]:
    return [f"{status}-{example}" for status, example in sorted(cases)]


def documented(name: str) -> dict[tuple[str, str], Any]:
    """(status, example name) -> body; one body for each, wherever it is documented."""
    bodies: dict[tuple[str, str], Any] = {}
    for example in examples(load(name)):
        key = (example.status, example.name)
        assert bodies.setdefault(key, example.body) == example.body, key
    return bodies


@pytest.mark.parametrize(
    ("name", "cases"),
    [("iris.json", IRIS_CASES), ("spendsense.json", SPENDSENSE_CASES)],
    ids=["iris", "spendsense"],
)
def test_every_example_has_a_case_or_is_api_gateways_own(name: str, cases: dict) -> None:
    assert set(documented(name)) - NOT_EMULATED == set(cases)


@pytest.mark.parametrize(("status", "example"), sorted(IRIS_CASES), ids=_ids(IRIS_CASES))
def test_iris_answers_its_example(
    status: str, example: str, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    case = IRIS_CASES[(status, example)]
    if case.setup == "upstream":
        stub = OpenAIStub(base_url=httpserver.url_for("/v1"))
        stub.always(**case.upstream)
        httpserver.expect_request("/v1/chat/completions").respond_with_handler(stub.handle)
        case = Case(
            **{
                **case.__dict__,
                "environ": {**OPENAI, **case.environ, "OPENAI_BASE_URL": stub.base_url},
            }
        )
    function = iris_function(case, monkeypatch)

    reply = answer(
        case,
        function,
        iris_routes.ROUTES,
        lambda: IRIS.load_handler("authorizer"),
        monkeypatch,
        "IRIS_API_KEYS",
    )

    assert (str(reply.status_code), reply.get_json()) == (
        status,
        documented("iris.json")[(status, example)],
    )
    if example.startswith("llm_budget"):
        assert int(reply.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("status", "example"), sorted(SPENDSENSE_CASES), ids=_ids(SPENDSENSE_CASES)
)
def test_spendsense_answers_its_example(
    status: str, example: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    case = SPENDSENSE_CASES[(status, example)]
    function = spendsense_function(case, write_sample_database(tmp_path), monkeypatch)

    reply = answer(
        case,
        function,
        spendsense_routes.routes("single"),
        lambda: SPENDSENSE.load_handler("authorizer"),
        monkeypatch,
        "SPENDSENSE_API_KEYS",
    )

    expected = documented("spendsense.json")[(status, example)]
    assert (str(reply.status_code), reply.get_json()) == (status, expected)
