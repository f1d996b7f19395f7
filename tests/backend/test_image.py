"""The container image's definition: base image, entry point, layers, runtime dependencies and
what its build sends from its context, the repository root.

Docker is not available here, so these read backend/Dockerfile, its ignore file and
backend/requirements.txt; tests/backend/test_entrypoint.py runs the CMD they name through the
real runtime client.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.backend.dockerfile import (
    copied_files,
    ignore_file_of,
    ignore_rules,
    imported_distributions,
    is_sent,
    read_dockerfile,
    sent_files,
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
        ["backend/requirements.txt", "${LAMBDA_TASK_ROOT}/requirements.txt"],
        ["lambda_kit/", "${LAMBDA_TASK_ROOT}/lambda_kit/"],
        ["backend/src/", "${LAMBDA_TASK_ROOT}/"],
    ]


def test_the_image_installs_backend_requirements_and_nothing_else() -> None:
    run, models = read_dockerfile().run_commands

    assert run.startswith("pip install --no-cache-dir -r ${LAMBDA_TASK_ROOT}/requirements.txt")
    assert run.count("pip install") == 1
    assert "pip" not in models and "lambda_kit.aws_models" in models


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

    assert imported_distributions(read_dockerfile().code_sources(REPO)) == declared


def test_every_runtime_dependency_has_a_compatible_range() -> None:
    for requirement in runtime_requirements():
        specifier = str(requirement.specifier)
        assert ">=" in specifier and "<" in specifier, requirement


def test_only_what_the_image_copies_reaches_the_build_context() -> None:
    """The context is the whole repository (for the handler kit beside backend/): the
    Dockerfile's own ignore file, which BuildKit and pulumi-docker read in place of the root's,
    sends exactly what the COPY lines name, and so the context hash reads nothing else."""
    dockerfile = BACKEND / "Dockerfile"
    ignore_file = ignore_file_of(dockerfile, REPO)
    sent = sent_files(dockerfile, REPO)

    assert ignore_file == BACKEND / "Dockerfile.dockerignore"
    assert ignore_rules(ignore_file)[0] == "*"
    assert sent == copied_files(dockerfile, REPO)
    assert "backend/src/server.py" in sent and "lambda_kit/handler.py" in sent
    assert not [path for path in sent if path.startswith(("spendsense/", "iris_infra/", "tests/"))]
    unwalked = [".venv/lib/python3.11/site-packages/x.py", ".cache/x", ".git/HEAD"]
    assert not [path for path in unwalked if is_sent(path, ignore_rules(ignore_file))]


def test_a_build_reading_only_the_roots_ignore_file_sends_nothing() -> None:
    """A builder that knows no Dockerfile-specific ignore file, or another build from the root,
    fails at its first COPY rather than sending the whole tree (.venv, .git, .cache)."""
    rules = ignore_rules(REPO / ".dockerignore")

    assert rules == ["*"]
    assert not [
        path for path in ("backend/src/server.py", ".venv/x", ".git/HEAD") if is_sent(path, rules)
    ]
