"""What every program's typed config has in common: what it derives from its stack name and
architecture, and the last step of reading it from Pulumi."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import pulumi

from iris_infra.components.names import StackNames
from iris_infra.config.checks import PLATFORMS, is_production
from iris_infra.config.keys import ConfigKeys


class ProgramConfig:
    """What the typed config of every program on these components derives from its stack name
    and architecture (fields of the dataclass that inherits this): production or not, the image
    platform, and the prefixes of physical names and of SSM parameters (`APP`-<stack>)."""

    APP: ClassVar[str]
    stack: str
    architecture: str

    @property
    def is_production(self) -> bool:
        return is_production(self.stack)

    @property
    def platform(self) -> str:
        return PLATFORMS[self.architecture]

    @property
    def names(self) -> StackNames:
        """Every physical name the stack declares, each carrying the program and the stack."""
        return StackNames(self.APP, self.stack)

    @property
    def name_prefix(self) -> str:
        """`<app>-<stack>`, the start of every physical name that cannot hold a '/'."""
        return self.names.prefix

    @property
    def parameter_prefix(self) -> str:
        return self.names.parameter_prefix

    def warnings(self) -> list[str]:
        return []


_Config = TypeVar("_Config", bound=ProgramConfig)


def with_secret_outputs(checked: _Config, keys: ConfigKeys, secrets: Mapping[str, Any]) -> _Config:
    """The checked config with each secret as a secret Output, its warnings reported with
    pulumi.log.warn: the last step of every program's from_pulumi."""
    config = dataclasses.replace(checked, **keys.secret_outputs(secrets))  # type: ignore[type-var]
    for message in config.warnings():
        pulumi.log.warn(message)
    return config
