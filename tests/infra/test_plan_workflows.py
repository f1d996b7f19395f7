"""The pull-request plan comment, in GitHub's safe two-workflow shape: plan.yml runs the pull
request's code (forks included) with a read-only token and no secrets, and uploads the diff of
`make check` on the pull request and on its base; plan-comment.yml, which may write to pull
requests, never checks out or runs that code and posts one comment, found by its marker.

Inside plan.yml the pull request's code runs in a job of its own. The base is planned by a job
that runs none of it, and the diff is made by a job that checks out nothing and reads the pull
request's plan as bounded text: code the pull request leaves running cannot rewrite the base's
plan or the diff, so the comment cannot say "No change" for a change. The jobs' scripts are run
here as the runner runs them, with `make` and `python` stood in for."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.docs import doc_section, doc_text
from tests.infra.test_workflows import WORKFLOW_DIR, load, steps_using, uses_references
from tests.infra.workflow_runs import (
    artifacts,
    carry_artifacts,
    evaluate,
    install_commands,
    job_outputs,
    jobs_run,
    run_step,
)
from tests.infra.workflow_runs import job_step as step

MAKE_CHECK = re.compile(r"make check(?: [A-Z_]+=[^\s()&|;]+)*")
MARKER = "<!-- iris-plan-diff -->"
BASE_SHA = "${{ github.event.pull_request.base.sha }}"
# What the `plan` artifact holds: plan-comment.yml reads it.
PLAN_FILES = {
    "pr-number",
    "plan.diff",
    "base.txt",
    "base.err",
    "base-status",
    "head.txt",
    "head.err",
    "head-status",
}
# Commands that would run code: a tree's program or Makefile, or text taken for a script.
RUNS_CODE = re.compile(r"\b(?:make|python3?|pip3?|node|npm|npx|bash|sh|source|eval|exec)\b")


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    return load(WORKFLOW_DIR / "plan.yml")


@pytest.fixture(scope="module")
def comment() -> dict[str, Any]:
    return load(WORKFLOW_DIR / "plan-comment.yml")


def checkouts(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]


def pull_request_code_jobs(plan: dict[str, Any]) -> set[str]:
    """The jobs that check out anything but the base: they run the pull request's code."""
    return {
        name
        for name, job in plan["jobs"].items()
        if any(step.get("with", {}).get("ref") != BASE_SHA for step in checkouts(job))
    }


def run_scripts(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_every_pull_request_is_planned_forks_included(plan):
    assert plan["on"] == {"pull_request": None}
    assert jobs_run(plan, "pull_request", "refs/pull/7/merge") == {"base", "head", "diff"}
    # No condition names a fork; the diff is made even when the pull request's check failed.
    conditions = {name: job["if"] for name, job in plan["jobs"].items() if "if" in job}
    assert conditions == {"diff": "${{ !cancelled() }}"}


def test_the_plan_workflow_can_read_only_and_holds_no_secret(plan):
    assert plan["permissions"] == {}
    assert {name: job["permissions"] for name, job in plan["jobs"].items()} == {
        "base": {"contents": "read"},
        "head": {"contents": "read"},
        "diff": {},
    }
    assert "secrets." not in (WORKFLOW_DIR / "plan.yml").read_text()
    # The pull request's code must not find the token in .git/config.
    for job in plan["jobs"].values():
        assert all(s["with"]["persist-credentials"] is False for s in checkouts(job))


def test_the_base_is_planned_by_a_job_that_runs_no_pull_request_code(plan):
    assert [s["with"].get("ref") for s in checkouts(plan["jobs"]["base"])] == [BASE_SHA]
    assert [s["with"].get("ref") for s in checkouts(plan["jobs"]["head"])] == [None]
    assert pull_request_code_jobs(plan) == {"head"}


def test_the_pull_requests_job_neither_sees_the_base_nor_makes_the_diff(plan):
    """Whatever the pull request's code leaves running there finds nothing of the base's
    plan or of the diff to rewrite: its job downloads nothing, names neither, and uploads its
    own plan only, under a name of its own. Its outputs would reach the diff job unchecked,
    so it has none."""
    uploads = artifacts(plan, "upload")
    for name in pull_request_code_jobs(plan):
        job = plan["jobs"][name]
        assert not re.search(r"\bbase\b|plan\.diff|\bdiff\b", json.dumps(job)), name
        assert not [s for s in job["steps"] if "download-artifact" in s.get("uses", "")]
        assert {artifact for artifact, (uploader, _) in uploads.items() if uploader == name} == {
            "head-plan"
        }
        assert "outputs" not in job
    assert uploads["head-plan"] == ("head", "head-plan")


def test_the_diff_is_made_by_a_job_that_checks_out_and_runs_nothing(plan):
    job = plan["jobs"]["diff"]
    assert job["needs"] == ["base", "head"]
    assert not checkouts(job)
    assert {s["uses"].split("@")[0] for s in job["steps"] if "uses" in s} == {
        "actions/download-artifact",
        "actions/upload-artifact",
    }
    assert not RUNS_CODE.search(run_scripts(job)), RUNS_CODE.findall(run_scripts(job))
    # It takes the base job's digests, and nothing the pull request's job could set.
    assert "needs.base.outputs.sums" in json.dumps(job)
    assert "needs.head" not in json.dumps(job)
    # The diff is made here only, and `plan` uploaded from here only, over any earlier one.
    for name, other in plan["jobs"].items():
        if name != "diff":
            assert "plan.diff" not in json.dumps(other) and "diff -u" not in run_scripts(other)
    upload = step(plan, "diff", "Upload the plans and their diff")
    assert artifacts(plan, "upload")["plan"] == ("diff", "plan")
    assert upload["with"]["overwrite"] is True and upload["if"] == "${{ !cancelled() }}"
    assert step(plan, "base", "Upload the base's plan")["with"]["overwrite"] is True


def test_every_artifact_unpacks_into_a_bounded_filesystem(plan):
    """A zip bomb fills a small tmpfs, not the disk the diff job writes `plan` to."""
    steps = plan["jobs"]["diff"]["steps"]
    bound = step(plan, "diff", "Bound what each artifact can unpack to")
    assert re.search(r"sudo mount -t tmpfs -o \"size=4m\b", bound["run"])
    (mounted,) = re.findall(r"for dir in ([\w -]+); do", bound["run"])
    downloads = [s for s in steps if "download-artifact" in s.get("uses", "")]
    assert sorted(s["with"]["path"] for s in downloads) == sorted(mounted.split())
    assert all(steps.index(bound) < steps.index(s) for s in downloads)
    # A missing or broken artifact is the diff script's to report, not a reason to skip `plan`.
    assert all(s["continue-on-error"] is True for s in downloads)


def test_both_trees_run_the_documented_make_check(plan):
    for name in ("base", "head"):
        (command,) = set(MAKE_CHECK.findall(run_scripts(plan["jobs"][name])))
        assert command == "make check PLACEHOLDER_SECRETS=1"
    documented = doc_section("docs/operating.md", "`make check`")
    assert f"\n{command}\n" in documented, "not the command operating.md gives"
    # The README's first `make check` is the one a reviewer runs on a fresh clone.
    readme = doc_text("README.md")
    assert readme.index("make check") == readme.index(f"\n{command} ") + 1


# Stand-ins for the tools the plan jobs run: `make check` in a checkout prints the plan the test
# put there (plan.txt) and exits with its status (plan-status); `python -m venv` makes the
# directory. Anything else fails the step.
STAND_INS = {
    "make": """#!/bin/sh
[ "$*" = "check PLACEHOLDER_SECRETS=1" ] || { echo "unexpected: make $*" >&2; exit 90; }
cat plan.txt
echo "pip's messages" >&2
exit "$(cat plan-status)"
""",
    "python": """#!/bin/sh
[ "$1 $2" = "-m venv" ] || { echo "unexpected: python $*" >&2; exit 90; }
mkdir -p "$3"
""",
}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    return install_commands(tmp_path_factory.mktemp("bin"), STAND_INS)


Tamper = Callable[[Path], None]
# What a tree's `make check` prints, and its exit status.
Planned = tuple[str, int]
PLAN_STEPS = {"base": "Plan the base", "head": "Plan the pull request"}


def plan_trees(
    plan: dict[str, Any], runners: Path, bin_dir: Path, base: Planned, head: Planned
) -> dict[str, str]:
    """Runs the base's and the pull request's plan steps, each in a workspace of its own, and
    carries the artifacts they upload to the diff job's workspace; returns the jobs' outputs
    as the diff job's `needs` context."""
    outputs: dict[str, str] = {}
    for job_name, (text, status) in {"base": base, "head": head}.items():
        workspace = runners / job_name
        (checkout,) = checkouts(plan["jobs"][job_name])
        tree = workspace / checkout["with"]["path"]
        tree.mkdir(parents=True)
        (tree / "plan.txt").write_text(text)
        (tree / "plan-status").write_text(str(status))
        ran = step(plan, job_name, PLAN_STEPS[job_name])
        result = run_step(ran, workspace, path=(bin_dir,))
        assert result.returncode == 0, result.stderr
        outputs |= job_outputs(plan, job_name, ran, workspace)
    carry_artifacts(plan, runners, "diff")
    return outputs


def diff_plans(
    plan: dict[str, Any], runners: Path, outputs: dict[str, str], **context: str
) -> dict[str, bytes]:
    """Runs the diff step in the diff job's workspace, its env evaluated from `outputs` and
    `context` (`steps__base__outcome` for `steps.base.outcome`; both downloads succeeded
    unless it says otherwise); returns the files of `plan`."""
    diff_step = step(plan, "diff", "Diff the plans")
    values = {
        "github.event.pull_request.number": "7",
        "steps.base.outcome": "success",
        "steps.head.outcome": "success",
        **outputs,
        **{key.replace("__", "."): value for key, value in context.items()},
    }
    env = {name: str(evaluate(value, values)) for name, value in diff_step["env"].items()}
    result = run_step(diff_step, runners / "diff", env)
    assert result.returncode == 0, result.stderr
    return {path.name: path.read_bytes() for path in (runners / "diff" / "plan").iterdir()}


def run_plan(
    plan: dict[str, Any],
    runners: Path,
    bin_dir: Path,
    base: Planned = ("a\nb\n", 0),
    head: Planned = ("a\nc\n", 0),
    tamper: Tamper | None = None,
    **context: str,
) -> dict[str, bytes]:
    outputs = plan_trees(plan, runners, bin_dir, base, head)
    if tamper:
        tamper(runners / "diff")
    return diff_plans(plan, runners, outputs, **context)


def test_the_diff_job_writes_the_files_the_comment_reads(plan, comment, stand_ins, tmp_path):
    files = run_plan(plan, tmp_path, stand_ins)
    assert set(files) == PLAN_FILES
    assert files["plan.diff"] == b"--- base\n+++ pull-request\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    assert files["pr-number"] == b"7\n"
    assert files["base-status"] == files["head-status"] == b"0\n"
    assert files["head.err"] == files["base.err"] == b"pip's messages\n"
    ((_, script),) = steps_using(comment, "actions/github-script")
    source = script["with"]["script"]
    read = set(re.findall(r"read\('([^']+)'\)", source))
    read |= {f"{tree}-status" for tree in re.findall(r"failed\('(\w+)'\)", source)}
    assert read == {"pr-number", "plan.diff", "head-status", "base-status"} <= set(files)


def test_plans_that_agree_give_an_empty_diff(plan, stand_ins, tmp_path):
    assert run_plan(plan, tmp_path, stand_ins, head=("a\nb\n", 0))["plan.diff"] == b""


@pytest.mark.parametrize("status", [0, 2])
def test_the_pull_requests_check_fails_its_job_and_the_diff_says_so(
    plan, stand_ins, tmp_path, status
):
    files = run_plan(plan, tmp_path, stand_ins, head=("problem: memoryMb\n", status))
    assert files["head-status"] == f"{status}\n".encode()
    assert b"+problem: memoryMb\n" in files["plan.diff"]
    fail = run_step(
        step(plan, "head", "Fail when the pull request's check fails"), tmp_path / "head"
    )
    assert (fail.returncode != 0) is (status != 0)


def test_a_base_that_cannot_be_planned_plans_as_empty(plan, stand_ins, tmp_path):
    files = run_plan(plan, tmp_path, stand_ins, base=("", 2), head=("a\n", 0))
    assert files["base-status"] == b"2\n" and files["base.txt"] == b""
    assert files["plan.diff"].endswith(b"@@ -0,0 +1 @@\n+a\n")


def rewrite_base(diff_workspace: Path) -> None:
    (diff_workspace / "base-plan" / "base.txt").write_text("a\nc\n")


@pytest.mark.parametrize(
    ("tamper", "context"),
    [
        (rewrite_base, {}),
        (None, {"steps__base__outcome": "failure"}),
        (None, {"needs__base__outputs__sums": ""}),
    ],
    ids=["rewritten to match the pull request's", "not downloaded", "no digests"],
)
def test_a_base_plan_its_job_did_not_make_is_not_used(plan, stand_ins, tmp_path, tamper, context):
    files = run_plan(plan, tmp_path, stand_ins, tamper=tamper, **context)
    assert files["base.txt"] == b"" and files["base-status"] == b"1\n"
    assert files["base.err"] == b"# the base's plan is missing, or not the one its job made\n"
    # Not "No change": the whole of the pull request's plan shows as added.
    assert files["plan.diff"].endswith(b"+a\n+c\n")


def head_file(name: str, content: bytes | None) -> Tamper:
    def tamper(diff_workspace: Path) -> None:
        path = diff_workspace / "head-plan" / name
        path.unlink()
        if content is not None:
            path.write_bytes(content)

    return tamper


def link_to_base_plan(diff_workspace: Path) -> None:
    # The base's own plan, so that following the link would make the diff empty.
    (diff_workspace / "head-plan" / "head.txt").unlink()
    (diff_workspace / "head-plan" / "head.txt").symlink_to(
        diff_workspace / "base-plan" / "base.txt"
    )


def status_directory(diff_workspace: Path) -> None:
    head_file("head-status", None)(diff_workspace)
    (diff_workspace / "head-plan" / "head-status").mkdir()


MIB = 1024 * 1024
HOSTILE_HEADS = {
    "a link to the base's plan": (link_to_base_plan, {}, "head.txt is not a regular file"),
    "a plan over 1 MiB": (head_file("head.txt", b"x" * (MIB + 1)), {}, "head.txt is over"),
    "errors over 1 MiB": (head_file("head.err", b"x" * (MIB + 1)), {}, "head.err is over"),
    "no status": (head_file("head-status", None), {}, "head-status is not a regular file"),
    "a directory for a status": (status_directory, {}, "head-status is not a regular file"),
    "a status that is a command": (
        head_file("head-status", b"0;id\n"),
        {},
        "head-status is not an exit status",
    ),
    "no artifact": (None, {"steps__head__outcome": "failure"}, "head-plan is missing"),
}


@pytest.mark.parametrize(
    ("tamper", "context", "problem"), HOSTILE_HEADS.values(), ids=HOSTILE_HEADS
)
def test_a_pull_request_plan_that_is_not_bounded_text_is_refused(
    plan, stand_ins, tmp_path, tamper, context, problem
):
    files = run_plan(plan, tmp_path, stand_ins, head=("a\nb\n", 0), tamper=tamper, **context)
    assert files["head-status"] == b"1\n"
    (line,) = files["head.txt"].decode().splitlines()
    assert line.startswith("# the pull request's plan could not be read: ") and problem in line
    assert files["plan.diff"] != b""


def test_the_pull_requests_text_is_copied_never_run(plan, stand_ins, tmp_path):
    text = "a\n$(touch ran-1)\n`touch ran-2`\n'; touch ran-3; '\n\"$(touch ran-4)\"\n"
    files = run_plan(plan, tmp_path, stand_ins, head=(text, 0))
    assert files["head.txt"] == text.encode()
    assert not list(tmp_path.rglob("ran-*"))


@pytest.fixture(scope="module")
def planned(plan, stand_ins, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Both trees planned once, for the examples below to copy."""
    runners = tmp_path_factory.mktemp("planned")
    return runners, plan_trees(plan, runners, stand_ins, ("a\n", 0), ("a\n", 0))


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    status=st.binary(max_size=8)
    | st.from_regex(rb"\A[0-9]{1,4}\n{0,5}\Z")
    | st.sampled_from([b"0", b"0\n", b"000\n", b"0\x00", b"\x000\n", b"0\n\x00", b"-0\n"])
)
def test_the_pull_requests_status_is_a_number_or_a_failure(plan, planned, status):
    """Only up to three digits (then newlines, as `echo` writes) are a status; anything else
    is a failure, so no text passes as a check that passed."""
    runners, outputs = planned
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "runners"
        shutil.copytree(runners / "diff", copy / "diff", symlinks=True)
        (copy / "diff" / "head-plan" / "head-status").write_bytes(status)
        files = diff_plans(plan, copy, outputs)
    plain = len(status) <= 8 and re.fullmatch(rb"[0-9]{1,3}\n*", status)
    expected = int(status.rstrip(b"\n")) if plain else 1
    assert files["head-status"] == f"{expected}\n".encode()


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
