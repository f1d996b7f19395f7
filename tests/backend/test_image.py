"""The container image's definition: base image, entry point, layers and runtime dependencies.

Docker is not available here, so these read backend/Dockerfile and backend/requirements.txt;
tests/backend/test_entrypoint.py runs the CMD they name through the real runtime client.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.backend.dockerfile import (
    context_files,
    ignore_rules,
    imported_distributions,
    is_sent,
    read_dockerfile,
)
from tests.backend.dockerfile import runtime_requirements as read_requirements

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
LAMBDA_PYTHON_IMAGE = "public.ecr.aws/lambda/python:"


def runtime_requirements() -> list[Requirement]:
    return read_requirements(BACKEND / "requirements.txt")


def test_the_base_image_runs_the_projects_python() -> None:
    base = read_dockerfile().base_image

    assert base.startswith(LAMBDA_PYTHON_IMAGE)
    image_python = base.removeprefix(LAMBDA_PYTHON_IMAGE)
    assert image_python == f"{sys.version_info.major}.{sys.version_info.minor}"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"{image_python}.0")


def test_the_image_runs_the_lambda_handler() -> None:
    # The authorizer function overrides this with authorizer.handler (iris_infra.apps.iris.stack).
    assert read_dockerfile().command == ["lambda_handler.handler"]


def test_dependencies_are_a_layer_of_their_own_before_the_code() -> None:
    copies = read_dockerfile().copies

    assert copies == [
        ["requirements.txt", "${LAMBDA_TASK_ROOT}/requirements.txt"],
        ["src/", "${LAMBDA_TASK_ROOT}/"],
    ]


def test_the_image_installs_backend_requirements_and_nothing_else() -> None:
    (run,) = read_dockerfile().run_commands

    assert run.startswith("pip install --no-cache-dir -r ${LAMBDA_TASK_ROOT}/requirements.txt")
    assert run.count("pip install") == 1


@pytest.mark.parametrize("package", ["boto3", "botocore", "s3transfer"])
def test_no_second_copy_of_the_aws_sdk(package: str) -> None:
    """The Lambda Python base image ships boto3: another copy only grows the image."""
    assert package not in {requirement.name.lower() for requirement in runtime_requirements()}


@pytest.mark.parametrize("package", ["flask-cors", "flask_cors"])
def test_cors_is_not_the_functions_job(package: str) -> None:
    """API Gateway answers CORS from its own configuration and ignores the app's headers."""
    assert package not in {requirement.name.lower() for requirement in runtime_requirements()}


def test_the_requirements_are_exactly_what_the_code_imports() -> None:
    """Anything imported but not declared fails in Lambda; anything declared but not imported
    (the openai package was 30 MB of the image) only grows the image."""
    declared = {requirement.name.lower() for requirement in runtime_requirements()}

    assert imported_distributions(read_dockerfile().code_sources(BACKEND)) == declared


def test_every_runtime_dependency_has_a_compatible_range() -> None:
    for requirement in runtime_requirements():
        specifier = str(requirement.specifier)
        assert ">=" in specifier and "<" in specifier, requirement


def test_only_the_code_and_requirements_reach_the_build_context() -> None:
    rules = ignore_rules(BACKEND / ".dockerignore")
    sent = {path for path in context_files(BACKEND) if is_sent(path, rules)}

    assert rules[0] == "*"
    assert "requirements.txt" in sent and "src/lambda_kit/handler.py" in sent
    assert {path.split("/")[0] for path in sent} == {"requirements.txt", "src"}
    assert not [path for path in sent if "__pycache__" in path or path.endswith(".pyc")]
