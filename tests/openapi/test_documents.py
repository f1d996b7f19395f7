"""The OpenAPI documents in docs/openapi/ are valid and say what the apps and stacks serve.

SpendSense's is FastAPI's own `app.openapi()`, committed; IRIS's is written by hand and held to
the Flask app's routes. Both are held to their stack's route table (which routes take the key)
and their examples to their own schemas; tests/openapi/test_examples.py holds every example to
what the API answers, and test_schemathesis.py fuzzes the APIs with them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from iris.app import create_app as create_iris_app
from iris.settings import Settings
from iris_infra.apps.iris import routes as iris_routes
from iris_infra.apps.spendsense import routes as spendsense_routes
from iris_infra.components.routes import match_route
from local_api import PROJECT_DIR
from tests.openapi.conftest import DOCS, examples, load, operations

DOCUMENTS = ("iris.json", "spendsense.json")
API_KEY_SECURITY = [{"apiKey": []}, {}]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_document_is_valid_openapi_3_1(name: str) -> None:
    document = load(name)

    validate(document)
    assert document["openapi"].startswith("3.1.")


def test_the_validator_refuses_a_broken_document() -> None:
    """The validation above can fail: a response without its description is refused."""
    document = load("iris.json")
    del document["paths"]["/health"]["get"]["responses"]["200"]["description"]

    with pytest.raises(OpenAPIValidationError):
        validate(document)


def test_spendsense_document_is_what_fastapi_generates() -> None:
    script = _load_script(PROJECT_DIR / "spendsense" / "scripts" / "openapi.py")
    generated = script.render(script.document())

    assert json.loads(generated) == load("spendsense.json"), (
        "docs/openapi/spendsense.json is not what the app generates: run `make openapi`"
    )
    assert (DOCS / "spendsense.json").read_text(encoding="utf-8") == generated


def test_iris_document_has_every_route_of_the_app_and_no_other() -> None:
    app = create_iris_app(Settings())
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert {(path, method) for path, method, _ in operations(load("iris.json"))} == served


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("iris.json", iris_routes.ROUTES),
        *(("spendsense.json", spendsense_routes.routes(shape)) for shape in ("split", "single")),
    ],
    ids=["iris", "spendsense-split", "spendsense-single"],
)
def test_an_operation_takes_the_key_exactly_when_the_stack_guards_its_route(
    name: str, table: Any
) -> None:
    for path, method, operation in operations(load(name)):
        route = match_route(table, method, path)

        assert route is not None and route.key != "$default", (method, path)
        assert operation.get("security") == (API_KEY_SECURITY if route.guarded else None), (
            method,
            path,
        )


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_example_matches_its_schema(name: str) -> None:
    document = load(name)
    found = list(examples(document))

    for example in found:
        # The document is the root, so its own "#/components/..." references resolve.
        validator = Draft202012Validator({**document, "$ref": f"#{example.schema_pointer}"})
        validator.validate(example.body)
    assert {example.status for example in found} >= {"400", "401", "403", "500", "503"}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_answer_of_the_function_documents_its_request_id(name: str) -> None:
    """X-Request-Id on every response, required wherever only the function answers."""
    document = load(name)
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if "$ref" in response:
                response = document["components"]["responses"][response["$ref"].split("/")[-1]]
            headers = response.get("headers", {})
            only_gateway = status in ("403",) or _only_gateway_message(document, response)
            assert only_gateway or "X-Request-Id" in headers, (method, path, status)
            if status in ("200", "400", "404"):
                header = headers["X-Request-Id"]
                if "$ref" in header:
                    header = document["components"]["headers"][header["$ref"].split("/")[-1]]
                assert header.get("required") is True, (method, path, status)


def _load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("spendsense_openapi_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _only_gateway_message(document: dict[str, Any], response: dict[str, Any]) -> bool:
    schema = response["content"]["application/json"]["schema"]
    return schema.get("$ref", "").endswith("/GatewayMessage")
