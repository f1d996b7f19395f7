"""A refused stack configuration: every problem at once, each naming the key, the value and
what is allowed."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """The stack configuration is invalid; `problems` lists every bad key and what is allowed."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack '{stack}' has invalid configuration:\n{listing}")


def construct(settings: type, stack: str, problems: list[str], **values: Any) -> Any:
    """`settings(stack=stack, **values)` once the values have none of `problems`; otherwise one
    ConfigError with those and the settings' own problems, so every one is reported at once."""
    try:
        config = settings(stack=stack, **values)
    except ConfigError as error:
        problems = [*problems, *error.problems]
    else:
        if not problems:
            return config
    raise ConfigError(stack, problems)
