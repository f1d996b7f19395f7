"""The `<project>:` config keys of a settings dataclass (its fields, camelCased), read from the
running stack with `pulumi.Config` or taken from raw values, each parsed as its field's type."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pulumi

from iris_infra.config.suggestions import unknown_key_problem


def key_of(name: str) -> str:
    """The config key of a settings field: `memory_mb` -> `memoryMb`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class ConfigKeys:
    """The `<project>:` keys of one settings dataclass (its fields, camelCased), and how a raw
    value of each is read: as the field's type, or kept as given for a secret."""

    project: str
    field_by_key: Mapping[str, str]
    int_keys: frozenset[str]
    bool_keys: frozenset[str]
    secret_keys: tuple[str, ...]

    @classmethod
    def of(
        cls, project: str, settings: type, secret_keys: tuple[str, ...], not_keys: tuple[str, ...]
    ) -> ConfigKeys:
        keyed = [(key_of(f.name), f) for f in fields(settings) if f.name not in not_keys]
        return cls(
            project=project,
            field_by_key={key: f.name for key, f in keyed},
            int_keys=frozenset(key for key, f in keyed if f.type in ("int", "int | None")),
            bool_keys=frozenset(key for key, f in keyed if f.type == "bool"),
            secret_keys=secret_keys,
        )

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.field_by_key)

    def parse(self, raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
        """Field name -> value for every key of `raw` that is set and readable; an unknown key
        or an unreadable value is recorded in `problems` instead."""
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = self.field_by_key.get(key)
            if name is None:
                problems.append(unknown_key_problem(key, self.project, self.keys))
            elif value is not None:
                parsed = self._parse(key, value, problems)
                if parsed is not None:
                    values[name] = parsed
        return values

    def read_pulumi(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The running stack's raw values by key (None when not set), and those of the secret
        keys alone, read with pulumi.Config.

        A secret is read as text too, to be checked like any other value (apiKeys' keys can
        only be checked so), and is then kept only as a secret Output (`secret_outputs`).
        pulumi.Config looks keys up by name: a key the program does not read (`memoryMB`) is
        never seen here, and `make check` refuses it, reading the stack's files (stack_check).
        """
        config = pulumi.Config(self.project)
        raw = {key: config.get(key) for key in self.keys}
        return raw, {key: raw[key] for key in self.secret_keys}

    def secret_outputs(self, secrets: Mapping[str, Any]) -> dict[str, pulumi.Output[Any]]:
        """Field name -> secret Output for each secret that is set."""
        return {
            self.field_by_key[key]: pulumi.Output.secret(value)
            for key, value in secrets.items()
            if value is not None
        }

    def _parse(self, key: str, value: Any, problems: list[str]) -> Any:
        """One raw value as the field's type, or None after recording why it cannot be."""
        if key in self.secret_keys:
            return value
        if key == "corsOrigins":
            origins = _parse_list(value)
            if origins is None:
                problems.append(
                    f"corsOrigins={value!r} is not a list of origins; set it with "
                    "`pulumi config set --path 'corsOrigins[0]' https://app.example.com`"
                )
            return origins
        if key in self.int_keys:
            number = _parse_int(value)
            if number is None:
                problems.append(f"{key}={value!r} is not a whole number")
            return number
        if key in self.bool_keys:
            flag = _parse_bool(value)
            if flag is None:
                problems.append(f"{key}={value!r} is not a boolean; use true or false")
            return flag
        return str(value).strip()


def _parse_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _parse_bool(value: Any) -> bool | None:
    """A flag as `pulumi config set` stores it ("true") or a stack file holds it (true)."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value).strip().lower())


def _parse_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None
