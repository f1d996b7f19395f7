"""The repository's layout holds: the project's packages are installed (pyproject.toml), not found
by editing sys.path, a program runs wherever Pulumi runs it, no module of the project imports,
however indirectly, one that imports it, and no product file is too long to read whole."""

from __future__ import annotations

import ast
import graphlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
# What is not product code: the tests, and what tools keep beside the tree.
NOT_PRODUCT = ("tests", ".venv", ".cache", ".git", ".mirror")
# The only sys.path edits, each emulating a Lambda task root for a local run (and saying so):
# the local stand-in for the HTTP API, and the benchmark that calls IRIS's handler in-process.
TASK_ROOT_EMULATIONS = {"local_api/__init__.py", "benchmarks/handler_bench.py"}


def product_files(suffix: str = ".py") -> list[Path]:
    return sorted(
        path
        for path in REPO.rglob(f"*{suffix}")
        if path.relative_to(REPO).parts[0] not in NOT_PRODUCT and "__pycache__" not in path.parts
    )


def edits_sys_path(tree: ast.AST) -> bool:
    """Whether the module assigns to sys.path or calls a method of it that changes it."""

    def is_sys_path(node: ast.AST) -> bool:
        while isinstance(node, ast.Subscript):
            node = node.value
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        )

    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AugAssign)
            else []
        )
        if any(is_sys_path(target) for target in targets):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("insert", "append", "extend", "remove", "clear", "pop")
            and is_sys_path(node.func.value)
        ):
            return True
    return False


def test_no_sys_path_edit_but_the_task_root_emulations() -> None:
    edited = {
        path.relative_to(REPO).as_posix()
        for path in product_files()
        if edits_sys_path(ast.parse(path.read_text(encoding="utf-8")))
    }

    assert edited == TASK_ROOT_EMULATIONS


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.path.insert(0, 'x')",
        "import sys\nsys.path.append('x')",
        "import sys\nsys.path[:0] = ['x']",
        "import sys\nsys.path += ['x']",
    ],
)
def test_the_check_sees_every_form_of_sys_path_edit(source: str) -> None:
    assert edits_sys_path(ast.parse(source))


def test_every_package_of_the_project_is_installed() -> None:
    """pyproject.toml names every package under the installed roots, and maps spendsense_core
    from the SpendSense functions' task root: a package it missed would import from a checkout
    and not from an install."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    directories = {"spendsense_core": REPO / "spendsense" / "backend" / "src" / "spendsense_core"}
    for root in ("iris_infra", "lambda_kit", "local_api", "smoke", "stack_check"):
        directories[root] = REPO / root
    found = {
        ".".join((top, *init.parent.relative_to(directory).parts))
        for top, directory in directories.items()
        for init in directory.rglob("__init__.py")
    }

    assert set(setuptools["packages"]) == found
    assert setuptools["package-dir"] == {
        "spendsense_core": "spendsense/backend/src/spendsense_core"
    }


def test_the_programs_requirements_install_the_project() -> None:
    """requirements.txt (what `pulumi up` runs with, and what every venv target of the Makefile
    installs, through stack_check's and the dev requirements) installs the project itself."""
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "-e ." in lines
    for chained in ("stack_check/requirements.txt", "requirements-dev.txt"):
        text = (REPO / chained).read_text(encoding="utf-8")
        assert "-r ../requirements.txt" in text or "-r requirements.txt" in text, chained
    assert "-e ." in (REPO / "local_api" / "requirements.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("program_dir", [".", "spendsense"])
def test_each_program_imports_its_wiring_where_pulumi_runs_it(program_dir: str) -> None:
    """Pulumi runs a program's __main__.py with the project's virtualenv, in the program's own
    directory: from there, in an isolated interpreter (no current directory or PYTHONPATH on
    the path), the program's imports resolve to this tree through the install alone."""
    probe = (
        "import json, iris_infra.apps.iris.stack, iris_infra.apps.spendsense.stack, lambda_kit; "
        "print(json.dumps([iris_infra.__file__, lambda_kit.__file__]))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        cwd=REPO / program_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    for module_file in json.loads(result.stdout):
        assert Path(module_file).is_relative_to(REPO)


# Where the project's modules live, each directory a root of module names: the installed
# packages at the repository's root, and each image's task root (whose modules import each
# other as top-level modules, and the handler kit from the root). A module's import is looked
# up in its own task root first, then at the repository's root.
TASK_ROOTS = (REPO / "backend" / "src", REPO / "spendsense" / "backend" / "src")
ROOT_PACKAGES = ("iris_infra", "stack_check", "local_api", "smoke", "lambda_kit", "benchmarks")


def module_files() -> dict[tuple[Path, str], Path]:
    """(root, dotted name) -> file, for every module of the project."""
    modules = {}
    places = [(REPO, REPO / package) for package in ROOT_PACKAGES]
    places += [(root, root) for root in TASK_ROOTS]
    for root, directory in places:
        for path in directory.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[(root, name)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports anywhere in its code (a function's own
    imports too: a cycle deferred into a function is a cycle all the same)."""
    modules = module_files()

    def resolve(root: Path, name: str) -> tuple[Path, str] | None:
        for place in (root, REPO):
            if (place, name) in modules:
                return place, name
        return None

    def label(key: tuple[Path, str]) -> str:
        return f"{key[0].relative_to(REPO).as_posix()}:{key[1]}" if key[0] != REPO else key[1]

    graph: dict[str, set[str]] = {}
    for (root, name), path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[tuple[Path, str]] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            candidates: list[str] = []
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from a import b`: the module a.b when there is one, else a.
                candidates = [
                    f"{base}.{alias.name}" if resolve(root, f"{base}.{alias.name}") else base
                    for alias in node.names
                ]
            for candidate in candidates:
                found = resolve(root, candidate)
                if found is not None and found != (root, name):
                    imported.add(found)
        graph[label((root, name))] = {label(key) for key in imported}
    return graph


def test_no_import_cycle_among_the_projects_modules() -> None:
    graph = import_graph()

    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_cycle_check_finds_a_cycle_deferred_into_a_function(tmp_path: Path) -> None:
    """The graph counts an import inside a function, as iris.health's of iris.app was."""
    graph = import_graph()
    assert "backend/src:iris.settings" in graph["backend/src:iris.health"]
    assert "lambda_kit" in graph["backend/src:lambda_handler"]
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(
            {**graph, "lambda_kit": {"backend/src:lambda_handler"}}
        ).prepare()


# A product file (code and its configuration, not prose: docs/ and the READMEs are pages, held
# to their own shape) stays short enough to read whole.
MAX_LINES = 400


def product_text_files() -> list[str]:
    """The repository's files (tracked, and new ones not ignored) outside tests/, but prose and
    docs/ (the OpenAPI documents are generated or reference, read by tools, not whole)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return sorted(
        path
        for path in listed
        if path.split("/")[0] not in (*NOT_PRODUCT, "docs")
        and not path.endswith(".md")
        and (REPO / path).is_file()
    )


def test_no_product_file_is_longer_than_the_limit() -> None:
    too_long = {}
    for path in product_text_files():
        try:
            lines = len((REPO / path).read_text(encoding="utf-8").splitlines())
        except UnicodeDecodeError:
            continue
        if lines > MAX_LINES:
            too_long[path] = lines

    assert too_long == {}, f"split these by concern (at most {MAX_LINES} lines each)"
    assert "iris_infra/apps/iris/config.py" in product_text_files()
