"""The program's modules follow the project's style: every one postpones annotations, so type
hints such as `pulumi.Input[str] | None` never run at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
MODULES = sorted([*(PROJECT_DIR / "iris_infra").glob("*.py"), PROJECT_DIR / "__main__.py"])


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(PROJECT_DIR).as_posix())
def test_every_module_postpones_annotations(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    future_imports = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "__future__"
        for alias in node.names
    }
    assert "annotations" in future_imports
