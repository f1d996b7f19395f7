"""No job a pull request can start holds a deploy credential (pitfall 57): such a job runs the
branch's own code (`pip install`, the program), and on `pull_request` even the workflow file is
the branch's. So the deploy role, the Pulumi token and the passphrase are environment secrets,
read only by the deploy job of that environment; every action is pinned to a commit; no checkout
leaves the token in `.git`; every job states its permissions; and zizmor finds nothing at medium
or above."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docs import doc_section
from tests.infra.test_workflows import (
    WORKFLOW_DIR,
    WORKFLOWS,
    deployed_stacks,
    load,
    uses_references,
)
from tests.infra.workflow_runs import jobs_run

# The runs a pull request can start, each with its ref and the event fields conditions read,
# taken at their most privileged: a pull request from a branch of this repository.
PULL_REQUEST_RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "pull_request": ("refs/pull/7/merge", {}),
    # Runs the base branch's workflow, with the base's secrets, for any pull request.
    "pull_request_target": ("refs/heads/main", {}),
    "pull_request_review": ("refs/pull/7/merge", {}),
    "pull_request_review_comment": ("refs/pull/7/merge", {}),
    # Follows a workflow a pull request started (plan-comment.yml follows plan.yml).
    "workflow_run": (
        "refs/heads/main",
        {
            "github.event.workflow_run.event": "pull_request",
            "github.event.workflow_run.conclusion": "success",
        },
    ),
}
# What each deploy job reads from its own environment.
DEPLOY_SECRETS = {
    "AWS_DEPLOY_ROLE_ARN",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "SMOKE_API_KEY",
}
SECRET_REFERENCE = re.compile(r"\bsecrets\b(?:\.([A-Za-z_][A-Za-z0-9_]*))?")
ALL_SECRETS = "*"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@pytest.fixture(scope="module", params=WORKFLOWS, ids=lambda path: path.name)
def workflow(request) -> dict[str, Any]:
    return load(request.param)


def expressions(value: Any) -> list[str]:
    """Every expression in a parsed YAML value: each `${{ ... }}`, and the whole of an `if:`
    (where the braces are optional)."""
    if isinstance(value, dict):
        return [
            text
            for key, item in value.items()
            for text in ([str(item)] if key == "if" else expressions(item))
        ]
    if isinstance(value, list):
        return [text for item in value for text in expressions(item)]
    return EXPRESSION.findall(value) if isinstance(value, str) else []


def secrets_used(job: dict[str, Any]) -> set[str]:
    """The secrets a job can read: `secrets.NAME`, or ALL_SECRETS for any other use of the
    context (`secrets[...]`, `toJSON(secrets)`, `secrets: inherit` to a reusable workflow)."""
    used = {ALL_SECRETS} if "secrets" in job else set()
    for text in expressions(job):
        used |= {match.group(1) or ALL_SECRETS for match in SECRET_REFERENCE.finditer(text)}
    return used


def permissions(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    """The job's token permissions: its own, else the workflow's, else (as the repository's
    settings may) everything; `write-all` and `read-all` spelled out for what is checked here."""
    granted = job.get("permissions", workflow.get("permissions", "write-all"))
    if granted == "write-all":
        return {"contents": "write", "id-token": "write"}
    if granted == "read-all":
        return {"contents": "read"}
    return granted or {}


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ({"steps": [{"env": {"K": "${{ secrets.DEPLOY_KEY }}"}}]}, {"DEPLOY_KEY"}),
        ({"steps": [{"if": "secrets.A != ''", "run": "x ${{secrets.B}}"}]}, {"A", "B"}),
        ({"steps": [{"run": "echo '${{ toJSON(secrets) }}'"}]}, {ALL_SECRETS}),
        ({"steps": [{"env": {"K": "${{ secrets['KEY'] }}"}}]}, {ALL_SECRETS}),
        ({"uses": "./.github/workflows/deploy.yml", "secrets": "inherit"}, {ALL_SECRETS}),
        ({"steps": [{"run": "echo secrets.NOT_AN_EXPRESSION"}]}, set()),
    ],
)
def test_every_way_to_read_a_secret_is_seen(job, expected):
    assert secrets_used(job) == expected


def pull_request_jobs(workflow: dict[str, Any]) -> set[str]:
    ran: set[str] = set()
    for event_name, (ref, event) in PULL_REQUEST_RUNS.items():
        ran |= jobs_run(workflow, event_name, ref, event)
    return ran


def test_the_runs_a_pull_request_starts_are_found():
    """The check below is not vacuous: it sees the jobs of each workflow a pull request starts."""
    found = {path.name: pull_request_jobs(load(path)) for path in WORKFLOWS}
    assert found["plan.yml"] == {"base", "head", "diff"}
    assert found["plan-comment.yml"] == {"comment"}
    assert "test" in found["ci.yml"]
    assert not found["ci.yml"] & set(deployed_stacks(load(WORKFLOW_DIR / "ci.yml")))


def test_no_job_a_pull_request_starts_holds_a_credential(workflow):
    for name in sorted(pull_request_jobs(workflow)):
        job = workflow["jobs"][name]
        assert secrets_used(job) <= {"GITHUB_TOKEN"}, (name, secrets_used(job))
        assert permissions(workflow, job).get("id-token") != "write", name
        # An environment's secrets and OIDC subject belong to its deploy job alone.
        assert "environment" not in job, name


def test_only_jobs_in_an_environment_read_secrets_or_get_an_oidc_token(workflow):
    """A secret read outside an environment must be a repository secret, which any job (and
    any branch's edit of the workflow) can read."""
    for name, job in workflow["jobs"].items():
        if secrets_used(job) - {"GITHUB_TOKEN"} or (
            permissions(workflow, job).get("id-token") == "write"
        ):
            assert job.get("environment"), name


def test_each_deploy_job_reads_the_credentials_of_its_own_environment_only():
    ci = load(WORKFLOW_DIR / "ci.yml")
    stacks = deployed_stacks(ci)
    assert sorted(stacks.values()) == ["dev", "prod"]
    for job_name, stack in stacks.items():
        job = ci["jobs"][job_name]
        # One environment per job: the same names hold that stack's values and no other's.
        assert job["environment"] == stack
        assert secrets_used(job) == DEPLOY_SECRETS, job_name
    deploy_jobs = {("ci.yml", name) for name in stacks}
    for path in WORKFLOWS:
        for job_name, job in load(path)["jobs"].items():
            if (path.name, job_name) not in deploy_jobs:
                assert not secrets_used(job) & DEPLOY_SECRETS, (path.name, job_name)


def test_every_workflow_grants_nothing_and_every_job_states_its_permissions(workflow):
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), name


# owner/repo[/path]@<commit>  # vX.Y.Z
PINNED = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+(?:/[^@\s]+)?@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"v\d+\.\d+\.\d+\b.*")


def pin_problems(text: str) -> list[str]:
    return [
        f"{reference} # {comment}"
        for reference, comment in uses_references(text)
        if not (PINNED.fullmatch(reference) and VERSION_COMMENT.fullmatch(comment))
    ]


@pytest.mark.parametrize(
    "uses",
    [
        "actions/checkout@v4",
        "actions/checkout@main",
        "actions/checkout@11d5960a",
        "actions/checkout@11D5960A326750D5838078E36CF38B85AF677262 # v4.4.0",
        "actions/checkout@11d5960a326750d5838078e36cf38b85af677262",
        "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # latest",
        "./.github/actions/local",
        "docker://alpine:3",
    ],
)
def test_the_pin_check_refuses_a_tag_a_branch_or_a_missing_version(uses):
    text = f"on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - uses: {uses}\n"
    assert pin_problems(text) == [f"{uses.split(' #')[0]} # {uses.partition('# ')[2]}"]


def test_the_pin_check_accepts_a_commit_with_its_version():
    uses = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0"
    text = f"on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - uses: {uses}\n"
    assert pin_problems(text) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it(path):
    assert pin_problems(path.read_text()) == []


def test_no_checkout_keeps_the_token_in_git(workflow):
    checkouts = [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("actions/checkout@")
    ]
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, step


def zizmor() -> Path:
    """zizmor from the test environment (requirements-dev.txt), else from PATH."""
    beside = Path(sys.executable).with_name("zizmor")
    found = beside if beside.exists() else shutil.which("zizmor")
    if not found:
        pytest.skip("zizmor is not installed: pip install -r requirements-dev.txt")
    return Path(found)


def zizmor_findings(target: Path, *options: str) -> list[dict[str, Any]]:
    """zizmor's findings at medium severity or above, offline; no configuration file can
    silence a rule (the inline ignores are reviewed below)."""
    environment = {k: v for k, v in os.environ.items() if "TOKEN" not in k}
    result = subprocess.run(
        [str(zizmor()), "--offline", "--no-config", "--format", "json", *options, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    # 0: no finding; 11-14: findings, the highest informational to high.
    assert result.returncode in (0, 11, 12, 13, 14), result.stderr
    return [
        finding
        for finding in json.loads(result.stdout)
        if finding["determinations"]["severity"] in ("Medium", "High")
    ]


def describe(finding: dict[str, Any]) -> str:
    location = finding["locations"][0]
    row = location["concrete"]["location"]["start_point"]["row"] + 1
    path = location["symbolic"]["key"]["Local"]["verbatim_path"]
    return f"{path}:{row} {finding['ident']} ({finding['determinations']['severity']})"


def test_zizmor_finds_nothing_at_medium_or_above():
    assert [describe(finding) for finding in zizmor_findings(WORKFLOW_DIR)] == []


def test_zizmor_sees_an_unpinned_action_and_a_kept_token(tmp_path):
    workflow = tmp_path / "unsafe.yml"
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    permissions: {}\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - uses: docker/setup-qemu-action@v3\n"
    )
    assert {finding["ident"] for finding in zizmor_findings(workflow)} == {
        "artipacked",
        "unpinned-uses",
    }


IGNORE_COMMENT = re.compile(r"#\s*zizmor:\s*ignore\[([^\]]*)\](.*)")
# Each inline suppression is a reviewed design decision; a new one must be added here with it.
REVIEWED_IGNORES = {
    # Never checks out or runs the pull request's code; reads the Plan artifact as text only.
    ("plan-comment.yml", "dangerous-triggers"),
}


def test_every_inline_suppression_is_reviewed_and_gives_its_reason():
    found = set()
    for path in WORKFLOWS:
        for match in IGNORE_COMMENT.finditer(path.read_text()):
            assert match.group(2).strip(), f"{path.name}: {match.group(0)} gives no reason"
            found |= {(path.name, rule.strip()) for rule in match.group(1).split(",")}
    assert found == REVIEWED_IGNORES


def test_each_reviewed_suppression_is_still_needed():
    """Without the ignore comments zizmor reports exactly the reviewed findings."""
    found = {
        (Path(describe(finding).split(":")[0]).name, finding["ident"])
        for finding in zizmor_findings(WORKFLOW_DIR, "--no-ignores")
    }
    assert found == REVIEWED_IGNORES


def test_the_docs_have_the_deploy_secrets_set_in_the_environments():
    section = doc_section("docs/operating.md", "## CI")
    kinds = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.MULTILINE))
    assert {name: kinds.get(name) for name in DEPLOY_SECRETS} == dict.fromkeys(
        DEPLOY_SECRETS, "environment secret"
    )
    # Each role trusts its own environment's subject.
    prose = " ".join(section.split())
    for stack in ("dev", "prod"):
        assert f"`repo:<owner>/<repo>:environment:{stack}` for {stack}'s" in prose


def test_the_docs_say_what_keeps_an_edited_workflow_out_of_prod():
    """The environments' rules match a ref's name only: a `v*` tag on any branch's commit runs
    that branch's ci.yml in prod once a reviewer approves. operating.md has the admin close it."""
    prose = " ".join(doc_section("docs/operating.md", "## CI").split())
    assert "a workflow edited on another branch, out of the environment" not in prose
    tag_rules = re.search(r"\*\*tag ruleset\*\* on `v\*` with ([^;]+);", prose)
    assert tag_rules, "no tag ruleset on v*"
    for rule in ("Restrict creations", "Restrict updates", "Restrict deletions"):
        assert f"*{rule}*" in tag_rules.group(1), rule
    branch_rules = re.search(r"\*\*branch ruleset\*\* on `main` with ([^.]+)\.", prose)
    assert branch_rules, "no branch ruleset on main"
    for rule in ("Require a pull request before merging", "Block force pushes"):
        assert f"*{rule}*" in branch_rules.group(1), rule
    assert "the reviewer checks that the commit the run shows is on `main`" in prose
