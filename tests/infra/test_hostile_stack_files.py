"""`make check` on stack files made to hurt it (pitfall 64): each gets one line naming the file
and the problem, a failing exit and no traceback, within the bounds of stack_check.safe_yaml;
the bounds hold exactly where they are drawn; scalars are read as Pulumi reads them; and any
file at all gets a plan or one line per problem."""

from __future__ import annotations

import os
import re
import shutil
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from iris_infra.apps.iris.config import CONFIG_KEYS, StackConfig
from iris_infra.config.errors import ConfigError
from iris_infra.config.suggestions import is_misspelt_namespace
from stack_check import safe_yaml
from stack_check.files import (
    SECRET_PLACEHOLDER,
    StackFileError,
    read_document,
    read_engine_config,
)
from stack_check.safe_yaml import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INTEGER_CHARS,
    MAX_NODES,
    YamlRefused,
    load_file,
)
from tests.infra.hostile_stack_files import GOOD, HOSTILE, REPO, Hostile, project, run_check

# Seconds before a check is killed: a hang fails its test instead of holding the suite.
CHECK_TIMEOUT = 120
# Stack "files" that are no file: opening a FIFO waits for a writer forever, /dev/zero never
# ends, and a directory cannot be read.
NOT_FILES = {"fifo", "device", "directory"}


def reports(stdout: str) -> dict[str, list[str]]:
    """Each stack's report (its lines after the `# stack` header) by stack name."""
    found: dict[str, list[str]] = {}
    for section in stdout.split("\n\n"):
        header, *lines = section.splitlines()
        found[re.fullmatch(r"# stack (\S+) \(Pulumi\.\1\.yaml\)", header).group(1)] = lines
    return found


def test_each_hostile_stack_file_gets_one_line_naming_it_and_its_problem(tmp_path):
    """The real `python -m stack_check` on every hostile file at once, in a fresh interpreter
    with 2 GiB of address space: an alias bomb expanded, or an endless file read, would end in a
    MemoryError's traceback or the timeout instead."""
    project_dir = project(tmp_path, {name: hostile.content for name, hostile in HOSTILE.items()})
    os.mkfifo(project_dir / "Pulumi.fifo.yaml")
    (project_dir / "Pulumi.device.yaml").symlink_to("/dev/zero")
    (project_dir / "Pulumi.directory.yaml").mkdir()

    run = run_check(project_dir, timeout=CHECK_TIMEOUT)

    print(f"{len(HOSTILE) + 3} files: {run.seconds:.2f} s, peak RSS {run.peak_mb:.0f} MB")
    expected = {**HOSTILE, **dict.fromkeys(NOT_FILES, Hostile(b"", "is not a regular file"))}
    assert run.status == 1
    assert run.stderr == f"make check: problems in {', '.join(sorted(expected))}\n"
    found = reports(run.stdout)
    assert sorted(found) == sorted(expected)
    for name, hostile in expected.items():
        count, problem = found[name]
        assert count == "1 problem(s); nothing planned:", name
        assert problem.startswith(f"Pulumi.{name}.yaml: ") and hostile.is_said_by(problem), problem


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pyyaml"])
@pytest.mark.parametrize(
    "name", [name for name, hostile in HOSTILE.items() if hostile.before_building]
)
def test_a_hostile_file_is_refused_before_anything_is_built_from_it(
    tmp_path, monkeypatch, name, libyaml
):
    """Bounded by structure: the reader stops while composing nodes (or before parsing), so an
    alias bomb never becomes the billions of values it stands for; with libyaml's parser, and
    with PyYAML's own where PyYAML was built without libyaml."""
    built = []
    monkeypatch.setattr(safe_yaml._BoundedLoader, "construct_document", built.append)
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_bytes(HOSTILE[name].content)
    with pytest.raises(StackFileError) as refused:
        read_document(path)
    assert HOSTILE[name].is_said_by(str(refused.value)), refused.value
    assert built == []


def load_text(directory: Path, text: str) -> object:
    path = directory / "Pulumi.dev.yaml"
    path.write_text(text, encoding="utf-8")
    return load_file(path)


def nested(levels: int) -> str:
    """A mapping (one level) holding `levels` - 1 nested lists."""
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


@pytest.mark.parametrize(
    ("at_the_limit", "past_it", "refusal"),
    [
        (
            "#" * (MAX_FILE_BYTES - 1) + "\n",
            "#" * MAX_FILE_BYTES + "\n",
            f"is {MAX_FILE_BYTES + 1:,} bytes; a stack file may be {MAX_FILE_BYTES:,}",
        ),
        (nested(MAX_DEPTH), nested(MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels deep"),
        (
            "a: " + "9" * MAX_INTEGER_CHARS + "\n",
            "a: " + "9" * (MAX_INTEGER_CHARS + 1) + "\n",
            f"an integer {MAX_INTEGER_CHARS + 1} characters long at line 1, column 4",
        ),
        # The mapping, its key and the list are three values.
        (
            "a: [" + "1," * (MAX_NODES - 4) + "1]\n",
            "a: [" + "1," * (MAX_NODES - 3) + "1]\n",
            f"holds more than {MAX_NODES:,} values",
        ),
        ("a: &x 1\n", "a: &x 1\nb: *x\n", "uses a YAML alias (*x) at line 2, column 4"),
    ],
    ids=["size", "depth", "integer", "values", "aliases"],
)
def test_each_bound_holds_exactly_where_it_is_drawn(tmp_path, at_the_limit, past_it, refusal):
    load_text(tmp_path, at_the_limit)
    with pytest.raises(YamlRefused, match=re.escape(refusal)):
        load_text(tmp_path, past_it)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2024-13-45", "2024-13-45"),
        ("2024-01-02", "2024-01-02"),
        ("yes", "yes"),
        ("off", "off"),
        ("true", True),
        ("FALSE", False),
        ("0x_", "0x_"),
        ("0b_", "0b_"),
        ("0x1f", 31),
        ("1_000", 1000),
        ("'9999999999999999999999999999999999999999'", "9" * 40),
        ("1.0e+999", float("inf")),
        ("~", None),
        ("<<", "<<"),
        ("=", "="),
        ("!!str 12", "12"),
    ],
)
def test_scalars_are_read_as_pulumi_reads_them(tmp_path, written, read):
    """Pulumi's Go reader keeps dates and YAML 1.1's yes/no/on/off as text (PyYAML's would make
    a datetime, or raise for 2024-13-45, and booleans); a number that is not one is text."""
    assert load_text(tmp_path, f"a: {written}\n") == {"a": read}


def test_a_byte_order_mark_is_read_past_as_pulumi_does(tmp_path):
    project(tmp_path, {"dev": GOOD.encode(), "bom": b"\xef\xbb\xbf" + GOOD.encode()})
    assert read_engine_config("bom", tmp_path) == read_engine_config("dev", tmp_path)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "  iris-infra:openaiModel:\n    model: gpt-4o\n",
            "openaiModel is a mapping, but Pulumi.yaml declares it of type string, so pulumi up "
            "refuses it: give text",
        ),
        (
            "  iris-infra:memoryMb: [1024]\n",
            "memoryMb is a list, but Pulumi.yaml declares it of type integer, so pulumi up "
            "refuses it: give a whole number",
        ),
        (
            "  iris-infra:corsOrigins: {a: https://a.example.com}\n",
            "corsOrigins is a mapping, but Pulumi.yaml declares it of type array",
        ),
        (
            "  iris-infra:apiKeys:\n    secure: {v1: abc}\n",
            "iris-infra:apiKeys has a secure value that is not ciphertext (text): set it again "
            "with `pulumi config set --secret iris-infra:apiKeys`",
        ),
        ("  iris-infra:apiKeys:\n    secure: 12\n", "iris-infra:apiKeys has a secure value that"),
        ("  iris-infra:apiKeys:\n    secure: ''\n", "iris-infra:apiKeys has a secure value that"),
        ("encryptionsalt: v1:abc\n", None),
        (
            "confg:\n  iris-infra:memoryMb: 2048\n",
            "confg is not a setting of a stack file, and Pulumi ignores it; did you mean config? "
            "a stack file holds secretsprovider, encryptedkey, encryptionsalt, config, environment",
        ),
    ],
    ids=[
        "mapping-for-text",
        "list-for-integer",
        "mapping-for-list",
        "secure-mapping",
        "secure-number",
        "secure-empty",
        "known-top-level-key",
        "misspelt-top-level-key",
    ],
)
def test_a_value_of_the_wrong_shape_is_one_problem_and_reaches_no_program(tmp_path, entry, problem):
    stacks = {"good": GOOD.encode(), "dev": (GOOD + entry).encode()}
    engine = read_engine_config("dev", project(tmp_path, stacks))
    if problem is None:
        assert engine.problems == ()
    else:
        (line,) = engine.problems
        assert line.startswith(f"Pulumi.dev.yaml: {problem}"), line
    # The value is left out, so the program does not report it again; an encrypted one
    # counts as set all the same.
    values = dict(engine.values)
    if "secure" in entry:
        assert values.pop("iris-infra:apiKeys") == SECRET_PLACEHOLDER
        assert "iris-infra:apiKeys" in engine.secret_keys
    assert values == read_engine_config("good", tmp_path).values


# Pieces of YAML, of Pulumi files and of the hostile files above, joined at random.
_FRAGMENTS = (
    *("config:", "\n", "  ", "    ", "- ", ": ", ":", ", ", "# c", "? ", "---\n", "...\n"),
    *("iris-infra:", "iri-infra:", "aws:", "awz:", "pulumi:", "secure: ", "v1:abc"),
    *("memoryMb", "memoryMB", "corsOrigins", "openaiApiKey", "apiKeys", "timeoutSeconds"),
    *("&a ", "*a", "[", "]", "{", "}", "'", '"', "|\n", ">-\n", "<<: ", "!!int ", "!!str "),
    *("!!binary ", "!", "%YAML 1.1\n", "\\ud83d", "\\0", "\\x85", "\\u2028", "\t", "\ufeff"),
    *("\x00", "\x85", "\u2028", "é", "0x", "0b_", "9" * 40, "2024-13-45", "yes", "~"),
    *("1.0e+999", ".nan", "2048", "-1", "true", "encryptionsalt:", "confg:"),
)
_TEXT = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=4)), max_size=40).map(
    "".join
)
_KEYS = st.one_of(
    st.sampled_from(
        [
            *(f"iris-infra:{key}" for key in CONFIG_KEYS),
            *("iris-infra:memoryMB", "iri-infra:memoryMb", "aws:region", "awz:region"),
            *("pulumi:tags", "memoryMb", "random:seed", "a:b:c", "iris-infra:config:memoryMb"),
        ]
    ),
    st.text(string.printable, max_size=12),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**40), 10**40),
    st.floats(),
    st.text(max_size=20),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
_DOCUMENTS = st.dictionaries(
    _KEYS, _VALUES | st.fixed_dictionaries({"secure": _VALUES}), max_size=8
).map(lambda config: yaml.safe_dump({"config": config}).encode())
_CONTENTS = st.one_of(
    _TEXT.map(lambda text: text.encode("utf-8")), _DOCUMENTS, st.binary(max_size=80)
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz")
    shutil.copy(REPO / "Pulumi.yaml", directory / "Pulumi.yaml")
    return directory


def program_raw(values: dict[str, str]) -> dict[str, str | None]:
    """What make check validates of these engine values, in this process: the program's own
    keys without the namespace (from_raw names an unknown one, as make check does), and a
    misspelt namespace's keys whole, without their value."""
    raw: dict[str, str | None] = {
        key.removeprefix("iris-infra:"): value
        for key, value in values.items()
        if key.startswith("iris-infra:")
    }
    raw.update(dict.fromkeys(key for key in values if is_misspelt_namespace(key, "iris-infra")))
    return raw


@settings(max_examples=300, derandomize=True, deadline=None)
@given(content=_CONTENTS)
def test_any_stack_file_gets_its_config_or_one_line_per_problem(fuzz_dir, content):
    """Read in this process for speed: the reading `make check` does, then the program's own
    validation of what it read; never an exception other than the two that carry problems."""
    (fuzz_dir / "Pulumi.dev.yaml").write_bytes(content)
    try:
        engine = read_engine_config("dev", fuzz_dir)
    except StackFileError as error:
        problems = [str(error)]
    else:
        problems = list(engine.problems)
        try:
            StackConfig.from_raw("dev", program_raw(engine.values))
        except ConfigError as error:
            problems.extend(f"Pulumi.dev.yaml: {problem}" for problem in error.problems)
    for problem in problems:
        assert problem.startswith(("Pulumi.dev.yaml: ", "Pulumi.yaml: ")), problem
        assert len(problem.splitlines()) == 1 and problem.isprintable(), problem


def test_a_hostile_project_file_is_one_line_naming_it(tmp_path):
    project(tmp_path, {"dev": GOOD.encode()})
    with (tmp_path / "Pulumi.yaml").open("a") as file:
        file.write("  warmupIntervalMinutes: &w\n    default: 1\n  throttleRateLimit: *w\n")
    with pytest.raises(StackFileError) as refused:
        read_engine_config("dev", tmp_path)
    assert str(refused.value).startswith("Pulumi.yaml: uses a YAML alias (*w) at line ")
