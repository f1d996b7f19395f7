"""The few facts of a backend's Dockerfile and requirements that the tests hold the image to.

A minimal reader (instructions, continuation lines, JSON-form CMD): enough for the project's
Dockerfiles, so that the entry-point test runs the handler the image really names; and what a
task root imports, to compare with its requirements.txt.
"""

from __future__ import annotations

import ast
import json
import shlex
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

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


# Imported from the Lambda base image's own packages (boto3 and what it brings), not installed.
BASE_IMAGE_MODULES = frozenset({"boto3", "botocore"})


def runtime_requirements(requirements_txt: Path) -> list[Requirement]:
    lines = requirements_txt.read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in (part.split("#")[0].strip() for part in lines) if line]


def imported_distributions(task_root: Path) -> set[str]:
    """The distributions whose modules the task root imports, at any depth of a function."""
    local = {path.stem for path in task_root.iterdir()}
    modules: set[str] = set()
    for path in task_root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - local - set(sys.stdlib_module_names) - BASE_IMAGE_MODULES
    by_module = metadata.packages_distributions()
    return {by_module[module][0].lower() for module in third_party}
