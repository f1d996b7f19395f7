"""The project's Markdown documents as the tests read them: files, sections, headings and links.

Parsed with markdown-it-py (CommonMark, plus tables), so a `#` or a link inside a code block is
neither a heading nor a link, as on GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.token import Token

PROJECT_DIR = Path(__file__).resolve().parents[1]
DOCS_DIR = PROJECT_DIR / "docs"

_PARSER = MarkdownIt("commonmark").enable("table")


def documents() -> list[Path]:
    """Every Markdown file of the repository outside its tools' folders."""
    skipped = {".git", ".venv", ".cache", "node_modules", ".pytest_cache", ".ruff_cache"}
    return sorted(
        path
        for path in PROJECT_DIR.rglob("*.md")
        if not skipped.intersection(path.relative_to(PROJECT_DIR).parts)
    )


def doc_text(name: str) -> str:
    """A document by its path from the repository's root (`README.md`, `docs/deploy.md`)."""
    return (PROJECT_DIR / name).read_text(encoding="utf-8")


class Heading(NamedTuple):
    level: int
    text: str
    line: int  # 0-based, as markdown-it maps it


class Link(NamedTuple):
    href: str
    line: int  # 1-based


@cache
def _tokens(path: Path) -> list[Token]:
    return _PARSER.parse(path.read_text(encoding="utf-8"))


def headings(path: Path) -> list[Heading]:
    found = []
    tokens = _tokens(path)
    for at, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            inline = tokens[at + 1]
            text = "".join(
                child.content
                for child in inline.children or []
                if child.type in ("text", "code_inline")
            )
            found.append(Heading(int(token.tag[1:]), text, token.map[0]))
    return found


def slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a document, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for heading in headings(path):
        base = slug(heading.text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> Iterator[Link]:
    for token in _tokens(path):
        if token.type != "inline" or token.map is None:
            continue
        for child in token.children or []:
            href = child.attrGet("href") if child.type == "link_open" else None
            if isinstance(href, str):
                yield Link(href, token.map[0] + 1)


def doc_section(name: str, title_part: str) -> str:
    """The section of document `name` whose heading contains `title_part`, up to the next
    heading of the same or a higher level."""
    path = PROJECT_DIR / name
    lines = path.read_text(encoding="utf-8").splitlines()
    found = headings(path)
    for at, heading in enumerate(found):
        if title_part in lines[heading.line]:
            end = next(
                (later.line for later in found[at + 1 :] if later.level <= heading.level),
                len(lines),
            )
            return "\n".join(lines[heading.line : end]) + "\n"
    raise AssertionError(f"{name} has no heading containing {title_part!r}")
