"""`make check`: validate stack files offline and print what the program would declare.

    python -m stack_check [--program iris|spendsense] [--stack NAME] [--placeholder-secrets]

For each stack (every `Pulumi.<stack>.yaml` without --stack) the config is read as `pulumi up`
would see it, the program runs under Pulumi's mocks with it, and either every problem is
printed, one line each, or the plan: every resource with its inputs, then the stack's outputs,
in a stable text form that diffs well between two commits. Secrets are shown as `[secret]`. The
exit status is 1 when any stack has a problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iris_infra.apps.iris.config import CONFIG_KEYS as IRIS_CONFIG_KEYS
from iris_infra.apps.spendsense.config import CONFIG_KEYS as SPENDSENSE_CONFIG_KEYS
from iris_infra.config.errors import ConfigError
from iris_infra.config.suggestions import unknown_key_problems
from stack_check.files import (
    SECRET_PLACEHOLDER,
    StackFileError,
    read_engine_config,
    stack_file_name,
    stack_names,
)
from stack_check.plan import SECRET_SHOWN, UNKNOWN_SHOWN, Plan, PlannedResource, is_secret_value
from stack_check.plan import run_program as run_under_mocks

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Program:
    """A Pulumi program of the repository: where its Pulumi.yaml and stack files are, its
    project name, the keys of that namespace it reads, and the secrets a stack cannot deploy
    without (--placeholder-secrets stands in for them)."""

    project: str
    directory: Path
    config_keys: tuple[str, ...]
    required_secrets: tuple[str, ...] = ()

    def unread_key_problems(self, keys: Iterable[str]) -> list[str]:
        """One problem per whole key (`namespace:name`) of a stack's config that the program
        does not read, with the key it most likely meant: a misspelt key or namespace would
        leave its setting at the default without a word. The program reads its config with
        pulumi.Config, which looks keys up by name, so only the stack's files show such a key:
        this check is make check's (and the deployer policy's)."""
        return unknown_key_problems(keys, self.project, self.config_keys)


PROGRAMS = {
    "iris": Program("iris-infra", PROJECT_DIR, IRIS_CONFIG_KEYS, ("openaiApiKey",)),
    "spendsense": Program("spendsense-infra", PROJECT_DIR / "spendsense", SPENDSENSE_CONFIG_KEYS),
}
INDENT = "  "
# Structures up to this long stay on their key's line; longer ones get a line per item.
COMPACT_WIDTH = 60


@dataclass(frozen=True)
class StackCheck:
    stack: str
    # One line per problem, each naming the file, the key, the value and what is allowed.
    problems: tuple[str, ...]
    plan: Plan | None
    # Required secrets that are not set, planned with a placeholder instead.
    placeholders: tuple[str, ...] = ()


def check_stack(
    stack: str,
    project_dir: Path | None = None,
    *,
    program: Program = PROGRAMS["iris"],
    placeholder_secrets: bool = False,
    secret_placeholder: str = SECRET_PLACEHOLDER,
) -> StackCheck:
    """The stack's problems, or, when it has none, its plan (of `program`, whose files are in
    `project_dir`, its own directory unless given)."""
    project_dir = program.directory if project_dir is None else project_dir
    project = program.project
    file_name = stack_file_name(stack)
    try:
        engine = read_engine_config(stack, project_dir, secret_placeholder)
    except StackFileError as error:
        return StackCheck(stack, (str(error),), None)
    values, secret_keys = dict(engine.values), set(engine.secret_keys)
    placeholders = []
    if placeholder_secrets:
        for key in program.required_secrets:
            if f"{project}:{key}" not in values:
                values[f"{project}:{key}"] = secret_placeholder
                secret_keys.add(f"{project}:{key}")
                placeholders.append(key)
    unread = [f"{file_name}: {problem}" for problem in program.unread_key_problems(values)]
    try:
        plan = run_under_mocks(
            project_dir, stack, values, tuple(sorted(secret_keys)), project=project
        )
    except ConfigError as error:
        refused = (f"{file_name}: {problem}" for problem in error.problems)
        return StackCheck(stack, (*engine.problems, *unread, *refused), None, tuple(placeholders))
    if unread:
        return StackCheck(stack, (*engine.problems, *unread), None, tuple(placeholders))
    return StackCheck(stack, engine.problems, plan, tuple(placeholders))


def render(check: StackCheck) -> str:
    """The stack's report: its problems, or its plan."""
    lines = [f"# stack {check.stack} ({stack_file_name(check.stack)})"]
    if check.problems:
        lines.append(f"{len(check.problems)} problem(s); nothing planned:")
        lines.extend(check.problems)
        return "\n".join(lines) + "\n"
    assert check.plan is not None
    lines.extend(
        f"# {key} is not set: planned with a placeholder (--placeholder-secrets)"
        for key in check.placeholders
    )
    lines.extend(_plan_lines(check.plan))
    return "\n".join(lines) + "\n"


def _plan_lines(plan: Plan) -> list[str]:
    """Warnings, then every resource with its parent and inputs, then the outputs."""
    lines = [f"warning: {message}" for message in plan.warnings]
    lines.append(f"{len(plan.resources)} resources")
    for resource in _tree_order(plan.resources):
        lines.extend(["", f"{resource.type} {resource.name}"])
        if resource.parent is not None:
            lines.append(f"{INDENT}parent: {resource.parent}")
        for key in sorted(resource.inputs):
            lines.extend(_field(key, resource.inputs[key]))
    lines.extend(["", "outputs"])
    for name in sorted(plan.outputs):
        value, secret = plan.outputs[name]
        lines.extend(_field(name, SECRET_SHOWN if secret else value))
    return lines


def _tree_order(resources: Iterable[PlannedResource]) -> list[PlannedResource]:
    """Each component followed by its children, siblings by name then type: the order does not
    depend on when the engine happened to register them."""
    children: dict[str | None, list[PlannedResource]] = {}
    for resource in resources:
        children.setdefault(resource.parent, []).append(resource)
    ordered: list[PlannedResource] = []

    def visit(parent: str | None) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.name, r.type)):
            ordered.append(resource)
            visit(resource.name)

    visit(None)
    return ordered


def _field(key: str, value: Any) -> list[str]:
    """`key: value` on one line, or, for a structure or a JSON document, on the lines after."""
    shown = _shown(value)
    is_document = isinstance(value, str) and not isinstance(shown, str)
    if not isinstance(shown, dict | list):
        return [f"{INDENT}{key}: {_scalar(shown)}"]
    compact = json.dumps(shown, sort_keys=True, ensure_ascii=False)
    if not is_document and len(compact) <= COMPACT_WIDTH:
        return [f"{INDENT}{key}: {compact}"]
    head = f"{INDENT}{key}: (JSON)" if is_document else f"{INDENT}{key}:"
    body = json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=False)
    return [head, *(f"{INDENT * 2}{line}" for line in body.splitlines())]


def _shown(value: Any) -> Any:
    """`value` with secrets and unknowns replaced by markers, JSON text parsed."""
    if is_secret_value(value):
        return SECRET_SHOWN
    if isinstance(value, dict):
        return {str(key): _shown(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(item) for item in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            return value
        return _shown(document) if isinstance(document, dict | list) else value
    if isinstance(value, float) and value.is_integer():
        # The engine carries every number as a float; 1024 reads better than 1024.0.
        return int(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return UNKNOWN_SHOWN


def _scalar(value: Any) -> str:
    if value in (SECRET_SHOWN, UNKNOWN_SHOWN):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make check", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--program",
        choices=sorted(PROGRAMS),
        default="iris",
        help="the program whose stacks to check (spendsense: the files in spendsense/)",
    )
    parser.add_argument("--stack", help="one stack (default: every Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--placeholder-secrets",
        action="store_true",
        help="plan a stack whose openaiApiKey is not set with a placeholder, for review",
    )
    parser.add_argument("--project-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    program = PROGRAMS[args.program]
    project_dir = args.project_dir or program.directory
    stacks = [args.stack] if args.stack else stack_names(project_dir)
    if not stacks:
        print(f"no Pulumi.<stack>.yaml in {project_dir.name}", file=sys.stderr)
        return 1
    failed = []
    for index, stack in enumerate(stacks):
        check = check_stack(
            stack, project_dir, program=program, placeholder_secrets=args.placeholder_secrets
        )
        print(("\n" if index else "") + render(check), end="")
        if check.problems:
            failed.append(stack)
    if failed:
        print(f"make check: problems in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
