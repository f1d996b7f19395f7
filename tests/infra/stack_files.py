"""The committed Pulumi files read for tests: a stack's plain settings, and any secret written
in plain text (PITFALLS 18: a secret belongs in the file only as Pulumi's `{secure: ...}`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from iris_infra.config import PROJECT, SECRET_KEYS

PROJECT_FILE = "Pulumi.yaml"


class PlaintextSecretError(ValueError):
    """A Pulumi file holds a secret key's value in plain text."""


def read_stack_settings(stack: str, project_dir: Path) -> dict[str, Any]:
    """Plain (non-secret) settings of a stack from its files: Pulumi.yaml defaults overlaid with
    Pulumi.<stack>.yaml, keyed without the `iris-infra:` namespace. Encrypted values are left
    out; a secret key written in plain text in either file is refused.
    """
    project_file = project_dir / PROJECT_FILE
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    for path in (project_file, stack_file):
        leaked = plaintext_secrets(path)
        if leaked:
            raise PlaintextSecretError(
                f"{path} holds {', '.join(leaked)} in plain text; remove it and set it with "
                f"`pulumi config set --secret <key> --stack {stack}`, which asks for the value"
            )

    settings: dict[str, Any] = {
        name: declaration["default"]
        for name, declaration in _project_items(project_file)
        if isinstance(declaration, dict) and "default" in declaration
    }
    for name, value in _project_items(stack_file):
        if not _is_encrypted(value):
            settings[name] = value
    return settings


def plaintext_secrets(path: Path) -> list[str]:
    """The project's secret keys that `path` holds other than as `{secure: ...}`.

    In Pulumi.yaml a key may also be declared (type, description) without a value; that holds
    nothing, but a `default` or a bare value is a secret in plain text.
    """
    is_project_file = path.name == PROJECT_FILE
    leaked = []
    for name, value in _project_items(path):
        if name not in SECRET_KEYS or _is_encrypted(value):
            continue
        if is_project_file and isinstance(value, dict) and "default" not in value:
            continue
        leaked.append(name)
    return leaked


def _project_items(path: Path) -> list[tuple[str, Any]]:
    """(key without namespace, value) for this project's keys in the file's `config` block."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = []
    for key, value in (document.get("config") or {}).items():
        namespace, separator, name = key.partition(":")
        # Pulumi.yaml declares the project's own keys without a namespace.
        if not separator:
            namespace, name = PROJECT, key
        if namespace == PROJECT:
            items.append((name, value))
    return items


def _is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}
