"""The stack settings the local run shares with the deployed API: its CORS origins and, for a
program with several shapes, its deployment.

Read from a project's `Pulumi.<stack>.yaml` with PyYAML (importing the Pulumi program would pull
Pulumi into the local run), falling back to the default declared in its `Pulumi.yaml`, as the
Pulumi CLI does. CORS origins may be a YAML list, or the string forms `pulumi config set`
stores: a JSON list or comma-separated origins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

IRIS_NAMESPACE = "iris-infra"
CORS_ORIGINS = "corsOrigins"
DEPLOYMENT = "deployment"

_ORIGIN = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


class StackConfigError(ValueError):
    """A stack file or one of its keys is missing or invalid; the message names both."""


@dataclass(frozen=True)
class StackConfig:
    """One stack of one Pulumi project: `<namespace>:<key>` from its stack file, else the
    default its project file declares for `<key>`."""

    project_dir: Path
    namespace: str
    stack: str

    @property
    def path(self) -> Path:
        return self.project_dir / f"Pulumi.{self.stack}.yaml"

    @property
    def project_path(self) -> Path:
        return self.project_dir / "Pulumi.yaml"

    def qualified(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    def value(self, key: str, *, flag: str) -> tuple[object, str] | None:
        """(the value, where it was read) of `key`; None when neither file sets it. `flag` is
        the command-line option that stands in for the key when the stack file is missing."""
        if not self.path.exists():
            raise StackConfigError(
                f"{self.path} does not exist, so {self.qualified(key)} cannot be read: "
                f"create the stack (pulumi stack init {self.stack}) or pass {flag}"
            )
        config = _config_block(self.path)
        if self.qualified(key) in config:
            return config[self.qualified(key)], f"{self.qualified(key)} in {self.path}"
        project = self.project_path
        declared = _config_block(project).get(key) if project.exists() else None
        if isinstance(declared, dict) and "default" in declared:
            return declared["default"], f"the {key} default in {project}"
        return None


def load_cors_origins(
    stack: str, project_dir: Path, namespace: str = IRIS_NAMESPACE
) -> tuple[str, ...]:
    """The `corsOrigins` the stack's API allows: its stack file's, else the project default."""
    config = StackConfig(project_dir, namespace, stack)
    found = config.value(CORS_ORIGINS, flag="--cors-origins")
    if found is None:
        raise StackConfigError(
            f"{config.path} has no {config.qualified(CORS_ORIGINS)} and {config.project_path} "
            "declares no default: set it with "
            "`pulumi config set --path 'corsOrigins[0]' https://app.example.com` "
            "or pass --cors-origins"
        )
    value, source = found
    return validate_origins(value, source=source)


def load_deployment(stack: str, project_dir: Path, namespace: str, allowed: Sequence[str]) -> str:
    """The stack's `deployment`: its stack file's, else the project default, else `allowed[0]`
    (the program's own default)."""
    found = StackConfig(project_dir, namespace, stack).value(DEPLOYMENT, flag="--deployment")
    if found is None:
        return allowed[0]
    value, source = found
    return validate_deployment(value, allowed, source=source)


def validate_deployment(value: object, allowed: Sequence[str], *, source: str) -> str:
    if value not in allowed:
        raise StackConfigError(f"{source} is {value!r}; use one of {', '.join(allowed)}")
    assert isinstance(value, str)
    return value


def _config_block(path: Path) -> dict[str, object]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise StackConfigError(f"{path} cannot be read as YAML: {error}") from None
    config = document.get("config") if isinstance(document, dict) else None
    return config if isinstance(config, dict) else {}


def validate_origins(value: object, *, source: str) -> tuple[str, ...]:
    """The origins as a tuple, or a StackConfigError naming `source` and what is wrong."""
    origins = _as_list(value)
    if origins is None:
        raise StackConfigError(f"{source} is not a list of origins: {value!r}")
    if not origins:
        raise StackConfigError(f"{source} is empty; list the frontend's origins")
    if "*" in origins and len(origins) > 1:
        raise StackConfigError(f"{source} mixes '*' with other origins; use '*' alone or none")
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise StackConfigError(
                f"{source}: {origin!r} is not an origin; use scheme://host[:port] with http "
                "or https and no trailing slash or path, e.g. https://app.example.com"
            )
    return tuple(origins)


def _as_list(value: object) -> list[str] | None:
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None
