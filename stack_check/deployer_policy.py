"""The IAM policies of one stack, made from its plan and its names:

    python -m stack_check.deployer_policy [--program iris|spendsense] --stack NAME [--boundary]

prints, on stdout and nothing else, the policy of the role that runs `pulumi up`, `refresh` and
`destroy` on that stack (`make deployer-policy`), or with --boundary the permissions boundary
every role of the stack carries (`make boundary-policy`).

The deployer's policy grants what deploy/deployer-actions.yaml lists for the resource types the
stack's plan declares (so a stack without customDomain gets no Route 53 or ACM write, one
without alarmEmail no SNS), each action on the stack's own names (iris_infra.components.names)
or, where AWS generates the ids, on what carries the stack's tag. Roles may be created and
changed only with the stack's boundary, which the deployer can neither remove nor edit: a stolen
deploy role cannot mint a role stronger than a function of its stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from iris_infra.components.names import STACK_TAG, StackNames
from stack_check.check import PROGRAMS
from stack_check.stack_facts import PolicyError, StackFacts, plan_stack

ACTIONS_FILE = Path(__file__).resolve().parents[1] / "deploy" / "deployer-actions.yaml"
VERSION = "2012-10-17"
# The account of the caller: the policies name no account, so one text serves every account.
ACCOUNT = "${aws:PrincipalAccount}"
# Where `pulumi login s3://…` keeps the stacks' states (docs/deploy.md's bucket); --state-bucket
# names another, `none` leaves the statements out (Pulumi Cloud).
DEFAULT_STATE_BUCKET = f"iris-pulumi-state-{ACCOUNT}"


@cache
def actions() -> dict[str, Any]:
    return yaml.safe_load(ACTIONS_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Scope:
    sid: str
    resources: tuple[str, ...]
    condition: Mapping[str, Any] | None = None


def scopes(facts: StackFacts) -> dict[str, Scope]:
    """Each scope of deployer-actions.yaml as this stack's ARNs and conditions."""
    names, region = facts.names, facts.region

    def arn(service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:aws:{service}:{region if regional else ''}:*:{resource}"

    # A function's own name, and the names after it: its versions and aliases (`:7`, `:live`).
    functions = _name_patterns(names.prefix, facts.functions)
    access_logs = f"/aws/vendedlogs/apigateway/{names.prefix}"
    log_groups = [*(f"/aws/lambda/{pattern}" for pattern in functions), access_logs]
    roles = tuple(arn("iam", f"role{names.path}{p}", regional=False) for p in functions)
    topic = arn("sns", names.alarm_topic)
    alarms = arn("cloudwatch", f"alarm:{names.prefix}-*")
    rules = arn("events", f"rule/{names.prefix}-*")
    tag = {f"aws:ResourceTag/{STACK_TAG}": names.prefix}
    request_tag = {f"aws:RequestTag/{STACK_TAG}": names.prefix}
    apigateway = f"arn:aws:apigateway:{region}::"
    domain = facts.custom_domain or "none"
    zone = f"arn:aws:route53:::hostedzone/{facts.hosted_zone_id}"
    boundary = names.boundary_arn(ACCOUNT)
    bucket = f"arn:aws:s3:::{names.data_bucket(ACCOUNT)}"
    return {
        "repository": Scope("Repository", (arn("ecr", f"repository/{names.repository}"),)),
        "parameters": Scope("Parameters", (arn("ssm", f"parameter{names.path}*"),)),
        "table": Scope("CacheTable", (arn("dynamodb", f"table/{names.cache_table}"),)),
        "log groups": Scope(
            "LogGroups", tuple(arn("logs", f"log-group:{g}") for g in _qualified(log_groups))
        ),
        "roles": Scope(
            "RolesWithTheBoundary",
            roles,
            {"StringEquals": {"iam:PermissionsBoundary": boundary}},
        ),
        "bounded roles": Scope("ChangeBoundedRoles", roles),
        "role reads": Scope("ReadRoles", roles),
        "roles to pass": Scope(
            "PassRolesToLambda",
            roles,
            {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        "functions": Scope(
            "Functions", tuple(arn("lambda", f"function:{p}") for p in _qualified(functions))
        ),
        "invoke permissions": Scope(
            "InvokePermissions",
            tuple(arn("lambda", f"function:{p}") for p in _qualified(functions)),
            {"StringEquals": {"lambda:Principal": list(facts.invoke_principals)}},
        ),
        "new apis": Scope("NewApis", (f"{apigateway}/apis",), {"StringEquals": request_tag}),
        "apis": Scope("Apis", (f"{apigateway}/apis/*",), {"StringEquals": tag}),
        "new domain": Scope(
            "NewDomain", (f"{apigateway}/domainnames",), {"StringEquals": request_tag}
        ),
        "domain": Scope(
            "Domain", (f"{apigateway}/domainnames/{domain}", f"{apigateway}/domainnames/{domain}/*")
        ),
        "new certificate": Scope(
            "NewCertificate",
            ("*",),
            {
                "StringEquals": {**request_tag, "acm:ValidationMethod": "DNS"},
                "ForAllValues:StringEquals": {"acm:DomainNames": [domain]},
                "ForAnyValue:StringEquals": {"acm:DomainNames": [domain]},
            },
        ),
        "certificate tags": Scope(
            "TagNewCertificate",
            (arn("acm", "certificate/*"),),
            {"StringEquals": request_tag, "StringEqualsIfExists": tag},
        ),
        "certificates": Scope(
            "Certificates", (arn("acm", "certificate/*"),), {"StringEquals": tag}
        ),
        "zone": Scope("Zone", (zone,)),
        "alias records": Scope("AliasRecords", (zone,), _record_condition([domain], ["A", "AAAA"])),
        # ACM's validation name is `_` and 32 characters before the domain; no `.` among them,
        # so no other name below the domain (an `_acme-challenge.<host>`) fits it.
        "validation record": Scope(
            "ValidationRecord",
            (zone,),
            {
                **_record_condition([f"_{'?' * 32}.{domain}"], ["CNAME"], like=True),
                "ForAllValues:StringNotLike": {_RECORD_NAMES: [f"*.*.{domain}"]},
            },
        ),
        "changes": Scope("Changes", ("arn:aws:route53:::change/*",)),
        "topic": Scope("AlarmTopic", (topic,)),
        "alarms": Scope("Alarms", (alarms,)),
        "dashboard": Scope(
            "Dashboard", (arn("cloudwatch", f"dashboard/{names.prefix}", regional=False),)
        ),
        "rules": Scope("Rules", (rules,)),
        "bucket": Scope("DataBucket", (bucket,)),
        "objects": Scope("DataObjects", (f"{bucket}/*",)),
        "any": Scope("Unscoped", ("*",)),
    }


_RECORD_NAMES = "route53:ChangeResourceRecordSetsNormalizedRecordNames"


def _record_condition(names: list[str], types: list[str], *, like: bool = False) -> dict:
    """Every record of the change is one of `names` (patterns when `like`) and of `types`, and
    the change names one at least (a ForAllValues alone holds for an empty set)."""
    operator = "StringLike" if like else "StringEquals"
    return {
        f"ForAllValues:{operator}": {
            _RECORD_NAMES: names,
            "route53:ChangeResourceRecordSetsRecordTypes": types,
        },
        f"ForAnyValue:{operator}": {_RECORD_NAMES: names},
    }


def _qualified(patterns: Iterable[str]) -> list[str]:
    """Each name and what follows it after a ':' (a function's versions and aliases, a log
    group's streams); a pattern ending in '*' already covers both."""
    return [form for p in patterns for form in ((p,) if p.endswith("*") else (p, f"{p}:*"))]


def _name_patterns(prefix: str, functions: Iterable[str]) -> list[str]:
    """The stack's function names as patterns: the prefix itself when a function has it, and
    `<prefix>-*` for the others (one word of a stack name cannot match another stack's)."""
    patterns = []
    if prefix in functions:
        patterns.append(prefix)
    if any(name != prefix for name in functions):
        patterns.append(f"{prefix}-*")
    return patterns


def deployer_policy(facts: StackFacts, state_bucket: str | None = DEFAULT_STATE_BUCKET) -> dict:
    """The policy of the role that deploys the stack."""
    by_scope = scopes(facts)
    granted: dict[str, list[str]] = {}
    needs = actions()
    groups = [
        *(
            needs["resources"][type_]
            for type_ in sorted(facts.types)
            if type_ in needs["resources"]
        ),
        *(needs["invokes"][call] for call in sorted(facts.calls) if call in needs["invokes"]),
    ]
    for group in groups:
        for scope, listed in group.items():
            granted.setdefault(scope, [])
            granted[scope].extend(a for a in listed if a not in granted[scope])
    statements = [
        *_state_statements(facts, state_bucket),
        *(_statement(by_scope[scope], listed) for scope, listed in granted.items()),
        *_guard_statements(facts.names),
    ]
    return {"Version": VERSION, "Statement": statements}


def boundary_policy(facts: StackFacts) -> dict:
    """The most a role of the stack may ever do: what its functions need, on its own names."""
    names, region = facts.names, facts.region
    # A log stream's ARN is its group's followed by `:log-stream:<name>`.
    streams = [
        p if p.endswith("*") else f"{p}:*" for p in _name_patterns(names.prefix, facts.functions)
    ]
    statements = [
        _statement(
            Scope(
                "WriteOwnLogs",
                tuple(f"arn:aws:logs:{region}:*:log-group:/aws/lambda/{p}" for p in streams),
            ),
            ["logs:CreateLogStream", "logs:PutLogEvents"],
        ),
        _statement(
            Scope(
                "ReadOwnParameters",
                (f"arn:aws:ssm:{region}:*:parameter{names.path}*",),
            ),
            ["ssm:GetParameter"],
        ),
    ]
    if "aws:dynamodb/table:Table" in facts.types:
        statements.append(
            _statement(
                Scope(
                    "UseOwnTable",
                    (f"arn:aws:dynamodb:{region}:*:table/{names.cache_table}",),
                ),
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            )
        )
    if "aws:s3/bucket:Bucket" in facts.types:
        statements.append(
            _statement(
                Scope("ReadOwnData", (f"arn:aws:s3:::{names.data_bucket(ACCOUNT)}/*",)),
                ["s3:GetObject", "s3:GetObjectVersion"],
            )
        )
    return {"Version": VERSION, "Statement": statements}


def _statement(scope: Scope, listed: list[str], effect: str = "Allow") -> dict:
    statement: dict[str, Any] = {
        "Sid": scope.sid,
        "Effect": effect,
        "Action": list(listed),
        "Resource": list(scope.resources),
    }
    if scope.condition:
        statement["Condition"] = scope.condition
    return statement


def _state_statements(facts: StackFacts, state_bucket: str | None) -> list[dict]:
    """The stack's own objects in the S3 state backend (pulumi's DIY layout): its state, its
    tags (read by every operation since Pulumi 3.211), backups, history, journal and lock;
    nothing of another stack or program.

    Listing the bucket shows key names only. It is not narrowed by prefix: S3 answers a read of a
    missing key with 403 instead of 404 to a caller who may not list the bucket, and Pulumi must
    see 404 for a new stack's state or a stack without tags.
    """
    if state_bucket is None:
        return []
    names, project = facts.names, facts.project
    bucket = f"arn:aws:s3:::{state_bucket}"
    own = [
        # dev.json, dev.json.bak, dev.json.gz, dev.pulumi-tags
        f".pulumi/stacks/{project}/{names.stack}.*",
        # history/, backups/, journal/ and locks/organization/, each <project>/<stack>/...
        f".pulumi/*/{project}/{names.stack}/*",
    ]
    return [
        _statement(Scope("ListState", (bucket,)), ["s3:ListBucket"]),
        _statement(Scope("ReadStateLayout", (f"{bucket}/.pulumi/meta.yaml",)), ["s3:GetObject"]),
        _statement(
            Scope("OwnState", tuple(f"{bucket}/{key}" for key in own)),
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        ),
    ]


def _guard_statements(names: StackNames) -> list[dict]:
    """Denials that hold whatever else the role is given: no role loses its boundary, and the
    boundary policy itself cannot be created, edited or deleted by the deployer."""
    return [
        _statement(
            Scope("NeverRemoveABoundary", ("*",)),
            ["iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"],
            effect="Deny",
        ),
        _statement(
            Scope("NeverEditTheBoundary", (names.boundary_arn("*"),)),
            [
                "iam:CreatePolicy",
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            effect="Deny",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make deployer-policy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--program", choices=sorted(PROGRAMS), default="iris")
    parser.add_argument("--stack", required=True, help="the stack (its Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--boundary", action="store_true", help="the permissions boundary of the stack's roles"
    )
    parser.add_argument(
        "--state-bucket",
        default=DEFAULT_STATE_BUCKET,
        help="the S3 state backend's bucket; `none` for Pulumi Cloud",
    )
    args = parser.parse_args(argv)
    try:
        facts = plan_stack(args.program, args.stack)
    except PolicyError as error:
        print(f"make deployer-policy: stack {args.stack!r}: {error}", file=sys.stderr)
        return 1
    state_bucket = None if args.state_bucket == "none" else args.state_bucket
    policy = boundary_policy(facts) if args.boundary else deployer_policy(facts, state_bucket)
    print(json.dumps(policy, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
