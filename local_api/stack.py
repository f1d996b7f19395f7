"""The stack setting the local run shares with the deployed API: its CORS origins.

Read from `Pulumi.<stack>.yaml` with PyYAML (importing the Pulumi program would pull Pulumi
into the local run), falling back to the default declared in `Pulumi.yaml`, as the Pulumi CLI
does. The value may be a YAML list, or the string forms `pulumi config set` stores: a JSON list
or comma-separated origins.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

CORS_ORIGINS_KEY = "iris-infra:corsOrigins"
PROJECT_KEY = "corsOrigins"

_ORIGIN = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


class StackConfigError(ValueError):
    """The stack file or its corsOrigins key is missing or invalid; the message names both."""


def load_cors_origins(stack: str, project_dir: Path) -> tuple[str, ...]:
    """The `corsOrigins` the stack's API allows: its stack file's, else the project default."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise StackConfigError(
            f"{path} does not exist, so {CORS_ORIGINS_KEY} cannot be read: "
            f"create the stack (pulumi stack init {stack}) or pass --cors-origins"
        )
    config = _config_block(path)
    if CORS_ORIGINS_KEY in config:
        value = config[CORS_ORIGINS_KEY]
        return validate_origins(value, source=f"{CORS_ORIGINS_KEY} in {path}")

    project = project_dir / "Pulumi.yaml"
    declared = _config_block(project).get(PROJECT_KEY) if project.exists() else None
    if not isinstance(declared, dict) or "default" not in declared:
        raise StackConfigError(
            f"{path} has no {CORS_ORIGINS_KEY} and {project} declares no default: set it with "
            "`pulumi config set --path 'corsOrigins[0]' https://app.example.com` "
            "or pass --cors-origins"
        )
    return validate_origins(declared["default"], source=f"the {PROJECT_KEY} default in {project}")


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
