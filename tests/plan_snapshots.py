"""Plans held as text beside the tests (`make check`'s rendering of a program's plan for a few
configurations), and the one way they are compared and rewritten: IRIS's and SpendSense's held
plans both go through it."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class HeldPlans:
    # Whose plans, as a message names them ("IRIS").
    label: str
    # The module whose `--write` rewrites them (python -m <module> --write).
    module: str
    directory: Path
    variants: Sequence[str]
    # A variant's plan as `make check` renders it.
    render: Callable[[str], str]

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.txt"

    def difference(self, name: str) -> str:
        """The unified diff from the held plan to the one planned now; empty when they agree."""
        held = self.path(name).read_text(encoding="utf-8")
        diff = "".join(
            difflib.unified_diff(
                held.splitlines(keepends=True),
                self.render(name).splitlines(keepends=True),
                fromfile=f"held {name}",
                tofile=f"planned {name}",
                n=2,
            )
        )
        if not diff:
            return ""
        return (
            f"the {self.label} plan changed; if that is meant, rewrite the held plans with "
            f"`.venv/bin/python -m {self.module} --write`:\n" + diff[:6000]
        )

    def main(self, argv: list[str] | None = None) -> int:
        """Say which held plans differ (exit 1), or rewrite them with --write."""
        parser = argparse.ArgumentParser(prog=f"python -m {self.module}")
        parser.add_argument("--write", action="store_true", help="rewrite the held copies")
        args = parser.parse_args(argv)
        self.directory.mkdir(exist_ok=True)
        changed = 0
        for name in self.variants:
            text = self.render(name)
            path = self.path(name)
            if path.exists() and path.read_text(encoding="utf-8") == text:
                continue
            changed += 1
            print(f"{path.relative_to(PROJECT_DIR)}: {'rewritten' if args.write else 'differs'}")
            if args.write:
                path.write_text(text, encoding="utf-8")
        return 1 if changed and not args.write else 0
