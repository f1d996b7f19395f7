"""The few facts of a backend's Dockerfile and requirements that the tests hold the image to.

A minimal reader (instructions, continuation lines, JSON-form CMD): enough for the project's
Dockerfiles, so that the entry-point test runs the handler the image really names and builds
its task root from what the image copies; what a task root imports, to compare with its
requirements.txt; and which files of a build context an ignore file lets through.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

DOCKERFILE = Path(__file__).resolve().parents[2] / "backend" / "Dockerfile"
TASK_ROOT_VARIABLE = "${LAMBDA_TASK_ROOT}"
AWS_MODELS_MODULE = "lambda_kit.aws_models"


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

    @property
    def aws_models_step(self) -> tuple[dict[str, str], list[str]]:
        """The RUN that writes botocore's cut-down models: (its variables, the arguments of
        `python -m lambda_kit.aws_models`), ${...} left as written."""
        (step,) = [run for run in self.run_commands if AWS_MODELS_MODULE in run]
        words = shlex.split(step)
        variables = {}
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            variables[name] = value
        assert words[:3] == ["python", "-m", AWS_MODELS_MODULE], step
        return variables, words[3:]

    @property
    def aws_calls(self) -> dict[str, tuple[str, ...]]:
        """{service: operations} the image's cut-down models keep."""
        from lambda_kit.aws_models import parse_calls

        _, arguments = self.aws_models_step
        return parse_calls(arguments[1:])

    def environment(self, places: dict[str, str]) -> dict[str, str]:
        """The image's ENV settings, each ${NAME} of `places` replaced by its value."""
        settings = {}
        for argument in self.all("ENV"):
            for word in shlex.split(argument):
                name, _, value = word.partition("=")
                settings[name] = substitute(value, places)
        return settings

    def code_sources(self, context: Path) -> list[tuple[Path, str]]:
        """(source, place in the task root) of each COPY but the requirements' own: what the
        task root holds besides the installed packages."""
        sources = []
        for source, destination in self.copies:
            if Path(source).name == "requirements.txt":
                continue
            place = destination.removeprefix(f"{TASK_ROOT_VARIABLE}/")
            assert place != destination, f"COPY {source} lands outside the task root"
            sources.append((context / source, place))
        return sources


def substitute(text: str, places: dict[str, str]) -> str:
    for name, value in places.items():
        text = text.replace(f"${{{name}}}", value)
    assert "${" not in text, f"{text}: a variable the test does not know"
    return text


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


def imported_distributions(sources: Iterable[tuple[Path, str]]) -> set[str]:
    """The distributions whose modules a task root imports, at any depth of a function; the
    task root is what `Dockerfile.code_sources` names."""
    local: set[str] = set()
    modules: set[str] = set()
    for source, place in sources:
        top = place.strip("/").split("/")[0]
        local.update({top} if top else {path.stem for path in source.iterdir()})
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    third_party = modules - local - set(sys.stdlib_module_names) - BASE_IMAGE_MODULES
    by_module = metadata.packages_distributions()
    return {by_module[module][0].lower() for module in third_party}


def ignore_file_of(dockerfile: Path, context: Path) -> Path:
    """The ignore file a build of `dockerfile` with `context` reads, as BuildKit and pulumi-docker
    5.x (for what it sends and for its context hash) pick it: `<Dockerfile path>.dockerignore`
    beside the Dockerfile when there is one, else the context's `.dockerignore`."""
    own = dockerfile.with_name(f"{dockerfile.name}.dockerignore")
    return own if own.is_file() else context / ".dockerignore"


def sent_files(dockerfile: Path, context: Path) -> set[str]:
    """The files of `context` (/ paths relative to it) a build of `dockerfile` sends."""
    rules = ignore_rules(ignore_file_of(dockerfile, context))
    return {path for path in context_files(context) if is_sent(path, rules)}


def copied_files(dockerfile: Path, context: Path) -> set[str]:
    """The files of `context` its COPY lines name (the requirements, then the code), without
    Python's caches: what a build of it must send, and all it needs to."""
    sources = [shlex.split(argument)[0] for argument in read_dockerfile(dockerfile).all("COPY")]
    return {
        path
        for path in context_files(context)
        if any(path == source or path.startswith(source.rstrip("/") + "/") for source in sources)
        and "__pycache__" not in path
        and not path.endswith(".pyc")
    }


def ignore_rules(ignore_file: Path) -> list[str]:
    lines = ignore_file.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_sent(path: str, rules: list[str]) -> bool:
    """Whether a file of the build context (a / path relative to it) reaches the builder: the
    last rule that matches it or a directory above it decides, `!` rules letting it through,
    as Docker reads an ignore file."""
    sent = True
    for rule in rules:
        negated = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!").strip("/"))
        parts = path.split("/")
        if any(pattern.fullmatch("/".join(parts[:end])) for end in range(1, len(parts) + 1)):
            sent = negated
    return sent


def context_files(context: Path, skipped: Iterable[str] = (".git", ".venv", ".cache")) -> set[str]:
    """Every file under `context` (/ paths relative to it), but inside the directories named
    `skipped` (too many to walk; a test checks names inside them on its own)."""
    files = set()
    for directory, subdirectories, names in os.walk(context):
        relative = Path(directory).relative_to(context)
        if relative == Path("."):
            subdirectories[:] = [name for name in subdirectories if name not in skipped]
        files.update((relative / name).as_posix() for name in names)
    return files


def _pattern(glob: str) -> re.Pattern[str]:
    """A Docker ignore pattern as a regular expression: `**` any number of directories, `*`
    and `?` within one."""
    parts = re.split(r"(\*\*/|/\*\*|\*\*|\*|\?)", glob)
    wildcards = {"**/": "(?:.*/)?", "/**": "(?:/.*)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))
