"""The CORS origins come from the stack file, with errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from iris_infra.apps.spendsense.routes import DEPLOYMENTS
from local_api import PROJECT_DIR
from local_api.apps import SPENDSENSE
from local_api.stack import StackConfigError, load_cors_origins, load_deployment, validate_origins


def write_stack(directory: Path, text: str, stack: str = "dev") -> Path:
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "value",
    [
        "\n    - http://localhost:5173\n    - https://app.example.com",
        ' \'["http://localhost:5173", "https://app.example.com"]\'',
        " http://localhost:5173, https://app.example.com",
    ],
    ids=["yaml-list", "json-string", "comma-string"],
)
def test_origins_are_read_in_every_form_pulumi_stores(tmp_path: Path, value: str) -> None:
    write_stack(tmp_path, f"config:\n  aws:region: us-east-1\n  iris-infra:corsOrigins:{value}\n")

    assert load_cors_origins("dev", tmp_path) == (
        "http://localhost:5173",
        "https://app.example.com",
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_repository_stacks_can_be_served(stack: str) -> None:
    origins = load_cors_origins(stack, PROJECT_DIR)

    assert origins and all(origin.startswith(("http://", "https://")) for origin in origins)


def test_a_missing_stack_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError) as error:
        load_cors_origins("staging", tmp_path)

    message = str(error.value)
    assert str(tmp_path / "Pulumi.staging.yaml") in message
    assert "iris-infra:corsOrigins" in message and "--cors-origins" in message


@pytest.mark.parametrize(
    "text",
    ["config:\n  aws:region: us-east-1\n", "", "config: []\n", "other: 1\n"],
    ids=["no-key", "empty-file", "config-not-a-mapping", "no-config"],
)
def test_a_stack_without_the_key_takes_the_project_default(tmp_path: Path, text: str) -> None:
    write_stack(tmp_path, text)
    (tmp_path / "Pulumi.yaml").write_text(
        "name: iris-infra\nconfig:\n  corsOrigins:\n    type: array\n"
        "    default:\n      - https://default.example.com\n",
        encoding="utf-8",
    )

    assert load_cors_origins("dev", tmp_path) == ("https://default.example.com",)


def test_the_repository_project_declares_a_valid_default(tmp_path: Path) -> None:
    write_stack(tmp_path, "config: {}\n")
    (tmp_path / "Pulumi.yaml").write_bytes((PROJECT_DIR / "Pulumi.yaml").read_bytes())

    assert load_cors_origins("dev", tmp_path)


def test_a_missing_key_without_a_default_is_named_with_its_files(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "config:\n  aws:region: us-east-1\n")

    with pytest.raises(StackConfigError, match="iris-infra:corsOrigins") as error:
        load_cors_origins("dev", tmp_path)

    assert str(path) in str(error.value)
    assert str(tmp_path / "Pulumi.yaml") in str(error.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("\n    - https://app.example.com/", "not an origin"),
        ("\n    - https://app.example.com/path", "not an origin"),
        ("\n    - app.example.com", "not an origin"),
        ("\n    - ftp://app.example.com", "not an origin"),
        ("\n    - https://*", "not an origin"),
        ("\n    - '*'\n    - https://app.example.com", "mixes '*'"),
        (" []", "is empty"),
        ("\n    a: b", "not a list of origins"),
        ("\n    - 5173", "not a list of origins"),
    ],
)
def test_invalid_origins_are_refused_naming_file_and_key(
    tmp_path: Path, value: str, problem: str
) -> None:
    path = write_stack(tmp_path, f"config:\n  iris-infra:corsOrigins:{value}\n")

    with pytest.raises(StackConfigError, match=problem) as error:
        load_cors_origins("dev", tmp_path)

    assert f"iris-infra:corsOrigins in {path}" in str(error.value)


def test_invalid_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write_stack(tmp_path, "config: [unclosed\n")

    with pytest.raises(StackConfigError, match="cannot be read as YAML") as error:
        load_cors_origins("dev", tmp_path)

    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        (
            "http://localhost:3000, http://127.0.0.1:3000",
            ("http://localhost:3000", "http://127.0.0.1:3000"),
        ),
        ("*", ("*",)),
    ],
)
def test_the_command_line_list_is_read_as_comma_separated(
    raw: str, origins: tuple[str, ...]
) -> None:
    assert validate_origins(raw, source="--cors-origins") == origins


def test_the_command_line_list_is_validated_the_same_way() -> None:
    with pytest.raises(StackConfigError, match="--cors-origins: 'localhost:3000' is not an origin"):
        validate_origins("localhost:3000", source="--cors-origins")


def write_spendsense_project(directory: Path, config: str) -> None:
    (directory / "Pulumi.yaml").write_text(
        f"name: spendsense-infra\nconfig:\n{config}", encoding="utf-8"
    )


@pytest.mark.parametrize(
    ("stack_text", "project_config", "deployment"),
    [
        ("config:\n  spendsense-infra:deployment: single\n", "", "single"),
        ("config:\n  spendsense-infra:deployment: split\n", "  deployment:\n    default: single\n",
         "split"),
        ("config: {}\n", "  deployment:\n    type: string\n    default: single\n", "single"),
        ("config: {}\n", "", "split"),
        # Another program's key is not this one's.
        ("config:\n  iris-infra:deployment: single\n", "", "split"),
    ],
    ids=["stack-file", "stack-file-over-default", "project-default", "documented-default",
         "other-namespace"],
)  # fmt: skip
def test_the_deployment_is_read_as_the_cli_resolves_it(
    tmp_path: Path, stack_text: str, project_config: str, deployment: str
) -> None:
    write_stack(tmp_path, stack_text)
    write_spendsense_project(tmp_path, project_config)

    assert load_deployment("dev", tmp_path, "spendsense-infra", DEPLOYMENTS) == deployment


@pytest.mark.parametrize("value", ["both", "Split", "1", "[split]"])
def test_an_unknown_deployment_is_refused_naming_key_file_and_choices(
    tmp_path: Path, value: str
) -> None:
    path = write_stack(tmp_path, f"config:\n  spendsense-infra:deployment: {value}\n")

    with pytest.raises(StackConfigError) as error:
        load_deployment("dev", tmp_path, "spendsense-infra", DEPLOYMENTS)

    assert str(error.value).startswith(f"spendsense-infra:deployment in {path} is ")
    assert str(error.value).endswith("use one of split, single")


def test_a_missing_stack_file_names_the_option_that_stands_in_for_it(tmp_path: Path) -> None:
    with pytest.raises(StackConfigError) as error:
        load_deployment("staging", tmp_path, "spendsense-infra", DEPLOYMENTS)

    assert str(tmp_path / "Pulumi.staging.yaml") in str(error.value)
    assert "spendsense-infra:deployment" in str(error.value) and "--deployment" in str(error.value)


def test_cors_origins_are_read_in_the_programs_own_namespace(tmp_path: Path) -> None:
    write_stack(
        tmp_path,
        "config:\n  iris-infra:corsOrigins:\n    - https://iris.example\n"
        "  spendsense-infra:corsOrigins:\n    - https://spendsense.example\n",
    )

    assert load_cors_origins("dev", tmp_path, "spendsense-infra") == ("https://spendsense.example",)
    assert load_cors_origins("dev", tmp_path) == ("https://iris.example",)


def test_spendsense_cors_origins_fall_back_to_its_project_default(tmp_path: Path) -> None:
    write_stack(tmp_path, "config:\n  iris-infra:corsOrigins:\n    - https://iris.example\n")
    write_spendsense_project(
        tmp_path, "  corsOrigins:\n    default:\n      - http://localhost:5174\n"
    )

    assert load_cors_origins("dev", tmp_path, "spendsense-infra") == ("http://localhost:5174",)


SPENDSENSE_STACKS = sorted(
    path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    for path in SPENDSENSE.project_dir.glob("Pulumi.*.yaml")
)


@pytest.mark.parametrize("stack", SPENDSENSE_STACKS)
def test_the_repository_spendsense_stacks_can_be_served(stack: str) -> None:
    origins = load_cors_origins(stack, SPENDSENSE.project_dir, SPENDSENSE.namespace)
    deployment = load_deployment(stack, SPENDSENSE.project_dir, SPENDSENSE.namespace, DEPLOYMENTS)

    assert origins and all(origin.startswith(("http://", "https://")) for origin in origins)
    assert deployment in DEPLOYMENTS
