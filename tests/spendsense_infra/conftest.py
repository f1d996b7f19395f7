"""SpendSense stacks under the infra tests' mocks (tests/infra/conftest.py): a sample database
with a row no resource input may carry, and whole stacks built once per module, each into its
own recording so the function-scoped `mocks` of other tests cannot clear it."""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from iris_infra.apps.iris.config import PROJECT
from iris_infra.apps.spendsense.config import SpendSenseConfig
from iris_infra.apps.spendsense.stack import build_stack
from spendsense.scripts import make_db
from tests.infra.conftest import (
    API_KEYS_SENTINEL,
    DependencyRecordingMonitor,
    RecordingMocks,
    _resolve,
    mocks,
    resolve,
)

__all__ = ["mocks", "resolve"]

# Loading pulumi_aws's `s3` module warns about deprecated resources the stack never uses: load
# it once, here, as tests/infra/conftest.py does the others, so warnings stay errors elsewhere.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.")
    STACK_RESOURCE_TYPES = (aws.s3.Bucket,)

# The documented stack outputs, and no other.
OUTPUT_NAMES = {
    "apiUrl",
    "healthUrl",
    "functionNames",
    "databaseBucket",
    "databaseKey",
    "databaseVersion",
}

# A user no resource input may name: the database's content goes to S3 in the object alone.
DATA_SENTINEL = "SENTINEL-spendsense-row-5b9e2c"


def write_sample_database(path: Path) -> Path:
    """`make spendsense-db`'s database, with one more user carrying DATA_SENTINEL."""
    make_db.write_database(path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("INSERT INTO users VALUES (?, ?)", ("u-sentinel", DATA_SENTINEL))
    connection.close()
    return path


@pytest.fixture(scope="session")
def database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_database(tmp_path_factory.mktemp("spendsense") / "spendsense.db")


def spendsense_config(database: Path, stack: str = "dev", **raw: Any) -> SpendSenseConfig:
    return SpendSenseConfig.from_raw(stack, {"databaseFile": str(database), **raw})


@pytest.fixture(scope="session")
def config_of(database_file: Path) -> Callable[..., SpendSenseConfig]:
    """A validated config on the sample database, with raw settings on top."""

    def make(stack: str = "dev", **raw: Any) -> SpendSenseConfig:
        return spendsense_config(database_file, stack, **raw)

    return make


class OrderRecordingMonitor(DependencyRecordingMonitor):
    """Also notes what each resource waits for, its explicit `depends_on` included, and which
    resources Pulumi is to leave in the cloud when it deletes them (`retain_on_delete`)."""

    def RegisterResource(self, request):
        self.recording.waits_for[request.name] = {
            urn.rsplit("::", 1)[-1] for urn in request.dependencies
        }
        if request.retainOnDelete:
            self.recording.retained.add(request.name)
        return super().RegisterResource(request)


class StackRecording(RecordingMocks):
    """The infra tests' recording, with what each resource waits for, by resource name."""

    def __init__(self) -> None:
        super().__init__()
        self.waits_for: dict[str, set[str]] = {}
        self.retained: set[str] = set()

    def use(self, stack: str = "dev", *, preview: bool = False) -> StackRecording:
        super().use(stack, preview=preview)
        self.waits_for.clear()
        self.retained.clear()
        pulumi.runtime.set_mocks(
            self, project=PROJECT, stack=stack, preview=preview, monitor=OrderRecordingMonitor(self)
        )
        return self


@dataclass(frozen=True)
class BuiltStack:
    config: SpendSenseConfig
    # Every resource the build declared, with the lookups of the infra tests' recording.
    records: StackRecording
    outputs: dict[str, Any]


def build_spendsense(
    config: SpendSenseConfig, recording: StackRecording | None = None
) -> BuiltStack:
    """One whole stack under the mocks (`recording`'s, if given), its outputs resolved."""

    records = (recording or StackRecording()).use(config.stack)

    def program() -> dict[str, Any]:
        outputs = build_stack(config)
        return {
            "apiUrl": outputs.api_url,
            "healthUrl": outputs.health_url,
            "functionNames": outputs.function_names,
            "databaseBucket": outputs.database_bucket,
            "databaseKey": outputs.database_key,
            "databaseVersion": outputs.database_version,
        }

    return BuiltStack(config, records, _resolve(program))


# The two shapes, one with everything optional (the authorizer, alarms, provisioned
# concurrency) and one with nothing of it, so each part shows up and its absence does too.
SHAPES = {
    "split": {
        "deployment": "split",
        "apiKeys": API_KEYS_SENTINEL,
        "alarmEmail": "oncall@example.com",
        "provisionedConcurrency": 2,
        "architecture": "x86_64",
    },
    "single": {"deployment": "single", "apiMemoryMb": 3008},
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def built(request: pytest.FixtureRequest, config_of: Callable[..., SpendSenseConfig]) -> BuiltStack:
    return build_spendsense(config_of(**SHAPES[request.param]))
