"""The committed Pulumi files read for tests: a stack's plain settings, and any secret written
in plain text (pitfall 18: a secret belongs in the file only as Pulumi's `{secure: ...}`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stack_check.files import (
    PROJECT_FILE,
    is_encrypted,
    plaintext_secrets,
    project_items,
    stack_file_name,
)

__all__ = ["PlaintextSecretError", "plaintext_secrets", "read_stack_settings"]


class PlaintextSecretError(ValueError):
    """A Pulumi file holds a secret key's value in plain text."""


def read_stack_settings(stack: str, project_dir: Path) -> dict[str, Any]:
    """Plain (non-secret) settings of a stack from its files: Pulumi.yaml defaults overlaid with
    Pulumi.<stack>.yaml, keyed without the `iris-infra:` namespace. Encrypted values are left
    out; a secret key written in plain text in either file is refused.
    """
    project_file = project_dir / PROJECT_FILE
    stack_file = project_dir / stack_file_name(stack)
    for path in (project_file, stack_file):
        leaked = plaintext_secrets(path)
        if leaked:
            raise PlaintextSecretError(
                f"{path} holds {', '.join(leaked)} in plain text; remove it and set it with "
                f"`pulumi config set --secret <key> --stack {stack}`, which asks for the value"
            )

    settings: dict[str, Any] = {
        name: declaration["default"]
        for name, declaration in project_items(project_file)
        if isinstance(declaration, dict) and "default" in declaration
    }
    for name, value in project_items(stack_file):
        if not is_encrypted(value):
            settings[name] = value
    return settings
