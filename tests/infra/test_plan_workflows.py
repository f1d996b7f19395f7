"""The pull-request plan comment, in GitHub's safe two-workflow shape: plan.yml runs the pull
request's code (forks included) with a read-only token and no secrets, and uploads the diff of
`make check` on the pull request and on its base; plan-comment.yml, which may write to pull
requests, never checks out or runs that code and posts one comment, found by its marker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_workflows import WORKFLOW_DIR, load, steps_using, uses_references
from tests.infra.workflow_runs import evaluate

README = Path(__file__).resolve().parents[2] / "README.md"
MAKE_CHECK = re.compile(r"make check(?: [A-Z_]+=[^\s()&|;]+)*")
MARKER = "<!-- iris-plan-diff -->"


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return load(WORKFLOW_DIR / "plan.yml")


@pytest.fixture(scope="module")
def comment() -> dict[str, Any]:
    return load(WORKFLOW_DIR / "plan-comment.yml")


def run_scripts(workflow: dict[str, Any]) -> str:
    return "\n".join(
        step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]
    )


def test_every_pull_request_is_planned_forks_included(plan):
    assert plan["on"] == {"pull_request": None}
    ((name, job),) = plan["jobs"].items()
    # No condition on the job: a fork's pull request is planned like any other.
    assert "if" not in job, name


def test_the_plan_workflow_can_read_only_and_holds_no_secret(plan):
    assert plan["permissions"] == {}
    assert [job["permissions"] for job in plan["jobs"].values()] == [{"contents": "read"}]
    assert "secrets." not in (WORKFLOW_DIR / "plan.yml").read_text()
    checkouts = [step for _, step in steps_using(plan, "actions/checkout")]
    # The pull request's code must not find the token in .git/config.
    assert [step["with"]["persist-credentials"] for step in checkouts] == [False, False]
    assert [step["with"].get("ref") for step in checkouts] == [
        None,
        "${{ github.event.pull_request.base.sha }}",
    ]


def test_both_trees_run_the_readmes_make_check_and_the_diff_is_uploaded(plan):
    script = run_scripts(plan)
    assert re.search(r"for tree in head base; do", script)
    (command,) = set(MAKE_CHECK.findall(script))
    assert command == "make check PLACEHOLDER_SECRETS=1"
    assert f"\n{command}\n" in readme_section("`make check`"), "not the README's command"
    assert "diff -u" in script and "plan/plan.diff" in script
    ((_, upload),) = steps_using(plan, "actions/upload-artifact")
    assert upload["with"]["name"] == "plan" and upload["with"]["path"] == "plan/"


def readme_section(title_part: str) -> str:
    """The README's section whose heading contains `title_part`, up to the next heading of the
    same or a higher level (lines in code blocks are not headings)."""
    section: list[str] = []
    level = 0
    in_code = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = 0 if in_code else len(line) - len(line.lstrip("#"))
        if section and heading and line[heading:].startswith(" ") and heading <= level:
            break
        if not section and heading and title_part in line:
            level = heading
        if level:
            section.append(line)
    return "\n".join(section) + "\n"


def test_the_comment_workflow_follows_the_plan_workflow_by_name(plan, comment):
    assert comment["on"] == {"workflow_run": {"workflows": [plan["name"]], "types": ["completed"]}}


def test_the_comment_workflow_may_write_comments_and_nothing_else(comment):
    assert comment["permissions"] == {}
    ((_, job),) = comment["jobs"].items()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}


def test_the_comment_workflow_never_checks_out_or_runs_the_pull_requests_code(comment):
    steps = [step for job in comment["jobs"].values() for step in job["steps"]]
    assert [step["uses"].split("@")[0] for step in steps] == [
        "actions/download-artifact",
        "actions/github-script",
    ]
    assert not any("run" in step for step in steps)
    ((_, download),) = steps_using(comment, "actions/download-artifact")
    # Cross-run downloads need v4 or later.
    versions = dict(uses_references((WORKFLOW_DIR / "plan-comment.yml").read_text()))
    assert int(versions[download["uses"]].removeprefix("v").split(".")[0]) >= 4
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert download["with"]["name"] == "plan"
    ((_, script),) = steps_using(comment, "actions/github-script")
    # The artifact and the event reach the script as data (env, files), never as code.
    assert "${{" not in script["with"]["script"]
    assert set(script["env"]) == {"PLANNED_SHA", "RUN_URL"}


def test_one_comment_is_found_by_its_marker_and_updated(comment):
    ((_, step),) = steps_using(comment, "actions/github-script")
    script = step["with"]["script"]
    assert f"const MARKER = '{MARKER}';" in script
    assert "comment.body.includes(MARKER)" in script
    assert "updateComment" in script and "createComment" in script
    # Only for the commit that was planned: the artifact's pull request number is checked.
    assert "pr.head.sha !== process.env.PLANNED_SHA" in script


@pytest.mark.parametrize(
    ("event", "conclusion", "comments"),
    [
        ("pull_request", "success", True),
        ("pull_request", "failure", True),
        ("pull_request", "cancelled", False),
        ("push", "success", False),
    ],
)
def test_the_comment_job_runs_for_finished_pull_request_plans(comment, event, conclusion, comments):
    ((_, job),) = comment["jobs"].items()
    context = {
        "github.event.workflow_run.event": event,
        "github.event.workflow_run.conclusion": conclusion,
    }
    assert evaluate(job["if"], context) is comments
