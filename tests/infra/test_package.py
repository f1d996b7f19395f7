"""The program's modules: every one with code postpones annotations (so hints such as
`pulumi.Input[str] | None` never run at import time), none reads YAML itself, and none uses the
engine's internals (pulumi.runtime), which a Pulumi upgrade may change under a deploy."""

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


def private_pulumi_uses(tree: ast.AST) -> set[str]:
    """What the module takes from pulumi.runtime (the engine's internals, which a Pulumi upgrade
    may change): imported from it, or reached as `pulumi.runtime.<name>`."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi.runtime"):
            used.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            used.update(a.name for a in node.names if a.name.startswith("pulumi.runtime"))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "runtime"
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "pulumi"
        ):
            used.add(f"pulumi.runtime.{node.attr}")
    return used


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.relative_to(PROJECT_DIR).as_posix())
def test_the_programs_use_only_pulumis_public_api(path: Path) -> None:
    """What `pulumi up` runs reads its config with pulumi.Config and nothing of the engine's:
    only the offline check drives the engine's mocks (stack_check/plan.py)."""
    assert private_pulumi_uses(ast.parse(path.read_text(encoding="utf-8"))) == set()


def test_only_the_offline_planner_drives_the_engines_mocks() -> None:
    uses = {
        path.relative_to(PROJECT_DIR).as_posix(): private_pulumi_uses(ast.parse(path.read_text()))
        for path in (PROJECT_DIR / "stack_check").glob("*.py")
    }

    assert {path for path, used in uses.items() if used} == {"stack_check/plan.py"}
    assert "pulumi.runtime.settings.set_root_resource" in uses["stack_check/plan.py"]
    assert private_pulumi_uses(ast.parse("from pulumi.runtime.config import CONFIG")) == {
        "pulumi.runtime.config.CONFIG"
    }
