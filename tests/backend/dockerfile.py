"""The few facts of backend/Dockerfile that the tests hold the image to.

A minimal reader (instructions, continuation lines, JSON-form CMD): enough for this one file,
so that the entry-point test runs the handler the image really names.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "backend" / "Dockerfile"


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[tuple[str, str], ...]

    def all(self, name: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == name]

    @property
    def base_image(self) -> str:
        (base,) = self.all("FROM")
        return base

    @property
    def command(self) -> list[str]:
        (cmd,) = self.all("CMD")
        return json.loads(cmd)

    @property
    def copies(self) -> list[list[str]]:
        return [shlex.split(argument) for argument in self.all("COPY")]

    @property
    def run_commands(self) -> list[str]:
        return self.all("RUN")


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical = pending + stripped
        pending = ""
        instruction, _, argument = logical.partition(" ")
        instructions.append((instruction.upper(), " ".join(argument.split())))
    return Dockerfile(tuple(instructions))
