"""Every physical name a stack declares carries its program and its stack (`iris-dev-…`,
`/iris/dev/…`), so that a policy can tell one stack from another; no two stacks share one."""

from __future__ import annotations

import re

import pulumi
import pytest

from iris_infra import build_stack
from iris_infra.apps.iris.config import StackConfig
from iris_infra.components.names import StackNames
from iris_infra.config.errors import ConfigError
from tests.infra.conftest import ACCOUNT_ID, API_KEYS_SENTINEL, MOCKS, _resolve, stack_file_config
from tests.spendsense_infra.conftest import (
    build_spendsense,
    spendsense_config,
    write_sample_database,
)

EVERY_IRIS_OPTION = {
    "alarmEmail": "oncall@example.com",
    "customDomain": "api.example.com",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "warmupIntervalMinutes": 5,
}
EVERY_SPENDSENSE_OPTION = {"apiKeys": API_KEYS_SENTINEL, "alarmEmail": "oncall@example.com"}

# The input that holds each named resource's physical name.
NAME_INPUTS = {
    "aws:lambda/function:Function": "name",
    "aws:iam/role:Role": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:dynamodb/table:Table": "name",
    "aws:ecr/repository:Repository": "name",
    "aws:ssm/parameter:Parameter": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:sns/topic:Topic": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:apigatewayv2/api:Api": "name",
}


def physical_names(resources) -> dict[tuple[str, str], str]:
    """(type, resource name) -> physical name, for every resource that has one."""
    return {
        (r.type, r.name): r.inputs[NAME_INPUTS[r.type]] for r in resources if r.type in NAME_INPUTS
    }


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> dict[StackNames, dict]:
    """The physical names of each stack of both programs, with every option on."""
    built = {}
    for stack in ("dev", "prod"):
        config = stack_file_config(stack, **EVERY_IRIS_OPTION)
        MOCKS.use(stack)
        _resolve(lambda config=config: build_stack(config).api_url)
        built[StackNames("iris", stack)] = physical_names(MOCKS.resources)
    database = write_sample_database(tmp_path_factory.mktemp("names") / "spendsense.db")
    for stack in ("dev", "prod"):
        config = spendsense_config(database, stack, **EVERY_SPENDSENSE_OPTION)
        built[StackNames("spendsense", stack)] = physical_names(
            build_spendsense(config).records.resources
        )
    pulumi.runtime.set_all_config({}, secret_keys=[])
    return built


def carries(names: StackNames, physical: str) -> bool:
    prefix = re.escape(names.prefix)
    forms = [
        rf"{prefix}(-.+)?",  # iris-dev, iris-dev-cache, spendsense-dev-data-<account>
        rf"{re.escape(names.path)}.+",  # /iris/dev/openai-api-key
        rf"/aws/(lambda|vendedlogs/apigateway)/{prefix}(-.+)?",  # log groups
    ]
    return any(re.fullmatch(form, physical) for form in forms)


def test_every_physical_name_carries_the_program_and_the_stack(declared):
    for names, physical in declared.items():
        # Every kind of name the program gives is among those checked.
        own = {"iris": "aws:dynamodb/table:Table", "spendsense": "aws:s3/bucket:Bucket"}
        other = own["spendsense" if names.app == "iris" else "iris"]
        expected = set(NAME_INPUTS) - {other}
        if names.app == "spendsense":
            expected.discard("aws:cloudwatch/eventRule:EventRule")
        assert {type_ for type_, _ in physical} == expected
        strays = {key: name for key, name in physical.items() if not carries(names, name)}
        assert not strays, (names, strays)


def test_roles_live_under_their_stacks_path():
    MOCKS.use("prod")
    _resolve(lambda: build_stack(stack_file_config("prod")).api_url)
    for role in MOCKS.of_type("aws:iam/role:Role"):
        assert role.inputs["path"] == "/iris/prod/"
        assert (
            role.outputs["arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/iris/prod/{role.inputs['name']}"
        )


def test_no_two_stacks_share_a_physical_name(declared):
    seen: dict[str, StackNames] = {}
    for names, physical in declared.items():
        for name in physical.values():
            assert seen.setdefault(name, names) == names, (name, names, seen[name])


@pytest.mark.parametrize("stack", ["dev-eu", "Dev", "dev_eu", "1dev", "prod.eu"])
def test_a_stack_name_whose_names_could_cover_another_stacks_is_refused(stack):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_raw(stack, {"openaiApiKey": "sk-x"})
    (problem,) = caught.value.problems
    assert f"stack name {stack!r}" in problem
    assert "lower-case letters and digits" in problem
