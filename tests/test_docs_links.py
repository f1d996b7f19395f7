"""The documents hold together: every relative link and anchor in the repository's Markdown files
resolves to a file or folder of the repository (and to a heading, by GitHub's anchors); nothing
checked cites a document the repository does not hold; docs/pitfalls.md is numbered as the code
cites it, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.docs import (
    PROJECT_DIR,
    anchors,
    doc_section,
    doc_text,
    documents,
    headings,
    links,
    slug,
)

PITFALLS = PROJECT_DIR / "docs" / "pitfalls.md"

# The files that must cite only documents the repository holds: every Markdown file, and the
# code in these folders (its comments cite "pitfall N", meaning docs/pitfalls.md).
CITING_CODE_FOLDERS: tuple[str, ...] = (
    ".ci",
    ".github",
    "backend",
    "benchmarks",
    "deploy",
    "examples",
    "iris_infra",
    "lambda_kit",
    "local_api",
    "smoke",
    "spendsense",
    "stack_check",
    "tests",
)

# A name for a document kept outside the repository: "PITFALLS 12", "the contract's section".
FOREIGN_DOCUMENT = re.compile(r"\bPITFALLS\b|(?i:\bcontract(?:'s|s)?\b)")
PITFALL_CITATION = re.compile(r"\bpitfalls? (\d+(?:(?:, | and |–|-)\d+)*)")
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
PITFALL_HEADING = re.compile(r"(\d+)\. \S")


def relative_links() -> list[tuple[Path, int, str]]:
    return [
        (path, link.line, link.href)
        for path in documents()
        for link in links(path)
        if not urlsplit(link.href).scheme
    ]


def resolve(href: str, document: Path) -> tuple[Path | None, str]:
    """The file or folder a relative link names (None when neither it nor its current place
    in the layout exists), and its anchor."""
    parts = urlsplit(href)
    target = document if not parts.path else (document.parent / unquote(parts.path)).resolve()
    return (target if target.exists() else None), parts.fragment


def test_the_documents_are_found():
    found = {path.relative_to(PROJECT_DIR).as_posix() for path in documents()}
    assert {"README.md", "docs/pitfalls.md", "docs/api.md", "docs/deploy.md"} <= found
    assert len(relative_links()) > 50


def repository_path(value: object) -> str | None:
    """A test id: a path from the repository's root; pytest's own id for anything else."""
    return value.relative_to(PROJECT_DIR).as_posix() if isinstance(value, Path) else None


@pytest.mark.parametrize(("path", "line", "href"), relative_links(), ids=repository_path)
def test_each_relative_link_reaches_a_file_and_heading_of_the_repository(path, line, href):
    where = f"{path.relative_to(PROJECT_DIR)}:{line}: {href}"
    target, anchor = resolve(href, path)
    assert target is not None, f"{where} names nothing in the repository"
    assert target.is_relative_to(PROJECT_DIR), f"{where} leaves the repository"
    if anchor:
        assert target.suffix == ".md", f"{where}: an anchor into a file that has no headings"
        assert anchor in anchors(target), f"{where}: no such heading in {target.name}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2. Each stack's boundary and deploy role", "2-each-stacks-boundary-and-deploy-role"),
        ("Deploying a given image: imageUri", "deploying-a-given-image-imageuri"),
        ("IRIS: /health", "iris-health"),
        ("The LLM spend cap", "the-llm-spend-cap"),
    ],
)
def test_anchors_are_githubs(text, expected):
    assert slug(text) == expected


def test_the_link_check_sees_a_broken_link_and_a_broken_anchor():
    document = PROJECT_DIR / "docs" / "api.md"
    assert resolve("no-such-file.md", document)[0] is None
    assert resolve("../iris_infra/apps/nowhere/", document)[0] is None
    target, anchor = resolve("deploy.md#no-such-heading", document)
    assert target is not None and anchor not in anchors(target)


def cited_files() -> list[Path]:
    code = [
        path
        for folder in CITING_CODE_FOLDERS
        for path in sorted((PROJECT_DIR / folder).rglob("*"))
        if path.is_file()
        and path.suffix in {".py", ".yaml", ".yml", ".toml", ".txt", ".js", ".html", ""}
        # This test names the foreign documents it looks for.
        and path != Path(__file__).resolve()
        and "__pycache__" not in path.parts
    ]
    return [*documents(), *code]


@pytest.mark.parametrize("path", cited_files(), ids=repository_path)
def test_nothing_cites_a_document_the_repository_does_not_hold(path):
    text = path.read_text(encoding="utf-8")
    cited = [
        f"{path.relative_to(PROJECT_DIR)}:{text.count(chr(10), 0, found.start()) + 1}: "
        f"{found.group(0)!r}"
        for found in FOREIGN_DOCUMENT.finditer(text)
    ]
    assert cited == []


def test_the_citation_check_sees_both_foreign_documents():
    assert FOREIGN_DOCUMENT.search("an item of the PITFALLS list (PITFALLS 49)")
    assert FOREIGN_DOCUMENT.search("the contract's SpendSense section")
    assert FOREIGN_DOCUMENT.search("see CONTRACT.md")
    assert not FOREIGN_DOCUMENT.search("Pitfalls: pitfall 49")
    assert not FOREIGN_DOCUMENT.search("test_invalid_requests_get_the_contracts_codes")


def pitfall_numbers() -> list[int]:
    return [
        int(found.group(1))
        for heading in headings(PITFALLS)
        if heading.level == 3 and (found := PITFALL_HEADING.match(heading.text))
    ]


def test_the_pitfalls_are_numbered_one_by_one():
    numbers = pitfall_numbers()
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 64


@pytest.mark.parametrize("path", cited_files(), ids=repository_path)
def test_every_pitfall_cited_is_in_the_list(path):
    known = set(pitfall_numbers())
    text = path.read_text(encoding="utf-8")
    cited = {
        int(number)
        for found in PITFALL_CITATION.finditer(text)
        for number in re.findall(r"\d+", found.group(1))
    }
    assert cited <= known, f"{path.relative_to(PROJECT_DIR)} cites {sorted(cited - known)}"


@pytest.mark.parametrize("number", range(1, 65))
def test_each_pitfall_says_what_holds_it_and_the_tests_exist(number):
    item = doc_section("docs/pitfalls.md", f"### {number}. ")
    assert "**Held by:**" in item, f"pitfall {number} names no test"
    node_ids = NODE_ID.findall(item.split("**Held by:**", 1)[1])
    assert node_ids, f"pitfall {number} names no test"
    for file, test in node_ids:
        source = PROJECT_DIR / file
        assert source.is_file(), f"pitfall {number}: {file} does not exist"
        defined = re.search(rf"^(async )?def {test}\(", source.read_text("utf-8"), re.MULTILINE)
        assert defined, f"pitfall {number}: {file} has no {test}"


def test_the_pitfall_checks_see_a_gap_and_an_unknown_test():
    assert NODE_ID.findall("`tests/backend/test_handler.py::test_lifespan_is_off`") == [
        ("tests/backend/test_handler.py", "test_lifespan_is_off")
    ]
    cited = PITFALL_CITATION.search("(pitfalls 14, 15 and 17)")
    assert cited and re.findall(r"\d+", cited.group(1)) == ["14", "15", "17"]


def test_the_readme_stays_a_front_door():
    """What, why, the quick start, the make targets and links; everything else is in docs/."""
    assert len(doc_text("README.md").splitlines()) <= 200


def test_the_readme_lists_every_make_target():
    # A line ending in a backslash goes on on the next, as make reads it.
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    (phony,) = re.findall(r"^\.PHONY: (.+)$", makefile, re.MULTILINE)
    table = doc_section("README.md", "## Make targets")
    listed = set(re.findall(r"^\| `make ([\w-]+)", table, re.MULTILINE))
    assert listed == set(phony.split())
