"""SpendSense's container image: the IRIS image's base, one command per function, a task root
of SpendSense's code and the handler kit, built from the repository root with only those sent,
and requirements equal to what that task root imports (read without Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backend.dockerfile import (
    copied_files,
    ignore_file_of,
    ignore_rules,
    imported_distributions,
    is_sent,
    read_dockerfile,
    runtime_requirements,
    sent_files,
)

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "spendsense" / "backend"
DOCKERFILE = read_dockerfile(BACKEND / "Dockerfile")
# The build context is the repository root; the Dockerfile's own ignore file beside it is the
# one BuildKit and pulumi-docker read for this build.
IGNORE_FILE = BACKEND / "Dockerfile.dockerignore"
REQUIREMENTS = runtime_requirements(BACKEND / "requirements.txt")
DECLARED = {requirement.name.lower() for requirement in REQUIREMENTS}
# Imported inside lambda_kit.wsgi, which only a WSGI app's entry point (IRIS's) calls:
# tests/spendsense/test_independence.py shows no SpendSense entry point loads it.
WSGI_ADAPTER = "a2wsgi"


def test_the_base_image_is_the_iris_images() -> None:
    """One Lambda Python runtime (3.11) for both programs."""
    assert DOCKERFILE.base_image == read_dockerfile(REPO / "backend" / "Dockerfile").base_image
    assert DOCKERFILE.base_image == "public.ecr.aws/lambda/python:3.11"


def test_the_image_runs_the_api_functions_handler() -> None:
    # Each insight function overrides it with insights.<name>.handler (image_config.command).
    assert DOCKERFILE.command == ["handler.handler"]


def test_dependencies_are_a_layer_of_their_own_before_the_code() -> None:
    assert DOCKERFILE.copies == [
        ["spendsense/backend/requirements.txt", "${LAMBDA_TASK_ROOT}/requirements.txt"],
        ["lambda_kit/", "${LAMBDA_TASK_ROOT}/lambda_kit/"],
        ["spendsense/backend/src/", "${LAMBDA_TASK_ROOT}/"],
    ]
    run, models = DOCKERFILE.run_commands
    assert run.startswith("pip install --no-cache-dir -r ${LAMBDA_TASK_ROOT}/requirements.txt")
    assert run.count("pip install") == 1
    assert "pip" not in models and "lambda_kit.aws_models" in models


INSIGHTS = (
    "weekly_recap",
    "spending_analysis",
    "budget_suggestion",
    "budget_tracking",
    "net_worth",
)


def test_the_task_root_holds_the_kit_and_every_entry_point() -> None:
    """The commands the stack gives the functions name modules the image copies."""
    modules = {
        place + path.relative_to(source).as_posix()
        for source, place in DOCKERFILE.code_sources(REPO)
        for path in source.rglob("*.py")
    }

    entry_points = {"handler.py", "authorizer.py", *(f"insights/{name}.py" for name in INSIGHTS)}
    assert entry_points <= modules
    assert {"lambda_kit/__init__.py", "lambda_kit/handler.py", "api/main.py"} <= modules


@pytest.mark.parametrize("package", ["boto3", "botocore", "s3transfer"])
def test_no_second_copy_of_the_aws_sdk(package: str) -> None:
    """The base image ships boto3 and botocore, which the S3 download imports."""
    assert package not in DECLARED


def test_the_requirements_are_exactly_what_the_code_imports() -> None:
    imported = imported_distributions(DOCKERFILE.code_sources(REPO))

    assert imported - {WSGI_ADAPTER} == DECLARED
    assert WSGI_ADAPTER in imported, "the exception above is still needed"


def test_every_runtime_dependency_has_a_compatible_range() -> None:
    for requirement in REQUIREMENTS:
        specifier = str(requirement.specifier)
        assert ">=" in specifier and "<" in specifier, requirement


def test_the_dev_requirements_install_the_runtime_ones() -> None:
    lines = (REPO / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()

    assert "-r spendsense/backend/requirements.txt" in lines


def test_only_what_the_image_copies_reaches_the_build_context() -> None:
    """The context is the whole repository: without its own ignore file every build would send
    (and every context hash would read) .venv, .cache, the other program and its tests."""
    dockerfile = BACKEND / "Dockerfile"
    sent = sent_files(dockerfile, REPO)

    assert ignore_file_of(dockerfile, REPO) == IGNORE_FILE
    assert ignore_rules(IGNORE_FILE)[0] == "*"
    assert sent == copied_files(dockerfile, REPO)
    assert "spendsense/backend/src/handler.py" in sent and "lambda_kit/guard.py" in sent
    assert not [path for path in sent if path.startswith(("backend/", "iris_infra/", "tests/"))]
    unwalked = [
        ".venv/lib/python3.11/site-packages/x.py",
        ".cache/lambda-task-roots/x",
        ".git/HEAD",
    ]
    assert not [path for path in unwalked if is_sent(path, ignore_rules(IGNORE_FILE))]


def test_the_two_images_share_the_root_context_with_ignore_files_of_their_own() -> None:
    """Both builds send the handler kit; neither sends the other's code."""
    iris = sent_files(REPO / "backend" / "Dockerfile", REPO)
    spendsense = sent_files(BACKEND / "Dockerfile", REPO)

    kit = {path for path in iris if path.startswith("lambda_kit/")}
    assert kit and kit == {path for path in spendsense if path.startswith("lambda_kit/")}
    assert iris & spendsense == kit
