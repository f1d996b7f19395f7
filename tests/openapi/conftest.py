"""The published OpenAPI documents, and fresh authorizers for every test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lambda_kit import aws
from lambda_kit.parameters import forget_secure_parameters
from local_api import PROJECT_DIR

DOCS = PROJECT_DIR / "docs" / "openapi"


def load(name: str) -> dict[str, Any]:
    return json.loads((DOCS / name).read_text(encoding="utf-8"))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, METHOD, operation) of every operation of the document."""
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


@dataclass(frozen=True)
class Example:
    """One response example: where it is, and the JSON pointer of the schema it must match."""

    path: str
    method: str
    status: str
    name: str
    body: Any
    schema_pointer: str


def examples(document: dict[str, Any]) -> Iterator[Example]:
    """Every response example of the document."""
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}"
            if "$ref" in response:
                pointer = response["$ref"].removeprefix("#")
            for media_type, media in resolve(document, pointer)["content"].items():
                for name, example in media.get("examples", {}).items():
                    schema = f"{pointer}/content/{_escape(media_type)}/schema"
                    yield Example(path, method, status, name, example["value"], schema)


def resolve(document: dict[str, Any], pointer: str) -> Any:
    """What a JSON pointer (`/components/...`) names in the document."""
    target: Any = document
    for part in pointer.removeprefix("/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@pytest.fixture(autouse=True)
def fresh_authorizer() -> Iterator[None]:
    """The authorizers keep the keys they read: start each test as a new container."""
    forget_secure_parameters()
    aws.forget_clients()
    yield
    forget_secure_parameters()
    aws.forget_clients()
