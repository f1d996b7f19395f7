"""Pulumi mocks for the infra tests: every resource is recorded with its type, name and inputs.

The mocks answer like AWS would (ARNs, endpoints, a pushed image digest) so the program's
`apply` chains run; calls answer in the provider's camelCase.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.mocks import MockMonitor

from iris_infra.apps.iris.config import PROJECT, StackConfig
from stack_check.plan import API_GATEWAY_REGIONAL_ZONE_ID as API_GATEWAY_REGIONAL_ZONE_ID
from stack_check.plan import PlanMocks, ensure_open_event_loop, is_secret_value
from tests.infra.stack_files import read_stack_settings

# pulumi_aws loads its modules on first use, and loading `lambda_` warns about a deprecated
# resource this program never uses. Load every module the program uses once, here, so that
# warnings stay errors everywhere else.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.")
    PROGRAM_RESOURCE_TYPES = (
        aws.apigatewayv2.Api,
        aws.cloudwatch.LogGroup,
        aws.dynamodb.Table,
        aws.ecr.Repository,
        aws.iam.Role,
        aws.lambda_.Function,
        aws.s3.Bucket,
        aws.sns.Topic,
        aws.ssm.Parameter,
    )

PROJECT_DIR = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"

# Distinctive secret values: finding one anywhere but its SSM parameter is a leak.
OPENAI_KEY_SENTINEL = "sk-SENTINEL-openai-4f1c9e7a"
API_KEYS_SENTINEL = "SENTINEL-apikey-one-8d2b,SENTINEL-apikey-two-3e6f"
SENTINELS = (OPENAI_KEY_SENTINEL, *API_KEYS_SENTINEL.split(","))


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    # For each input, the names of the resources whose outputs it was built from.
    dependencies: dict[str, set[str]] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """`value` with every secret marker removed, for asserting on what is inside."""
    if is_secret_value(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def repository_url(repository_name: str) -> str:
    """The URL the mocks give the ECR repository named `repository_name`."""
    return f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{repository_name}"


class DependencyRecordingMonitor(MockMonitor):
    """The mock engine, also noting which resources each input of a new resource came from
    (what orders the real deployment), which plain mocks are not told."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):
        self.recording.dependencies[(request.type, request.name)] = {
            key: {urn.rsplit("::", 1)[-1] for urn in value.urns}
            for key, value in request.propertyDependencies.items()
        }
        return super().RegisterResource(request)


def of_type(resources: Iterable[Recorded], type_: str) -> list[Recorded]:
    return [resource for resource in resources if resource.type == type_]


def resource_named(resources: Iterable[Recorded], type_: str, name: str) -> Recorded:
    found = [r for r in resources if r.type == type_ and r.name == name]
    assert len(found) == 1, f"expected one {type_} named {name}, found {len(found)}"
    return found[0]


class RecordingMocks(PlanMocks):
    """The plan's mock answers (stack_check.plan), with every resource recorded."""

    def __init__(self) -> None:
        super().__init__(ACCOUNT_ID, REGION)
        self.resources: list[Recorded] = []
        self.dependencies: dict[tuple[str, str], dict[str, set[str]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        resource_id, outputs = super().new_resource(args)
        dependencies = self.dependencies.get((args.typ, args.name), {})
        self.resources.append(
            Recorded(args.typ, args.name, resource_id, dict(args.inputs), outputs, dependencies)
        )
        return resource_id, outputs

    def use(self, stack: str = "dev", *, preview: bool = False) -> RecordingMocks:
        """Fresh records and a mocked engine for `stack`, with no config set."""
        settle_previous_program()
        self.resources.clear()
        self.tagged_repo_digests = False
        self.dependencies.clear()
        self.calls.clear()
        pulumi.runtime.set_mocks(
            self,
            project=PROJECT,
            stack=stack,
            preview=preview,
            monitor=DependencyRecordingMonitor(self),
        )
        pulumi.runtime.set_all_config({}, secret_keys=[])
        return self

    is_secret = staticmethod(is_secret_value)
    plain = staticmethod(plain)

    def of_type(self, type_: str) -> list[Recorded]:
        return of_type(self.resources, type_)

    def resource(self, type_: str, name: str) -> Recorded:
        return resource_named(self.resources, type_, name)

    def inputs_json(self, exclude_type: str | None = None) -> str:
        """Every recorded input as one JSON text, for searching values that must not be there."""
        return json.dumps([r.inputs for r in self.resources if r.type != exclude_type], default=str)


# Long enough for any registration of the program under test; it ends much sooner.
SETTLE_TIMEOUT_S = 10


def settle_previous_program() -> None:
    """Let the registrations a failed program left running finish now.

    When a program raises (a refused imageUri inside an apply, say), the engine stops waiting
    for its other registrations at the first failure; they go on whenever the event loop runs
    next, which is the next test's program, and would land in that test's records.
    """
    loop = ensure_open_event_loop()
    if loop.is_running():
        return
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=SETTLE_TIMEOUT_S))


MOCKS = RecordingMocks()


@dataclass(frozen=True)
class Sentinels:
    openai_api_key: str = OPENAI_KEY_SENTINEL
    api_keys: str = API_KEYS_SENTINEL
    every_value: tuple[str, ...] = SENTINELS


def _resolve(program: Callable[[], Any]) -> Any:
    """Run `program` under the mocks and return what it returned, every Output resolved.

    Assertions then run on plain values after the engine finished, so a check can never be
    skipped silently: if the program's outputs never resolve, there is no value and this raises.
    """
    resolved: list[Any] = []

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        return pulumi.Output.from_input(program()).apply(resolved.append)

    run()
    if not resolved:
        raise AssertionError("the program's outputs never resolved (unknown in a preview?)")
    return resolved[0]


@pytest.fixture
def mocks() -> Iterator[RecordingMocks]:
    yield MOCKS.use()
    pulumi.runtime.set_all_config({}, secret_keys=[])


@pytest.fixture
def resolve() -> Callable[[Callable[[], Any]], Any]:
    return _resolve


@dataclass(frozen=True)
class Built:
    """One program's resolved outputs and the resources it declared, kept after the mocks
    moved on: what a module-scoped fixture builds once for all of a module's tests."""

    outputs: Any
    resources: tuple[Recorded, ...]

    def of_type(self, type_: str) -> list[Recorded]:
        return of_type(self.resources, type_)

    def resource(self, type_: str, name: str) -> Recorded:
        return resource_named(self.resources, type_, name)


def build_once(program: Callable[[], Any], stack: str = "dev") -> Built:
    """Run `program` under fresh mocks for `stack` and keep what it declared."""
    recording = MOCKS.use(stack)
    try:
        outputs = _resolve(program)
        return Built(outputs, tuple(recording.resources))
    finally:
        pulumi.runtime.set_all_config({}, secret_keys=[])


@pytest.fixture
def sentinels() -> Sentinels:
    return Sentinels()


def stack_file_config(stack: str, **overrides: Any) -> StackConfig:
    """A validated config from the committed stack file, with sentinel secrets and overrides
    (an override of None removes the key)."""
    raw: dict[str, Any] = {
        **read_stack_settings(stack, PROJECT_DIR),
        "openaiApiKey": OPENAI_KEY_SENTINEL,
        "apiKeys": API_KEYS_SENTINEL,
        **overrides,
    }
    return StackConfig.from_raw(stack, {k: v for k, v in raw.items() if v is not None})


@pytest.fixture
def stack_config() -> Callable[..., StackConfig]:
    return stack_file_config


@pytest.fixture
def engine_config() -> Callable[..., None]:
    """Set config the way the Pulumi CLI hands it to the program: namespaced keys, text values."""

    def set_config(values: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> None:
        pulumi.runtime.set_all_config(
            {
                f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
                for key, value in values.items()
            },
            secret_keys=[f"{PROJECT}:{key}" for key in secret_keys],
        )

    return set_config


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR
