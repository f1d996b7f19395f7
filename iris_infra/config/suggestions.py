"""Did you mean …? A misspelt config key (`iris-infra:memoryMB`) or namespace
(`iri-infra:memoryMb`) would otherwise leave its setting at the default without a word: the
program reads keys by name, and Pulumi passes any key of any namespace."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

# The namespaces a stack's config may use besides the program's own: its providers' (any key
# the provider takes; the program reads only aws:region) and Pulumi's own (pulumi:tags,
# pulumi:disable-default-providers, ...). Any other namespace is left alone unless it is close
# to one of these, and so most likely a misspelling.
OTHER_NAMESPACES = ("aws", "docker", "pulumi")


# Longer keys are cut in messages: no setting's name comes near it.
SHOWN_KEY_LENGTH = 100


def shown_key(key: object) -> str:
    """A key as a one-line message shows it: as written, or quoted with escapes when it holds
    a newline, a tab or another character that would break or hide the line; cut when long."""
    text = str(key)
    if not text.isprintable():
        text = repr(text)
    return text if len(text) <= SHOWN_KEY_LENGTH else text[:SHOWN_KEY_LENGTH] + "…"


def closest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate closest to `word` regardless of case, if any is close."""
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return by_lower[match[0]] if match else None


def is_misspelt_namespace(key: str, project: str) -> bool:
    """Whether `key` (`namespace:name`) is in no namespace the program knows but close to one."""
    namespace, separator, _ = key.partition(":")
    known = (project, *OTHER_NAMESPACES)
    return bool(separator) and namespace not in known and closest(namespace, known) is not None


def unknown_key_problem(key: str, project: str, keys: Sequence[str]) -> str:
    """The problem of a key the program does not read: one of `project`'s, without its
    namespace, that is not in `keys`, or a whole `namespace:name` in a misspelt namespace."""
    namespace, separator, name = key.partition(":")
    if not separator:
        match = closest(key, keys)
        meant = f"did you mean {project}:{match}? " if match else ""
        return (
            f"{shown_key(key)} is not a setting of this stack; {meant}known keys: {', '.join(keys)}"
        )
    known = (project, *OTHER_NAMESPACES)
    guess = closest(namespace, known) or project
    if guess == project:
        name = closest(name, keys) or name
    return (
        f"{shown_key(key)} is in no namespace this program reads ({', '.join(known)}): "
        f"did you mean {guess}:{shown_key(name)}?"
    )


def unknown_key_problems(keys: Iterable[str], project: str, known: Sequence[str]) -> list[str]:
    """The problems of the whole keys (`namespace:name`) of a stack's config that the program
    does not read: `project`'s keys that are not in `known`, then keys in a namespace that looks
    like a misspelling of a known one. Another program's or a provider's namespace passes."""
    prefix = f"{project}:"
    own = sorted(
        name
        for name in (key.removeprefix(prefix) for key in keys if key.startswith(prefix))
        if name not in known
    )
    misspelt = sorted(key for key in keys if is_misspelt_namespace(key, project))
    return [unknown_key_problem(key, project, known) for key in (*own, *misspelt)]
