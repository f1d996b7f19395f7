"""SpendSense's container image: the IRIS image's base, one command per function, and
requirements equal to what spendsense/backend/src imports (read without Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend.dockerfile import imported_distributions, read_dockerfile, runtime_requirements

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "spendsense" / "backend"
DOCKERFILE = read_dockerfile(BACKEND / "Dockerfile")
REQUIREMENTS = runtime_requirements(BACKEND / "requirements.txt")
DECLARED = {requirement.name.lower() for requirement in REQUIREMENTS}


def test_the_base_image_is_the_iris_images() -> None:
    """One Lambda Python runtime (3.11) for both programs."""
    assert DOCKERFILE.base_image == read_dockerfile(REPO / "backend" / "Dockerfile").base_image
    assert DOCKERFILE.base_image == "public.ecr.aws/lambda/python:3.11"


def test_the_image_runs_the_api_functions_handler() -> None:
    # Each insight function overrides it with insights.<name>.handler (image_config.command).
    assert DOCKERFILE.command == ["handler.handler"]


def test_dependencies_are_a_layer_of_their_own_before_the_code() -> None:
    assert DOCKERFILE.copies == [
        ["requirements.txt", "${LAMBDA_TASK_ROOT}/requirements.txt"],
        ["src/", "${LAMBDA_TASK_ROOT}/"],
    ]
    (run,) = DOCKERFILE.run_commands
    assert run.startswith("pip install --no-cache-dir -r ${LAMBDA_TASK_ROOT}/requirements.txt")
    assert run.count("pip install") == 1


@pytest.mark.parametrize("package", ["boto3", "botocore", "s3transfer"])
def test_no_second_copy_of_the_aws_sdk(package: str) -> None:
    """The base image ships boto3, which the S3 download imports."""
    assert package not in DECLARED


def test_the_requirements_are_exactly_what_the_code_imports() -> None:
    assert imported_distributions(BACKEND / "src") == DECLARED


def test_every_runtime_dependency_has_a_compatible_range() -> None:
    for requirement in REQUIREMENTS:
        specifier = str(requirement.specifier)
        assert ">=" in specifier and "<" in specifier, requirement


def test_the_dev_requirements_install_the_runtime_ones() -> None:
    lines = (REPO / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()

    assert "-r spendsense/backend/requirements.txt" in lines


def test_only_the_code_and_requirements_reach_the_build_context() -> None:
    ignore = (BACKEND / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]

    assert rules[0] == "*"
    assert {"!requirements.txt", "!src/", "src/**/__pycache__"} <= set(rules)
