"""The program's modules: every one with code postpones annotations (so hints such as
`pulumi.Input[str] | None` never run at import time), and none reads YAML itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
MODULES = sorted(
    [
        *(PROJECT_DIR / "iris_infra").rglob("*.py"),
        PROJECT_DIR / "__main__.py",
        PROJECT_DIR / "spendsense" / "__main__.py",
    ]
)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(PROJECT_DIR).as_posix())
def test_every_module_postpones_annotations(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if ast.get_docstring(tree) is not None and len(tree.body) == 1:
        pytest.skip("a package's docstring alone")
    future_imports = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "__future__"
        for alias in node.names
    }
    assert "annotations" in future_imports


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(PROJECT_DIR).as_posix())
def test_the_program_does_not_read_yaml_files_itself(path: Path) -> None:
    """Pulumi hands the program its config; reading stack files is make check's (stack_check)
    and the tests' business."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported.isdisjoint({"yaml", "ruamel"})
