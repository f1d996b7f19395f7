"""Which jobs of a workflow an event runs: its triggers, each job's `if:` and `needs`.

`evaluate` reads the subset of GitHub's expression syntax that this project's conditions use:
||, &&, !, ==, !=, parentheses, '...' strings, true/false, startsWith/endsWith/contains, the
status functions (success(), always(), failure(), cancelled()) and context paths
(`github.ref`). As on GitHub, string comparisons ignore case and && binds tighter than ||.
Anything else fails loudly rather than being guessed.

`run_step` runs a `run:` step's script as GitHub's Linux runner does, so a test can give it
files and read what it wrote; `job_outputs` and `carry_artifacts` pass on what a job hands the
jobs that need it.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any


def jobs_run(
    workflow: dict[str, Any], event_name: str, ref: str, event: dict[str, str] | None = None
) -> set[str]:
    """The jobs a `event_name` on `ref` runs: the triggers match, each job's `if` holds and
    every job it needs runs. `event` adds the event's fields that conditions read
    (`github.event.workflow_run.event`, ...)."""
    if not triggered(workflow["on"], event_name, ref):
        return set()
    context = {
        "github.event_name": event_name,
        "github.ref": ref,
        "github.repository": "owner/iris",
        "github.event.pull_request.head.repo.full_name": (
            "owner/iris" if event_name.startswith("pull_request") else ""
        ),
        **(event or {}),
    }
    ran: set[str] = set()
    pending = dict(workflow["jobs"])
    while pending:
        ready = {name: job for name, job in pending.items() if not set(_needs(job)) & set(pending)}
        assert ready, f"a cycle in needs: {sorted(pending)}"
        for name, job in ready.items():
            del pending[name]
            if set(_needs(job)) <= ran and evaluate(str(job.get("if", "true")), context):
                ran.add(name)
    return ran


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def triggered(on: dict[str, Any], event_name: str, ref: str) -> bool:
    if event_name not in on:
        return False
    filters = on[event_name] or {}
    if event_name != "push":
        return True
    kind, _, name = ref.removeprefix("refs/").partition("/")
    patterns = filters.get("branches" if kind == "heads" else "tags")
    if patterns is None:
        # A push filter on the other kind only excludes this kind; no filter at all allows both.
        return not ({"branches", "tags"} & filters.keys())
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


_TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|[()!,])|'((?:[^']|'')*)'|([A-Za-z_][\w.-]*))")


def evaluate(expression: str, context: dict[str, str]) -> Any:
    """The value of an expression (with or without `${{ }}`) in `context`, or an error."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    tokens: list[tuple[str, str]] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        assert match, f"cannot read {text[position:]!r} in {expression!r}"
        operator, string, name = match.groups()
        if operator:
            tokens.append(("op", operator))
        elif string is not None:
            tokens.append(("str", string.replace("''", "'")))
        else:
            tokens.append(("name", name))
        position = match.end()
    parser = _Parser(tokens, context)
    value = parser.either()
    assert parser.done(), f"unread tokens in {expression!r}"
    return value


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], context: dict[str, str]) -> None:
        self.tokens = tokens
        self.context = context
        self.position = 0

    def done(self) -> bool:
        return self.position == len(self.tokens)

    def take(self, operator: str) -> bool:
        if not self.done() and self.tokens[self.position] == ("op", operator):
            self.position += 1
            return True
        return False

    def either(self) -> Any:
        value = self.both()
        while self.take("||"):
            right = self.both()
            value = value or right
        return value

    def both(self) -> Any:
        value = self.negation()
        while self.take("&&"):
            right = self.negation()
            value = value and right
        return value

    def negation(self) -> Any:
        if self.take("!"):
            return not self.negation()
        return self.comparison()

    def comparison(self) -> Any:
        left = self.operand()
        for operator in ("==", "!="):
            if self.take(operator):
                equal = _fold(left) == _fold(self.operand())
                return equal if operator == "==" else not equal
        return left

    def operand(self) -> Any:
        if self.take("("):
            value = self.either()
            assert self.take(")"), "missing )"
            return value
        kind, value = self.tokens[self.position]
        self.position += 1
        if kind == "str":
            return value
        if value in ("true", "false"):
            return value == "true"
        if self.take("("):
            if self.take(")"):
                return _STATUS[value]
            arguments = [self.either()]
            while self.take(","):
                arguments.append(self.either())
            assert self.take(")"), "missing )"
            return _FUNCTIONS[value](*map(_fold, arguments))
        return self.context[value]


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


# The status functions answer as in the runs `jobs_run` follows: every job a job needs
# succeeded, and nothing was cancelled.
_STATUS = {"success": True, "always": True, "failure": False, "cancelled": False}

_FUNCTIONS = {
    "startsWith": lambda text, prefix: text.startswith(prefix),
    "endsWith": lambda text, suffix: text.endswith(suffix),
    "contains": lambda text, part: part in text,
}


# What GitHub's Linux runner runs a script with: a step without `shell:` gets `bash -e {0}`,
# one with `shell: bash` gets `bash --noprofile --norc -eo pipefail {0}`.
SHELLS: dict[str | None, list[str]] = {
    None: ["bash", "-e"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
}


def run_step(
    step: dict[str, Any],
    workspace: Path,
    env: dict[str, str] | None = None,
    path: tuple[Path, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Runs `step`'s script in `workspace` with the step's shell. `env` gives the value of each
    variable the step's `env:` sets (all of them, and nothing else); `path` puts stand-ins for
    commands ahead of the system's. GITHUB_OUTPUT is `workspace/.github_output`."""
    given = env or {}
    assert set(given) == set(step.get("env", {})), (sorted(given), sorted(step.get("env", {})))
    script = workspace / ".step.sh"
    script.write_text(step["run"])
    environment = {
        "PATH": os.pathsep.join([*map(str, path), os.environ["PATH"]]),
        "HOME": str(workspace),
        "LC_ALL": "C.UTF-8",
        "GITHUB_OUTPUT": str(workspace / ".github_output"),
        **given,
    }
    return subprocess.run(
        [*SHELLS[step.get("shell")], str(script)],
        cwd=workspace,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


_OUTPUT = re.compile(r"^(?P<name>[\w-]+)(?:=(?P<value>.*)|<<(?P<delimiter>.+))$")


def step_outputs(workspace: Path) -> dict[str, str]:
    """The outputs a step wrote to GITHUB_OUTPUT (`name=value` and `name<<DELIMITER` lines)."""
    output = workspace / ".github_output"
    lines = output.read_text().splitlines() if output.exists() else []
    outputs: dict[str, str] = {}
    while lines:
        match = _OUTPUT.match(lines.pop(0))
        assert match, "not an output line"
        if match["delimiter"] is None:
            outputs[match["name"]] = match["value"]
            continue
        value: list[str] = []
        while (line := lines.pop(0)) != match["delimiter"]:
            value.append(line)
        outputs[match["name"]] = "\n".join(value)
    return outputs


def job_step(workflow: dict[str, Any], job: str, name: str) -> dict[str, Any]:
    """The step of `job` called `name`."""
    (found,) = [step for step in workflow["jobs"][job]["steps"] if step.get("name") == name]
    return found


def job_outputs(
    workflow: dict[str, Any], job: str, step: dict[str, Any], workspace: Path
) -> dict[str, str]:
    """`needs.<job>.outputs.<name>` for each output of `job`, from what `step` (run in
    `workspace`) wrote to GITHUB_OUTPUT."""
    written = step_outputs(workspace).items()
    context = {f"steps.{step.get('id')}.outputs.{key}": value for key, value in written}
    return {
        f"needs.{job}.outputs.{name}": evaluate(value, context)
        for name, value in workflow["jobs"][job].get("outputs", {}).items()
    }


def artifacts(workflow: dict[str, Any], action: str) -> dict[str, tuple[str, str]]:
    """Artifact name -> (job, path) of each `actions/<action>-artifact` step."""
    return {
        step["with"]["name"]: (job_name, step["with"]["path"].rstrip("/"))
        for job_name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if step.get("uses", "").split("@")[0] == f"actions/{action}-artifact"
    }


def carry_artifacts(workflow: dict[str, Any], workspaces: Path, job: str) -> None:
    """Copies each artifact `job` downloads from the workspace of the job that uploaded it
    (`workspaces/<job name>`) to where `job` downloads it, links kept as links."""
    uploads = artifacts(workflow, "upload")
    for name, (downloader, path) in artifacts(workflow, "download").items():
        if downloader == job:
            uploader, uploaded = uploads[name]
            target = workspaces / job / path
            shutil.copytree(workspaces / uploader / uploaded, target, symlinks=True)


def install_commands(directory: Path, scripts: dict[str, str]) -> Path:
    """Writes each script as an executable command in `directory`, for `run_step`'s `path`."""
    for name, script in scripts.items():
        (directory / name).write_text(script)
        (directory / name).chmod(0o755)
    return directory
