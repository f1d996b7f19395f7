"""Pulumi's YAML files read defensively (pitfall 64): bounded before they are parsed, and
refused with one sentence, saying what and where, when they are anything but a small tree of
plain values.

YAML is a bomb format: a few hundred bytes of aliases stand for billions of values, deep nesting
exhausts the parser's recursion, and an integer of thousands of digits cannot be converted to
text (Python refuses int strings over 4,300 digits). Pulumi's own files need none of that, so:

- size: at most MAX_FILE_BYTES, read no further. This project's stack files are under 1 KiB,
  and one that sets every key of both programs with a hundred encrypted secrets stays under
  20 KiB (a `secure:` ciphertext of a long key list is about 200 bytes);
- aliases: none. `pulumi config set` writes every value out in full, and an alias is the whole
  of an alias bomb (also `<<` merge keys, which only make sense with aliases, are plain keys);
- tags: none but `!!str`. Pulumi's files hold plain text, numbers and booleans; `!!int lots`
  or `!!python/...` only reach constructors that raise or must not run, and PyYAML reads `! 12`
  as a number where YAML says text;
- nesting: at most MAX_DEPTH levels of lists and mappings, checked before descending;
- values: at most MAX_NODES in all, integers of at most MAX_INTEGER_CHARS characters, and no
  character a YAML file may not hold (NUL, control characters, lone surrogates), whether written
  raw or through an escape such as "\\ud83d".

Scalars are read as Pulumi's Go reader reads them where PyYAML's YAML 1.1 rules differ: dates
stay text (and 2024-13-45 no longer raises), only true and false are booleans (`yes`, `on`
stay text), and a number-like scalar that is not a number (`0x_`) is text. A mapping that sets
one key twice is refused, naming the key, as Pulumi refuses it.
"""

from __future__ import annotations

import codecs
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from iris_infra.config.suggestions import shown_key

# Pulumi's stack files are a few hundred bytes; see the module's docstring.
MAX_FILE_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_NODES = 10_000
MAX_INTEGER_CHARS = 32

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = (None, f"{_CORE}str")
# What the text of a YAML file may not hold; a value may not hold it either.
_NOT_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class YamlRefused(ValueError):
    """Why a file is not read: one sentence that never quotes the file's text."""


def load_file(path: Path) -> Any:
    """The one document in `path`, as plain dicts, lists, strings, numbers, booleans and None.

    Raises YamlRefused for a file outside the bounds, yaml.MarkedYAMLError for one that is not
    valid YAML, and OSError (FileNotFoundError) for one that cannot be opened.
    """
    text = _decode(_read_bounded(path))
    match = _NOT_PRINTABLE.search(text)
    if match:
        raise YamlRefused(
            f"holds {_character(match.group())} at {_where(text, match.start())}, which YAML "
            "does not allow in a file"
        )
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        # libyaml stops at 1,000 levels on its own: scanning ahead for keys, it can get there
        # before the composer counts the 33rd.
        if error.problem_mark and "nesting depth" in str(error.problem):
            raise YamlRefused(_too_deep(error.problem_mark)) from None
        raise
    finally:
        loader.dispose()


def _read_bounded(path: Path) -> bytes:
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise YamlRefused("is not a regular file")
    if status.st_size > MAX_FILE_BYTES:
        raise YamlRefused(_too_large(status.st_size))
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise YamlRefused(_too_large(len(data)))
    return data


def _too_large(size: int) -> str:
    return (
        f"is {size:,} bytes; a stack file may be {MAX_FILE_BYTES:,} ({MAX_FILE_BYTES // 1024} "
        "KiB) at most, far more than its settings and secrets need"
    )


def _decode(data: bytes) -> str:
    """UTF-8 text, a leading byte order mark dropped (YAML and Pulumi accept one)."""
    if data.startswith(_UTF16_BOMS):
        raise YamlRefused("is UTF-16 text; save it as UTF-8, as Pulumi writes it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise YamlRefused(
            f"is not UTF-8 text: byte 0x{data[error.start]:02x} at line {line}, column "
            f"{column}; save it as UTF-8"
        ) from None


def _character(character: str) -> str:
    return "a NUL byte" if character == "\x00" else f"the character U+{ord(character):04X}"


def _where(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"line {line}, column {column}"


def _at(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _too_deep(mark: yaml.Mark) -> str:
    return (
        f"nests values more than {MAX_DEPTH} levels deep at {_at(mark)}; a setting's value is "
        "a few levels deep at most"
    )


def _shown_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


class _BoundedLoader(Composer, SafeConstructor, Resolver):
    """PyYAML's safe loader with every node checked as it is composed, before it is built.

    The events come from libyaml's parser when PyYAML has it (its wheels do), from PyYAML's own
    otherwise: libyaml's is some 50 times faster, and this reader runs several times per stack.
    """

    def __init__(self, text: str) -> None:
        parser = yaml.cyaml.CParser if yaml.__with_libyaml__ else yaml.SafeLoader
        self._events = parser(text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0

    def check_event(self, *choices: type[yaml.Event]) -> bool:
        return self._events.check_event(*choices)

    def peek_event(self) -> yaml.Event:
        return self._events.peek_event()

    def get_event(self) -> yaml.Event:
        return self._events.get_event()

    def dispose(self) -> None:
        self._events.dispose()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefused(
                f"uses a YAML alias (*{event.anchor}) at {_at(event.start_mark)}: write the "
                "value out in full (aliases are refused: a few can stand for billions of values)"
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlRefused(
                f"holds more than {MAX_NODES:,} values (at {_at(event.start_mark)}); a stack "
                "file's settings need a few dozen"
            )
        if event.tag not in _ALLOWED_TAGS:
            raise YamlRefused(
                f"uses the YAML tag {_shown_tag(event.tag)} at {_at(event.start_mark)}: a stack "
                "file holds plain values; remove the tag"
            )
        if isinstance(event, yaml.ScalarEvent):
            self._check_scalar(event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlRefused(_too_deep(event.start_mark))
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _check_scalar(self, event: yaml.ScalarEvent) -> None:
        match = _NOT_PRINTABLE.search(event.value)
        if match:
            raise YamlRefused(
                f"has a value holding the character U+{ord(match.group()):04X} at "
                f"{_at(event.start_mark)} (written with an escape), which is not text a "
                "setting can hold"
            )
        if (
            len(event.value) > MAX_INTEGER_CHARS
            and event.tag is None
            and self.resolve(yaml.ScalarNode, event.value, event.implicit) == f"{_CORE}int"
        ):
            raise YamlRefused(
                f"has an integer {len(event.value):,} characters long at "
                f"{_at(event.start_mark)}; a setting's number has {MAX_INTEGER_CHARS} at most"
            )

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = lines.get(key)
            except TypeError:
                raise YamlRefused(
                    f"has a list or mapping as a key at {_at(key_node.start_mark)}; keys are text"
                ) from None
            if first is not None:
                raise YamlRefused(
                    f"{shown_key(key)} is set twice (lines {first} and {line}); YAML keeps only "
                    "one of the two values: remove the other"
                )
            lines[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | str:
        """An int, or the text as written when it only looks like one (`0x_`, `0b_`)."""
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            return self.construct_scalar(node)


# Only what Pulumi's reader also reads as a non-string: no timestamps, no merge keys, no YAML
# 1.1 booleans (yes, no, on, off), and none of the `=` and `!` value tags.
_RESOLVED = {f"{_CORE}{name}" for name in ("null", "int", "float")}
_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _RESOLVED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BoundedLoader.add_implicit_resolver(
    f"{_CORE}bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"
)
_BoundedLoader.add_constructor(f"{_CORE}int", _BoundedLoader.construct_yaml_int)
