"""A crowd of containers, each a process of its own running the real handler
(`tests.backend.container_process`), against one DynamoDB endpoint and one upstream: what the
budget's crowd tests and `benchmarks/budget_crowd.py` start.

Their texts are the costliest a client may send: 20,000 characters of CJK Extension B, four bytes
of UTF-8 each (gpt-4o-mini's tokenizer makes about one token of each).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iris.analyze import MAX_TEXT_CHARS
from iris.budget import worst_case_tokens
from iris.llm import SYSTEM_PROMPT
from tests.backend.container_process import ANSWER_PREFIX
from tests.backend.openai_stub import MODEL_ALIAS, OPENAI_KEY

PROJECT_DIR = Path(__file__).resolve().parents[2]
BACKEND_SRC = PROJECT_DIR / "backend" / "src"
# CJK Unified Ideographs Extension B: rare characters, four bytes of UTF-8 each.
RARE_CJK = (0x20000, 0x2A6DF)
MAX_TOKENS = 512


def rare_cjk_text(tag: str, seed: int) -> str:
    """`tag` (ASCII, for telling the upstream's requests apart) and rare CJK characters, up to
    the analyze route's limit."""
    chooser = random.Random(seed)
    fill = MAX_TEXT_CHARS - len(tag) - 1
    return tag + " " + "".join(chr(chooser.randint(*RARE_CJK)) for _ in range(fill))


def worst_case(text: str, max_tokens: int = MAX_TOKENS) -> int:
    """What the budget reserves for one analysis of `text`."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
    return worst_case_tokens(messages, max_tokens)


def container_environment(
    *, base_url: str, dynamodb_url: str, table: str, budget: int, src: Path = BACKEND_SRC,
    **extra: str,
) -> dict[str, str]:  # fmt: skip
    """A deployed container's settings, pointed at loopback servers; `src` is its task root."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), str(PROJECT_DIR)]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "IRIS_LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MODEL": MODEL_ALIAS,
        "OPENAI_MAX_TOKENS": str(MAX_TOKENS),
        "OPENAI_MAX_RETRIES": "0",
        "IRIS_CACHE_TABLE": table,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "IRIS_LLM_DAILY_TOKEN_BUDGET": str(budget),
        **extra,
    }


def run_crowd(
    containers: Sequence[tuple[Mapping[str, str], Sequence[str]]], timeout_s: float = 300
) -> list[list[dict[str, Any]]]:
    """Start every container at once, each with its environment and texts; each one's answers
    (`status`, `headers`, `body`), in the order it sent them."""
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.backend.container_process", *texts],
            cwd=PROJECT_DIR,
            env=dict(environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for environ, texts in containers
    ]
    outputs = [child.communicate(timeout=timeout_s) for child in children]
    for child, (_, stderr) in zip(children, outputs, strict=True):
        if child.returncode != 0:
            raise RuntimeError(f"a container failed ({child.returncode}):\n{stderr[-4000:]}")
    return [
        [
            json.loads(line.removeprefix(ANSWER_PREFIX))
            for line in stdout.splitlines()
            if line.startswith(ANSWER_PREFIX)
        ]
        for stdout, _ in outputs
    ]
