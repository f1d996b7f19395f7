"""A stack's configuration read from `Pulumi.yaml` and `Pulumi.<stack>.yaml` as `pulumi up` hands
it to the program, with no CLI, login or decryption: `{secure: ...}` values count as set and are
passed as a placeholder, never as their ciphertext or plain value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iris_infra.apps.iris.config import PROJECT, SECRET_KEYS
from iris_infra.config.suggestions import closest, shown_key
from stack_check.safe_yaml import YamlRefused, load_file

PROJECT_FILE = "Pulumi.yaml"
# What the program gets for a secret whose plain value only the CLI could decrypt.
SECRET_PLACEHOLDER = "placeholder-secret"
# What a stack file's top level may hold (Pulumi's stack settings file reference). Pulumi
# ignores anything else, so a misspelt `confg:` would leave every setting at its default.
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")
# The types a Pulumi.yaml declaration may give a key, as a value of each reads.
_TYPE_READS = {
    "string": "text",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
}


class StackFileError(ValueError):
    """A Pulumi file cannot be read as YAML, or its `config` block is not a mapping."""

    def __init__(self, path: Path, reason: str) -> None:
        self.file = path.name
        self.reason = reason
        super().__init__(f"{path.name}: {reason}")


@dataclass(frozen=True)
class EngineConfig:
    """The config map the CLI would pass the program: namespaced keys, text values."""

    values: dict[str, str] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    # What the CLI itself would refuse, or what must not be in a stack file at all; each line
    # starts with the file it is about.
    problems: tuple[str, ...] = ()


def stack_file_name(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"


def stack_names(project_dir: Path) -> list[str]:
    """Every stack with a settings file in the project directory."""
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in project_dir.glob("Pulumi.*.yaml")
    )


def read_document(path: Path) -> dict[str, Any]:
    """A Pulumi file's top-level mapping, or a StackFileError saying where it is not YAML or
    what makes it unsafe to read (stack_check.safe_yaml).

    The message carries YAML's reason and position but never the offending text, which may be
    a secret pasted in the wrong place.
    """
    try:
        document = load_file(path)
    except YamlRefused as error:
        raise StackFileError(path, str(error)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = f"not valid YAML{where}: {error.problem or error.context}"
        raise StackFileError(path, reason) from None
    except FileNotFoundError:
        raise StackFileError(path, "does not exist") from None
    except (OSError, yaml.YAMLError) as error:
        raise StackFileError(path, f"cannot be read ({type(error).__name__})") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(path, "is not a YAML mapping of settings")
    if not isinstance(document.get("config") or {}, dict):
        raise StackFileError(path, "its config block is not a mapping of key: value")
    return document


def project_items(path: Path, project: str = PROJECT) -> list[tuple[str, Any]]:
    """(key without namespace, value) for this project's keys in the file's `config` block.

    Pulumi.yaml declares the project's own keys without a namespace.
    """
    items = []
    for key, value in (read_document(path).get("config") or {}).items():
        namespace, separator, name = str(key).partition(":")
        if not separator:
            namespace, name = project, str(key)
        if namespace == project:
            items.append((name, value))
    return items


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def plaintext_secrets(path: Path, project: str = PROJECT) -> list[str]:
    """The project's secret keys that `path` holds other than as `{secure: ...}`.

    In Pulumi.yaml a key may also be declared (type, description) without a value; that holds
    nothing, but a `default` or a bare value is a secret in plain text.
    """
    is_project_file = path.name == PROJECT_FILE
    leaked = []
    for name, value in project_items(path, project):
        if name not in SECRET_KEYS or is_encrypted(value):
            continue
        if is_project_file and isinstance(value, dict) and "default" not in value:
            continue
        leaked.append(name)
    return leaked


def read_engine_config(
    stack: str, project_dir: Path, secret_placeholder: str = SECRET_PLACEHOLDER
) -> EngineConfig:
    """The stack's config as the CLI would pass it: Pulumi.yaml's defaults, overlaid with the
    stack file's values, each `{secure: ...}` value as `secret_placeholder`. Raises
    StackFileError when either file is not readable YAML."""
    project_file = project_dir / PROJECT_FILE
    stack_file = project_dir / stack_file_name(stack)
    project = str(read_document(project_file).get("name") or PROJECT)
    found = [
        (path, key)
        for path in (project_file, stack_file)
        for key in plaintext_secrets(path, project)
    ]
    problems = [
        f"{path.name}: {key} is in plain text: remove it and set it with "
        f"`pulumi config set --secret {key} --stack {stack}` (it prompts for the value)"
        for path, key in found
    ]
    values, required = _project_defaults(project_file, project)
    stack_values, secret_keys, stack_problems = _stack_values(
        stack_file, project, secret_placeholder, _declared_types(project_file, project)
    )
    values.update(stack_values)
    problems.extend(stack_problems)
    problems.extend(
        f"{stack_file.name}: {shown_key(name.partition(':')[2])} is not set, and {PROJECT_FILE} "
        "declares it without a default, so pulumi up requires it on every stack"
        for name in required
        if name not in values
    )
    # A secret in plain text is reported, and only a placeholder reaches the program.
    leaked = {f"{project}:{key}" for _, key in found}
    values.update(dict.fromkeys(leaked, secret_placeholder))
    return EngineConfig(values, tuple(sorted({*secret_keys, *leaked})), tuple(problems))


def _project_defaults(project_file: Path, project: str) -> tuple[dict[str, str], list[str]]:
    """Pulumi.yaml's values and defaults by namespaced key, and the keys it declares without
    one (which the CLI requires on every stack)."""
    values: dict[str, str] = {}
    required: list[str] = []
    for key, declaration in (read_document(project_file).get("config") or {}).items():
        name = str(key) if ":" in str(key) else f"{project}:{key}"
        if not isinstance(declaration, dict):
            values[name] = _engine_text(declaration)
        elif "value" in declaration or "default" in declaration:
            values[name] = _engine_text(declaration.get("value", declaration.get("default")))
        else:
            required.append(name)
    return values, required


def _declared_types(project_file: Path, project: str) -> dict[str, str]:
    """The `type` Pulumi.yaml declares for a key (string, integer, boolean, array), by
    namespaced key: pulumi up refuses a stack value of another shape."""
    return {
        str(key) if ":" in str(key) else f"{project}:{key}": str(declaration["type"])
        for key, declaration in (read_document(project_file).get("config") or {}).items()
        if isinstance(declaration, dict) and "type" in declaration
    }


def _stack_values(
    stack_file: Path, project: str, secret_placeholder: str, declared: dict[str, str]
) -> tuple[dict[str, str], tuple[str, ...], list[str]]:
    """The stack file's values by namespaced key, its secret keys, and what the CLI (or this
    project) refuses in it."""
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    document = read_document(stack_file)
    problems = [
        f"{stack_file.name}: {_unknown_setting(key)}"
        for key in document
        if key not in STACK_FILE_KEYS
    ]
    for key, value in (document.get("config") or {}).items():
        name = _namespaced(str(key))
        namespace, _, setting = (name or "").partition(":")
        if name is None:
            problems.append(
                f"{stack_file.name}: {key!r} is not a configuration key; keys are "
                f"<namespace>:<name>, e.g. {project}:{shown_key(key)}"
            )
        elif is_encrypted(value) and namespace == project and setting not in SECRET_KEYS:
            # The program reads this key as plain text: its value would reach resources and
            # outputs unmarked. It cannot be validated without decrypting it either.
            problems.append(
                f"{stack_file.name}: {shown_key(setting)} is encrypted, but only "
                f"{', '.join(SECRET_KEYS)} are secrets of this project: set it in plain text"
            )
        elif is_encrypted(value):
            if not (isinstance(value["secure"], str) and value["secure"].strip()):
                # Counted as set all the same: the fix is to set it again, not to add it.
                problems.append(
                    f"{stack_file.name}: {shown_key(name)} has a secure value that is not "
                    "ciphertext (text): set it again with `pulumi config set --secret "
                    f"{shown_key(name)}`"
                )
            values[name] = secret_placeholder
            secret_keys.append(name)
        elif shape := _shape_problem(setting, value, declared.get(name)):
            # Left out, so that the program does not report the same value again.
            problems.append(f"{stack_file.name}: {shape}")
        else:
            values[name] = _engine_text(value)
    return values, tuple(sorted(secret_keys)), problems


def _unknown_setting(key: Any) -> str:
    guess = closest(str(key), STACK_FILE_KEYS)
    meant = f"did you mean {guess}? " if guess else ""
    return (
        f"{shown_key(key)} is not a setting of a stack file, and Pulumi ignores it; {meant}"
        f"a stack file holds {', '.join(STACK_FILE_KEYS)}"
    )


def _shape_problem(setting: str, value: Any, declared_type: str | None) -> str | None:
    """Why pulumi up refuses `value` of a key Pulumi.yaml declares `declared_type`: a mapping or
    a list where it declares one value, a mapping where it declares a list. One value of the
    wrong kind is the program's to refuse, with its own words."""
    if declared_type not in _TYPE_READS or not isinstance(value, dict | list):
        return None
    if declared_type == "array" and isinstance(value, list):
        return None
    kind = "a mapping" if isinstance(value, dict) else "a list"
    return (
        f"{shown_key(setting)} is {kind}, but {PROJECT_FILE} declares it of type "
        f"{declared_type}, so pulumi up refuses it: give {_TYPE_READS[declared_type]}"
    )


def _namespaced(key: str) -> str | None:
    """`namespace:name` as the CLI parses it (also the old `namespace:config:name`), or None."""
    parts = key.split(":")
    if len(parts) == 2 and all(parts):
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    return None


def _engine_text(value: Any) -> str:
    """A YAML value as the CLI passes it: scalars as text, lists and maps as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "" if value is None else str(value)
