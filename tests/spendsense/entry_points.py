"""SpendSense's Lambda entry points as a new container starts them, for the tests that call them.

Each start imports the entry module afresh under the test's environment (INIT: the logs set up,
the database loaded), with no database left from before. The environment is the test's own:
no SpendSense variable of the shell reaches it. The "spendsense" logger is put back as it was
found afterwards: configured (as an entry point configures it) its records stop at its own
handler, and the tests that read records with caplog need them to reach the root logger.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spendsense_core.database import forget_container_database

TASK_ROOT = Path(__file__).resolve().parents[2] / "spendsense" / "backend" / "src"
LOGGER_NAME = "spendsense"
# What a SpendSense function reads from its environment.
VARIABLES = (
    "DB_PATH",
    "CORS_ORIGINS",
    "SPENDSENSE_DB_BUCKET",
    "SPENDSENSE_DB_KEY",
    "SPENDSENSE_DB_VERSION",
    "SPENDSENSE_LOG_LEVEL",
    "SPENDSENSE_REQUIRE_AUTHORIZER",
    "SPENDSENSE_API_KEYS",
    "SPENDSENSE_API_KEYS_PARAM",
    "SPENDSENSE_SECRET_MAX_AGE_S",
)


def clear_environment(patch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        patch.delenv(name, raising=False)


@contextmanager
def logger_restored(name: str = LOGGER_NAME) -> Iterator[None]:
    """Whatever configures the logger inside, it is left with the handlers, level and
    propagation it had."""
    logger = logging.getLogger(name)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def fresh_import(name: str) -> ModuleType:
    """The module imported again (its INIT run again), or for the first time."""
    module = sys.modules.get(name)
    return importlib.import_module(name) if module is None else importlib.reload(module)


def start_entry_point(command: str) -> Any:
    """The handler an image command names (`handler.handler`, `insights.net_worth.handler`),
    in a new container: the shared entry-point set-up and the entry module imported again."""
    module_name, _, attribute = command.rpartition(".")
    forget_container_database()
    fresh_import("spendsense_core.lambda_entry")
    if module_name == "handler":
        fresh_import("api.main")
    return getattr(fresh_import(module_name), attribute)


def load_authorizer() -> ModuleType:
    """SpendSense's authorizer.py, imported afresh (INIT: its keys read). It is loaded from its
    file under a name of its own: `authorizer` on the tests' path is IRIS's."""
    spec = importlib.util.spec_from_file_location(
        "spendsense_authorizer", TASK_ROOT / "authorizer.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
