"""The AWS requests a deploy of a planned stack makes, as IAM sees them: for every resource of the
plan and every scope deploy/deployer-actions.yaml lists for its type, each action on the
resource's own ARN with the request context AWS would send (its tags, the role's boundary, the
principal of a permission, the names of a DNS change). tests/infra/test_deployer_policy.py
evaluates the printed policies against them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from iris_infra.components.names import STACK_TAG, StackNames
from stack_check.deployer_policy import StackFacts, actions, boundary_policy, deployer_policy
from stack_check.stack_facts import facts_of as plan_facts
from tests.infra.conftest import ACCOUNT_ID, REGION, Recorded
from tests.infra.iam_evaluation import Request

# What every request carries: the caller's account, which the policies name as a variable.
CALLER = {"aws:PrincipalAccount": ACCOUNT_ID}
# Route 53 names each change itself.
CHANGE_ARN = "arn:aws:route53:::change/C2682N5HXP0BZ4"
STATE_BUCKET = f"iris-pulumi-state-{ACCOUNT_ID}"

_API_CHILDREN = {
    "aws:apigatewayv2/stage:Stage": "stages",
    "aws:apigatewayv2/integration:Integration": "integrations",
    "aws:apigatewayv2/route:Route": "routes",
    "aws:apigatewayv2/authorizer:Authorizer": "authorizers",
}


@dataclass(frozen=True)
class PlannedStack:
    """One plan of one stack, with the policies `make deployer-policy` and `make
    boundary-policy` print for it."""

    label: str
    names: StackNames
    project: str
    resources: tuple[Recorded, ...]
    calls: tuple[str, ...]

    @cached_property
    def facts(self) -> StackFacts:
        return plan_facts(self.names, self.project, self.resources, self.calls, REGION)

    @cached_property
    def policy(self) -> dict[str, Any]:
        return deployer_policy(self.facts, STATE_BUCKET)

    @cached_property
    def boundary(self) -> dict[str, Any]:
        return boundary_policy(self.facts)

    @cached_property
    def needs(self) -> tuple[Need, ...]:
        """Every request its deploy makes (`needs`)."""
        return tuple(needs(self))

    @cached_property
    def zones(self) -> frozenset[str]:
        """The hosted zone and change ARNs its records' requests name."""
        return frozenset(n.request.resource for n in self.needs if n.scope in ("zone", "changes"))

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]


@dataclass(frozen=True)
class Need:
    """One request the deploy makes, and what it is for."""

    resource: str
    scope: str
    request: Request

    def __str__(self) -> str:
        return f"{self.resource} [{self.scope}] {self.request.action} on {self.request.resource}"


def needs(stack: PlannedStack) -> Iterator[Need]:
    """Every request a create, read, update and delete of the plan's resources makes."""
    listed = actions()["resources"]
    for resource in stack.resources:
        for scope, scope_actions in listed.get(resource.type, {}).items():
            for resource_arn, context in SCOPES[scope](resource, stack):
                for action in scope_actions:
                    request = Request(action, resource_arn, {**CALLER, **context})
                    yield Need(f"{resource.type} {resource.name}", scope, request)
    for call in stack.calls:
        for scope, scope_actions in actions()["invokes"][call].items():
            for action in scope_actions:
                yield Need(call, scope, Request(action, "*", CALLER))
    yield from state_needs(stack.names, stack.project)


def state_needs(names: StackNames, project: str) -> Iterator[Need]:
    """The S3 state backend's calls for the stack: its layout, its state, history and lock."""
    bucket = f"arn:aws:s3:::{STATE_BUCKET}"
    stacks = f".pulumi/stacks/{project}/{names.stack}.json"
    keys = [
        stacks,
        f"{stacks}.bak",
        f".pulumi/stacks/{project}/{names.stack}.pulumi-tags",
        f".pulumi/history/{project}/{names.stack}/{names.stack}-1733500000.history.json",
        f".pulumi/backups/{project}/{names.stack}/{names.stack}.1733500000.json",
        f".pulumi/journal/{project}/{names.stack}/0001.json",
        f".pulumi/locks/organization/{project}/{names.stack}/7e1d.json",
    ]
    for key in keys:
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            yield Need("state", "state", Request(action, f"{bucket}/{key}", CALLER))
        # Each folder is listed (the project's for its stacks' names, a stack's for its files).
        context = {**CALLER, "s3:prefix": key.rsplit("/", 1)[0] + "/"}
        yield Need("state", "state", Request("s3:ListBucket", bucket, context))
    yield Need("state", "state", Request("s3:GetObject", f"{bucket}/.pulumi/meta.yaml", CALLER))


# Each scope: the ARNs a resource's requests name, with the context AWS sends along.

Targets = list[tuple[str, dict[str, Any]]]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def _api(path: str) -> str:
    return f"arn:aws:apigateway:{REGION}::{path}"


def _tag_of(resource: Recorded | None) -> dict[str, Any]:
    return dict((resource.inputs.get("tags") or {}) if resource is not None else {})


def _resource_tags(resource: Recorded | None) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in _tag_of(resource).items()}


def _request_tags(resource: Recorded) -> dict[str, Any]:
    tags = _tag_of(resource)
    return {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": list(tags)}


def _repository(resource: Recorded, _: PlannedStack) -> Targets:
    match resource.type:
        case "aws:ecr/repository:Repository":
            name = resource.inputs["name"]
        case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            name = resource.inputs["repository"]
        case "docker:index/image:Image":
            name = resource.inputs["imageName"].split("/", 1)[1].split(":")[0]
        case _:
            name = resource.inputs["imageUri"].split("/", 1)[1].split("@")[0]
    return [(_arn("ecr", f"repository/{name}"), {})]


def _role_of(resource: Recorded, stack: PlannedStack) -> Recorded:
    if resource.type == "aws:iam/role:Role":
        return resource
    if resource.type == "aws:lambda/function:Function":
        return next(
            r
            for r in stack.of_type("aws:iam/role:Role")
            if r.outputs["arn"] == resource.inputs["role"]
        )
    # A role policy names its role by id.
    return next(r for r in stack.of_type("aws:iam/role:Role") if r.id == resource.inputs["role"])


def _roles(resource: Recorded, stack: PlannedStack) -> Targets:
    role = _role_of(resource, stack)
    context = {"iam:PermissionsBoundary": role.inputs["permissionsBoundary"]}
    if resource.type == "aws:lambda/function:Function":
        context["iam:PassedToService"] = "lambda.amazonaws.com"
    return [(role.outputs["arn"], context)]


def _functions(resource: Recorded, _: PlannedStack) -> Targets:
    match resource.type:
        case "aws:lambda/function:Function":
            arn = resource.outputs["arn"]
            return [(arn, {}), (f"{arn}:{resource.outputs['version']}", {})]
        case "aws:lambda/alias:Alias":
            return [(resource.outputs["arn"], {})]
        case "aws:lambda/permission:Permission":
            function = _arn("lambda", f"function:{resource.inputs['function']}")
            qualifier = resource.inputs.get("qualifier")
            arn = f"{function}:{qualifier}" if qualifier else function
            return [(arn, {"lambda:Principal": resource.inputs["principal"]})]
    function = _arn("lambda", f"function:{resource.inputs['functionName']}")
    return [(f"{function}:{resource.inputs['qualifier']}", {})]


def _log_groups(resource: Recorded, _: PlannedStack) -> Targets:
    name = resource.inputs.get("logGroupName") or resource.inputs["name"]
    arn = _arn("logs", f"log-group:{name}")
    return [(arn, {}), (f"{arn}:*", {})]


def _api_of(resource: Recorded, stack: PlannedStack) -> Recorded | None:
    apis = stack.of_type("aws:apigatewayv2/api:Api")
    if resource.type == "aws:apigatewayv2/api:Api":
        return resource
    return next((a for a in apis if a.id == resource.inputs["apiId"]), None)


def _apis(resource: Recorded, stack: PlannedStack) -> Targets:
    # A child is judged by its API's tags (API Gateway's tag inheritance).
    context = _resource_tags(_api_of(resource, stack))
    if resource.type == "aws:apigatewayv2/api:Api":
        return [(_api(f"/apis/{resource.id}"), context)]
    collection = f"/apis/{resource.inputs['apiId']}/{_API_CHILDREN[resource.type]}"
    item = resource.inputs["name"] if "stage" in resource.type else resource.id
    return [(_api(collection), context), (_api(f"{collection}/{item}"), context)]


def _new_apis(resource: Recorded, _: PlannedStack) -> Targets:
    return [(_api("/apis"), _request_tags(resource))]


def _domain(resource: Recorded, _: PlannedStack) -> Targets:
    if resource.type == "aws:apigatewayv2/domainName:DomainName":
        return [(_api(f"/domainnames/{resource.inputs['domainName']}"), {})]
    mappings = f"/domainnames/{resource.inputs['domainName']}/apimappings"
    return [(_api(mappings), {}), (_api(f"{mappings}/{resource.id}"), {})]


def _new_domain(resource: Recorded, _: PlannedStack) -> Targets:
    return [(_api("/domainnames"), _request_tags(resource))]


def _certificate_of(resource: Recorded, stack: PlannedStack) -> Recorded:
    if resource.type == "aws:acm/certificate:Certificate":
        return resource
    return next(
        c
        for c in stack.of_type("aws:acm/certificate:Certificate")
        if c.outputs["arn"] == resource.inputs["certificateArn"]
    )


def _certificates(resource: Recorded, stack: PlannedStack) -> Targets:
    certificate = _certificate_of(resource, stack)
    return [(certificate.outputs["arn"], _resource_tags(certificate))]


def _new_certificate(resource: Recorded, _: PlannedStack) -> Targets:
    context = {
        **_request_tags(resource),
        "acm:DomainNames": [resource.inputs["domainName"]],
        "acm:ValidationMethod": resource.inputs["validationMethod"],
    }
    return [("*", context)]


def _certificate_tags(resource: Recorded, _: PlannedStack) -> Targets:
    # Tagged as it is requested: the new certificate has no tags of its own yet.
    return [(resource.outputs["arn"], _request_tags(resource))]


def _zone(resource: Recorded, _: PlannedStack) -> Targets:
    return [(f"arn:aws:route53:::hostedzone/{resource.inputs['zoneId']}", {})]


def _alias_records(resource: Recorded, stack: PlannedStack) -> Targets:
    return _zone_records(resource, stack) if resource.inputs.get("aliases") else []


def _validation_record(resource: Recorded, stack: PlannedStack) -> Targets:
    return [] if resource.inputs.get("aliases") else _zone_records(resource, stack)


def _zone_records(resource: Recorded, stack: PlannedStack) -> Targets:
    name = resource.inputs["name"]
    context = {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [name.rstrip(".").lower()],
        "route53:ChangeResourceRecordSetsRecordTypes": [resource.inputs["type"]],
        "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
    }
    return [(arn, context) for arn, _ in _zone(resource, stack)]


def _topic(resource: Recorded, _: PlannedStack) -> Targets:
    return [(resource.inputs.get("topic") or resource.outputs["arn"], {})]


def _rules(resource: Recorded, _: PlannedStack) -> Targets:
    if resource.type == "aws:cloudwatch/eventRule:EventRule":
        return [(resource.outputs["arn"], {})]
    return [(_arn("events", f"rule/{resource.inputs['rule']}"), {})]


def _bucket_name(resource: Recorded) -> str:
    return resource.inputs.get("bucket") or resource.outputs["bucket"]


def _objects(resource: Recorded, _: PlannedStack) -> Targets:
    if resource.type == "aws:s3/bucketObjectv2:BucketObjectv2":
        return [(resource.outputs["arn"], {})]
    # force_destroy deletes whatever the bucket holds.
    return [(f"arn:aws:s3:::{_bucket_name(resource)}/spendsense.db", {})]


SCOPES: dict[str, Callable[[Recorded, PlannedStack], Targets]] = {
    "repository": _repository,
    "parameters": lambda r, _: [(r.outputs["arn"], {})],
    "table": lambda r, _: [(r.outputs["arn"], {})],
    "log groups": _log_groups,
    "roles": _roles,
    "bounded roles": _roles,
    "role reads": _roles,
    "roles to pass": _roles,
    "functions": _functions,
    "invoke permissions": _functions,
    "apis": _apis,
    "new apis": _new_apis,
    "domain": _domain,
    "new domain": _new_domain,
    "certificates": _certificates,
    "new certificate": _new_certificate,
    "certificate tags": _certificate_tags,
    "zone": _zone,
    "alias records": _alias_records,
    "validation record": _validation_record,
    "changes": lambda r, _: [(CHANGE_ARN, {})],
    "topic": _topic,
    "alarms": lambda r, _: [(r.outputs["arn"], {})],
    "dashboard": lambda r, _: [(r.outputs["dashboardArn"], {})],
    "rules": _rules,
    "bucket": lambda r, _: [(f"arn:aws:s3:::{_bucket_name(r)}", {})],
    "objects": _objects,
    "any": lambda r, _: [("*", {})],
}


def execution_needs(stack: PlannedStack) -> Iterator[Need]:
    """What each function's own policy lets it do, on the resources it names: what the boundary
    must leave it."""
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        document = json.loads(policy.inputs["policy"])
        for statement in document["Statement"]:
            context = dict(CALLER)
            leading = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
            if "dynamodb:LeadingKeys" in leading:
                context["dynamodb:LeadingKeys"] = [
                    leading["dynamodb:LeadingKeys"][0].replace("*", "2026-12-07")
                ]
            # Log events are written to a stream of the group: that is the ARN a request names.
            concrete = {
                re.sub(r"(:log-group:[^:]+)(:\*)?$", r"\1:log-stream:2026/12/07/abc", arn)
                for arn in statement["Resource"]
            }
            for resource_arn in sorted(concrete):
                for action in statement["Action"]:
                    yield Need(policy.name, "execution", Request(action, resource_arn, context))


def stack_tag(names: StackNames) -> dict[str, str]:
    return {STACK_TAG: names.prefix}
