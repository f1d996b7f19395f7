"""Which jobs of a workflow an event runs: its triggers, each job's `if:` and `needs`.

`evaluate` reads the subset of GitHub's expression syntax that this project's conditions use:
||, &&, !, ==, !=, parentheses, '...' strings, true/false, startsWith/endsWith/contains and
context paths (`github.ref`). As on GitHub, string comparisons ignore case and && binds
tighter than ||. Anything else fails loudly rather than being guessed.
"""

from __future__ import annotations

import fnmatch
import re
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
            arguments = [self.either()]
            while self.take(","):
                arguments.append(self.either())
            assert self.take(")"), "missing )"
            return _FUNCTIONS[value](*map(_fold, arguments))
        return self.context[value]


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


_FUNCTIONS = {
    "startsWith": lambda text, prefix: text.startswith(prefix),
    "endsWith": lambda text, suffix: text.endswith(suffix),
    "contains": lambda text, part: part in text,
}
