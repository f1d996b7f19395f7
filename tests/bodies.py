"""Hypothesis strategies for analyze request bodies: whatever bytes a client may send.

The JSON is written by hand rather than by `json.dumps`, so that it can hold what a serializer
never writes: lone surrogates as `\\ud83d` escapes, duplicate keys, numbers of any length (Python
refuses to print an int of more than 4,300 digits), nesting deeper than the parser recurses,
and then truncation, corruption and other charsets on top.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import strategies as st

# Keys the analyze route reads or that look like its fields, so duplicates happen often.
FIELD_NAMES = ("text", "model", "language", "Text", "text\u0000", "")
NUMBER_LITERALS = st.one_of(
    st.integers().map(str),
    st.sampled_from(
        ["-0", "0.1e1", "1e400", "-1e400", "1E-400", "5e-324", "1.7976931348623157e308"]
        + ["NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "0x10", "1_000"]
    ),
    # Around CPython's 4,300-digit limit on int(str), and far beyond it.
    st.integers(4_290, 4_310).map(lambda digits: "9" * digits),
    st.just("-1" + "0" * 20_000 + ".5"),
)
# Any code point, lone surrogates included: JSON's \\u escapes can write every one of them.
CHARACTERS = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.sampled_from('\x00\x1f\x7f\x85\xa0\u2028\ufeff\ufffd\uffff\U0001f338"\\'),
)
# How far an array or object nests: CPython's parser recurses once per level (limit ~1,000).
DEPTHS = st.one_of(st.integers(0, 40), st.sampled_from([999, 1_000, 1_001, 3_000]))


def _with_raw_controls(text: str) -> str:
    """A string literal with control characters left raw, which strict JSON refuses."""
    literal = json.dumps(text, ensure_ascii=False)
    for code_point in range(0x20):
        literal = literal.replace(f"\\u{code_point:04x}", chr(code_point))
    return literal.replace("\\n", "\n").replace("\\t", "\t")


# A JSON string literal: every character escaped (lone surrogates as \\udXXX), only what JSON
# requires escaped (a lone surrogate then stays raw in the text), or raw control characters.
STRING_STYLES = (
    lambda text: json.dumps(text, ensure_ascii=True),
    lambda text: json.dumps(text, ensure_ascii=False),
    _with_raw_controls,
)
JSON_STRINGS = st.builds(
    lambda text, style: style(text),
    st.text(CHARACTERS, max_size=16),
    st.sampled_from(STRING_STYLES),
)
# Most texts are plain, so that many bodies get as far as an analysis.
PLAIN_STRINGS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).map(json.dumps)


SCALARS = st.one_of(st.sampled_from(["null", "true", "false"]), NUMBER_LITERALS, JSON_STRINGS)
KEYS = st.one_of(st.sampled_from(FIELD_NAMES).map(json.dumps), JSON_STRINGS)


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"


JSON_TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(KEYS, children), max_size=3).map(_object),
    ),
    max_leaves=4,
)


@st.composite
def nested(draw: st.DrawFn, inner: str) -> str:
    """`inner` inside `depth` arrays or objects."""
    depth = draw(DEPTHS)
    if draw(st.booleans()):
        return "[" * depth + inner + "]" * depth
    return '{"a":' * depth + inner + "}" * depth


@st.composite
def analyze_documents(draw: st.DrawFn) -> str:
    """Mostly an object with a `text` (of any type, any depth), often with duplicate keys."""
    shape = draw(st.sampled_from(["text", "text", "text", "nested-text", "nested", "any"]))
    if shape == "any":
        return draw(JSON_TREES)
    if shape == "nested":
        return draw(nested(draw(JSON_TREES)))
    text = draw(st.one_of(PLAIN_STRINGS, JSON_STRINGS, JSON_TREES))
    if shape == "nested-text":
        text = draw(nested(text))
    pairs = [('"text"', text), *draw(st.lists(st.tuples(KEYS, SCALARS), max_size=2))]
    return _object(draw(st.permutations(pairs)))


ENCODINGS = ("utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "latin-1")
CONTENT_TYPES = (
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    "application/problem+json",
    "text/plain",
    None,
)


@dataclass(frozen=True)
class Body:
    """A request body: text (as a text event carries it) or bytes, and its content type."""

    content: str | bytes
    content_type: str | None

    def as_bytes(self) -> bytes:
        """The bytes on the wire; text that UTF-8 cannot encode goes as the bytes Python would
        write for it, invalid UTF-8."""
        if isinstance(self.content, bytes):
            return self.content
        return self.content.encode("utf-8", "surrogatepass")


@st.composite
def corrupted(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncated, spliced into or with a byte flipped."""
    change = draw(st.sampled_from(["truncate", "insert", "flip"]))
    at = draw(st.integers(0, len(data)))
    if change == "truncate":
        return data[:at]
    if change == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if not data:
        return data
    at = min(at, len(data) - 1)
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]


@st.composite
def analyze_bodies(draw: st.DrawFn) -> Body:
    """Any body a client may send to POST /api/iris/analyze."""
    document = draw(analyze_documents())
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding == "utf-8" and not draw(st.integers(0, 3)) == 0:
        # As text: what API Gateway hands over for a JSON body (lone surrogates and all).
        return Body(document, content_type)
    data = document.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")
    if draw(st.booleans()):
        data = draw(corrupted(data))
    return Body(data, content_type)
