"""The GitHub workflows: valid against GitHub's workflow schema, and they test every change,
deploy dev from main and prod from release tags or manual runs (each in its own environment,
prod's reviewers approving), with OIDC, and smoke test the API after every deploy. A pull
request's jobs hold no deploy credential (pitfall 57): test_workflow_security.py.

Which jobs run for an event is worked out from the workflow's own triggers and `if:`
conditions, with a small evaluator of the expression subset they use, so a widened trigger or
condition fails a test whatever its spelling."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.workflow_runs import evaluate, jobs_run

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
WORKFLOW_DIR = Path(__file__).resolve().parents[2] / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOW_DIR.glob("*.yml"), *WORKFLOW_DIR.glob("*.yaml")])


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps_using(workflow: dict[str, Any], action: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_name, step)
        for job_name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if step.get("uses", "").split("@")[0] == action
    ]


USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?:\s+#\s*(?P<comment>.*))?$")


def uses_references(text: str) -> list[tuple[str, str]]:
    """(reference, comment) of every `uses:` of a workflow, read from its lines because YAML
    drops comments; a `uses:` the line reader misses (flow style) fails here."""
    workflow = yaml.safe_load(text)
    parsed = [
        holder["uses"]
        for job in workflow["jobs"].values()
        for holder in [job, *job.get("steps", [])]
        if "uses" in holder
    ]
    lines = [match for line in text.splitlines() if (match := USES_LINE.match(line))]
    assert [match["ref"] for match in lines] == parsed, "a uses: not on a line of its own"
    return [(match["ref"], match["comment"] or "") for match in lines]


def test_there_is_a_workflow():
    assert WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_githubs_schema(path):
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps: [{run: make}]\n")  # no runs-on
    assert validate(broken).returncode != 0


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    return load(WORKFLOW_DIR / "ci.yml")


def test_every_pull_request_and_push_to_main_runs_make_test(ci):
    assert "pull_request" in ci["on"]
    assert ci["on"]["push"]["branches"] == ["main"]
    assert any(step.get("run") == "make test" for step in ci["jobs"]["test"]["steps"])


def pulumi_steps(workflow: dict[str, Any], command: str) -> list[tuple[str, int]]:
    """(job, step index) of every `pulumi <command>` step."""
    return [
        (job_name, index)
        for job_name, job in workflow["jobs"].items()
        for index, step in enumerate(job.get("steps", []))
        if step.get("uses", "").split("@")[0] == "pulumi/actions"
        and step["with"]["command"] == command
    ]


def stack_of(workflow: dict[str, Any], job_name: str, value: str) -> str:
    """`value` with `${{ env.NAME }}` (an expression) or `"$NAME"` (the shell's variable)
    resolved from the job's env, then the workflow's."""
    env = {**workflow.get("env", {}), **workflow["jobs"][job_name].get("env", {})}
    return re.sub(
        r"\$\{\{\s*env\.(\w+)\s*\}\}|\"\$(\w+)\"",
        lambda match: env[match.group(1) or match.group(2)],
        value,
    )


def deployed_stacks(workflow: dict[str, Any]) -> dict[str, str]:
    """Job name -> the stack its `pulumi up` deploys."""
    return {
        job_name: stack_of(
            workflow, job_name, workflow["jobs"][job_name]["steps"][index]["with"]["stack-name"]
        )
        for job_name, index in pulumi_steps(workflow, "up")
    }


def test_a_pull_request_runs_the_tests_and_nothing_that_touches_a_stack(ci):
    """Its review is plan.yml's offline plan diff; no pulumi command runs for it."""
    assert jobs_run(ci, "pull_request", "refs/pull/7/merge") == {"test"}
    assert pulumi_steps(ci, "preview") == []


def test_dev_and_prod_are_each_deployed_by_one_job(ci):
    assert sorted(deployed_stacks(ci).values()) == ["dev", "prod"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_stack_deploys_in_its_environment_one_run_at_a_time(ci, stack):
    (job_name,) = [name for name, deployed in deployed_stacks(ci).items() if deployed == stack]
    job = ci["jobs"][job_name]
    assert job["environment"] == stack
    assert job["needs"] == "test"
    assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}


SMOKE = re.compile(r"make smoke STACK=(\S+|\$\{\{[^}]*\}\})")


def test_every_pulumi_up_is_followed_by_make_smoke_of_the_same_stack(ci):
    for job_name, index in pulumi_steps(ci, "up"):
        steps = ci["jobs"][job_name]["steps"]
        up, following = steps[index], steps[index + 1 : index + 2]
        assert following, f"{job_name}: nothing runs after pulumi up"
        (smoke,) = following
        match = SMOKE.fullmatch(smoke.get("run", ""))
        assert match, f"{job_name}: the step after pulumi up is not make smoke: {smoke}"
        assert stack_of(ci, job_name, match.group(1)) == stack_of(
            ci, job_name, up["with"]["stack-name"]
        )
        # A smoke failure fails the deployment, and nothing skips it.
        assert "if" not in smoke and not smoke.get("continue-on-error", False)
        assert smoke["timeout-minutes"] <= 15


def test_make_smoke_gets_its_key_and_the_pulumi_backend_from_secrets(ci):
    for job_name, index in pulumi_steps(ci, "up"):
        up, smoke = ci["jobs"][job_name]["steps"][index : index + 2]
        # The key travels in the environment, so it is masked and on no command line.
        assert smoke["env"]["API_KEY"] == "${{ secrets.SMOKE_API_KEY }}"
        assert "API_KEY" not in smoke["run"]
        # Reading the stack's outputs needs what pulumi up needed to read the stack.
        for name, value in up["env"].items():
            assert smoke["env"][name] == value


# (event_name, ref) -> the stacks CI deploys for it.
EVENTS = {
    "pull request": (("pull_request", "refs/pull/7/merge"), set()),
    "push to main": (("push", "refs/heads/main"), {"dev"}),
    "push to another branch": (("push", "refs/heads/feature"), set()),
    "release tag": (("push", "refs/tags/v1.4.0"), {"prod"}),
    "other tag": (("push", "refs/tags/nightly"), set()),
    "manual run on main": (("workflow_dispatch", "refs/heads/main"), {"prod"}),
    "manual run on a release tag": (("workflow_dispatch", "refs/tags/v1.3.2"), {"prod"}),
    "manual run on another branch": (("workflow_dispatch", "refs/heads/feature"), set()),
    "schedule": (("schedule", "refs/heads/main"), set()),
}


@pytest.mark.parametrize(("event", "expected"), EVENTS.values(), ids=EVENTS.keys())
def test_each_event_deploys_exactly_the_expected_stacks(ci, event, expected):
    ran = jobs_run(ci, *event)
    assert {stack for job, stack in deployed_stacks(ci).items() if job in ran} == expected
    if expected:
        assert "test" in ran


def test_the_evaluator_follows_githubs_rules():
    """The expression subset, checked on cases with known answers (GitHub's docs: string
    comparison and startsWith ignore case; && binds tighter than ||)."""
    context = {"github.ref": "refs/tags/v1", "github.event_name": "push"}
    assert evaluate("github.ref == 'REFS/TAGS/V1'", context) is True
    assert evaluate("startsWith(github.ref, 'refs/TAGS/')", context) is True
    assert evaluate("github.event_name != 'push' || github.ref == 'x' && false", context) is False
    assert evaluate("!(github.event_name == 'push')", context) is False
    # Status functions, as in a run whose needed jobs all succeeded and nothing was cancelled.
    assert evaluate("${{ !cancelled() }}", context) is True
    assert evaluate("always() && !failure() && success()", context) is True
    with pytest.raises(KeyError):
        evaluate("github.sha == 'abc'", context)


def test_aws_access_comes_from_an_oidc_role(ci):
    aws_steps = steps_using(ci, "aws-actions/configure-aws-credentials")
    assert {job for job, _ in aws_steps} == set(deployed_stacks(ci))
    for job_name, step in aws_steps:
        assert ci["jobs"][job_name]["permissions"]["id-token"] == "write"
        assert step["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
        assert not {"aws-access-key-id", "aws-secret-access-key"} & step["with"].keys()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_secrets_are_referenced_by_name_only(path):
    text = path.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}|pul-[0-9a-f]{40}", text)
    for match in re.finditer(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", text):
        assert match.group(1).isupper(), match.group(0)
    for key in ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"):
        for line in text.splitlines():
            if line.strip().startswith(f"{key}:"):
                assert line.strip() == f"{key}: ${{{{ secrets.{key} }}}}", line
