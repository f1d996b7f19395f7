"""The GitHub workflows: valid against GitHub's workflow schema, and they test every change,
preview dev on pull requests (commented on the PR) and deploy dev from main with OIDC."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def pulumi_step(workflow: dict[str, Any], command: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one job running `pulumi <command>`, and its step."""
    ((job_name, step),) = [
        (name, step)
        for name, step in steps_using(workflow, "pulumi/actions")
        if step["with"]["command"] == command
    ]
    return workflow["jobs"][job_name], step


def test_pull_requests_preview_dev_and_comment_on_the_pr(ci):
    job, step = pulumi_step(ci, "preview")
    assert "pull_request" in job["if"] and job["needs"] == "test"
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert job["permissions"]["pull-requests"] == "write"
    assert ci["env"]["PULUMI_STACK"] == "dev" and "PULUMI_STACK" in step["with"]["stack-name"]


def test_pushes_to_main_deploy_dev(ci):
    job, step = pulumi_step(ci, "up")
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert job["needs"] == "test"
    assert "PULUMI_STACK" in step["with"]["stack-name"]
    assert job["concurrency"]["cancel-in-progress"] is False


def test_aws_access_comes_from_an_oidc_role(ci):
    aws_steps = steps_using(ci, "aws-actions/configure-aws-credentials")
    assert {job for job, _ in aws_steps} == {"preview", "deploy"}
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
