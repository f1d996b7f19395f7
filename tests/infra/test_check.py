"""`make check`: stack files validated offline as `pulumi up` would see them, every problem on a
line of its own, and for a valid stack a plan (resources, inputs, outputs) that is the same on
every run, shows a changed input in a diff and never shows a secret."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spendsense.scripts import make_db
from stack_check.check import PROGRAMS, StackCheck, check_stack, main, render
from stack_check.files import read_engine_config
from stack_check.plan import Plan, PlannedResource
from tests.infra.conftest import PROJECT_DIR

MAKE = shutil.which("make")
# A stack file's encrypted value and the plain value a placeholder stands for: neither may
# appear in a plan.
CIPHERTEXT_CANARY = "v1:CANARY-ciphertext-7d41b2"
PLAIN_CANARY = "sk-CANARY-plain-93c0ae"
SECURE_KEY = f"  iris-infra:openaiApiKey:\n    secure: {CIPHERTEXT_CANARY}\n"
GOOD_STACK = f"config:\n  aws:region: us-east-1\n{SECURE_KEY}"


def project(directory: Path, stack_text: str, stack: str = "dev") -> Path:
    """A project in `directory`: this project's Pulumi.yaml and program, one stack file."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, directory / name)
    (directory / f"Pulumi.{stack}.yaml").write_text(stack_text, encoding="utf-8")
    return directory


def plan_text(directory: Path, stack_text: str, **options) -> str:
    check = check_stack("dev", project(directory, stack_text), **options)
    assert not check.problems, check.problems
    return render(check)


def headers(text: str) -> set[str]:
    """The `type name` line of every planned resource."""
    return {line for line in text.splitlines() if line.startswith(("aws:", "docker:", "iris:"))}


def block(text: str, header: str) -> list[str]:
    """The lines of one resource's entry in a plan."""
    lines = text.splitlines()
    start = lines.index(header)
    end = lines.index("", start)
    return lines[start:end]


def test_a_good_stack_plans_the_function_alias_api_routes_integration_and_permission():
    text = render(check_stack("dev", placeholder_secrets=True))
    assert text.startswith("# stack dev (Pulumi.dev.yaml)\n")
    assert "# openaiApiKey is not set: planned with a placeholder" in text
    assert {
        "iris:index:Function iris-api-function",
        "aws:lambda/function:Function iris-api-function-function",
        "aws:lambda/alias:Alias iris-api-release-alias",
        "aws:apigatewayv2/api:Api iris-http-api-api",
        "aws:apigatewayv2/stage:Stage iris-http-api-stage",
        "aws:apigatewayv2/integration:Integration iris-http-api-integration",
        "aws:apigatewayv2/route:Route iris-http-api-route-post-api-iris-analyze",
        "aws:apigatewayv2/route:Route iris-http-api-route-get-health",
        "aws:lambda/permission:Permission iris-http-api-invoke-permission",
        "aws:ssm/parameter:Parameter iris-secrets-openai-api-key",
    } <= headers(text)
    function = block(text, "aws:lambda/function:Function iris-api-function-function")
    assert "  parent: iris-api-function" in function
    assert '  name: "iris-dev"' in function and "  memorySize: 1024" in function
    route = block(text, "aws:apigatewayv2/route:Route iris-http-api-route-post-api-iris-analyze")
    assert '  routeKey: "POST /api/iris/analyze"' in route
    permission = block(text, "aws:lambda/permission:Permission iris-http-api-invoke-permission")
    assert '  qualifier: "live"' in permission
    outputs = text.split("\noutputs\n")[1].splitlines()
    names = [line.split(":")[0].strip() for line in outputs]
    assert names == sorted(names)
    assert set(names) >= {
        *("analyzeUrl", "apiUrl", "corsOrigins", "dashboardUrl", "executeApiUrl"),
        *("functionName", "healthUrl", "imageUri", "liveVersion"),
    }
    assert '  functionName: "iris-dev"' in outputs


def test_json_policy_documents_are_pretty_with_sorted_keys():
    text = render(check_stack("dev", placeholder_secrets=True))
    policy = block(text, "aws:iam/rolePolicy:RolePolicy iris-api-function-policy")
    assert "  policy: (JSON)" in policy
    assert '          "Sid": "ReadOwnParameters"' in policy
    assert '            "ssm:GetParameter"' in policy


def test_a_secure_value_counts_as_set_and_neither_it_nor_the_secret_reaches_the_plan(tmp_path):
    stack_text = GOOD_STACK + f"  iris-infra:apiKeys:\n    secure: {CIPHERTEXT_CANARY}-keys\n"
    check = check_stack("dev", project(tmp_path, stack_text), secret_placeholder=PLAIN_CANARY)
    assert check.problems == () and check.placeholders == ()
    assert check.plan is not None
    parameters = [r for r in check.plan.resources if r.type == "aws:ssm/parameter:Parameter"]
    # The scan below would prove nothing if the secret never reached the program.
    assert all(PLAIN_CANARY in str(r.inputs["value"]) for r in parameters)
    text = render(check)
    assert PLAIN_CANARY not in text and CIPHERTEXT_CANARY not in text
    assert "aws:lambda/function:Function iris-authorizer-function-function" in headers(text)
    for name in ("iris-secrets-openai-api-key", "iris-secrets-api-keys"):
        assert "  value: [secret]" in block(text, f"aws:ssm/parameter:Parameter {name}")


def test_secret_outputs_are_shown_as_secret():
    resource = PlannedResource("aws:x/y:Y", "y", None, {"token": "plain"})
    plan = Plan("dev", (resource,), {"key": ("sk-hidden", True), "url": ("https://x", False)})
    text = render(StackCheck("dev", (), plan))
    assert "  key: [secret]" in text and '  url: "https://x"' in text
    assert "sk-hidden" not in text


def test_the_plan_is_the_same_on_every_run():
    first = render(check_stack("prod", placeholder_secrets=True))
    render(check_stack("dev", placeholder_secrets=True))
    assert render(check_stack("prod", placeholder_secrets=True)) == first


def test_a_changed_input_shows_in_a_diff_of_two_plans(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = plan_text(tmp_path / "a", GOOD_STACK)
    after = plan_text(tmp_path / "b", GOOD_STACK + "  iris-infra:memoryMb: 2048\n")
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-  memorySize: 1024", "+  memorySize: 2048"]


# Each bad value alone, and what its problem line says (key, value, what is allowed).
BAD_VALUES = {
    "memoryMb": ("99999", "memoryMb=99999 is out of range; allowed 128-10240"),
    "timeoutSeconds": ("45", "timeoutSeconds=45 is above 30"),
    "architecture": ("sparc", "architecture='sparc' is not allowed; use one of arm64, x86_64"),
    "logRetentionDays": ("8", "logRetentionDays=8 is not a CloudWatch Logs retention; allowed"),
    "openaiMaxTokens": ("lots", "openaiMaxTokens='lots' is not a whole number"),
    "corsOrigins": ('["https://app.example.com/"]', "corsOrigins entry 'https://app.example.com/'"),
    "memorySize": ("2048", "memorySize is not a setting of this stack; did you mean iris-infra:"),
}


def bad_stack(*keys: str) -> str:
    return GOOD_STACK + "".join(f"  iris-infra:{key}: '{BAD_VALUES[key][0]}'\n" for key in keys)


@pytest.mark.parametrize("key", BAD_VALUES)
def test_each_bad_key_alone_is_one_problem_line(tmp_path, key):
    check = check_stack("dev", project(tmp_path, bad_stack(key)))
    (problem,) = check.problems
    assert problem.startswith(f"Pulumi.dev.yaml: {BAD_VALUES[key][1]}"), problem
    assert check.plan is None


def test_every_bad_key_at_once_is_reported_one_line_each_with_a_failing_exit(tmp_path, capsys):
    project(tmp_path, bad_stack(*BAD_VALUES))
    assert main(["--stack", "dev", "--project-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[:2] == ["# stack dev (Pulumi.dev.yaml)", "7 problem(s); nothing planned:"]
    assert len(lines) == 2 + len(BAD_VALUES)
    for key, (_, message) in BAD_VALUES.items():
        assert sum(f"Pulumi.dev.yaml: {message}" in line for line in lines) == 1, key
    assert "problems in dev" in err
    assert "aws:lambda" not in out


def test_a_stack_without_its_secret_reports_it_and_the_flag_plans_it_anyway(capsys):
    assert main(["--stack", "dev"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [
        "1 problem(s); nothing planned:",
        "Pulumi.dev.yaml: openaiApiKey is not set; set it with "
        "`pulumi config set --secret openaiApiKey --stack dev`, which asks for the key, "
        "and commit Pulumi.dev.yaml: CI reads the secret from it",
    ]
    assert main(["--stack", "dev", "--placeholder-secrets"]) == 0
    assert "aws:lambda/alias:Alias iris-api-release-alias" in capsys.readouterr().out


def test_every_stack_file_is_checked_without_a_stack(capsys):
    assert main(["--placeholder-secrets"]) == 0
    stacks = [line for line in capsys.readouterr().out.splitlines() if line.startswith("# stack")]
    assert stacks == ["# stack dev (Pulumi.dev.yaml)", "# stack prod (Pulumi.prod.yaml)"]


def test_yaml_that_does_not_parse_is_a_problem_that_shows_no_content(tmp_path):
    stack_text = f"config:\n  aws:region: us-east-1\n  iris-infra:memoryMb: [{PLAIN_CANARY}\n"
    (problem,) = check_stack("dev", project(tmp_path, stack_text)).problems
    assert problem.startswith("Pulumi.dev.yaml: not valid YAML at line "), problem
    assert PLAIN_CANARY not in problem


@pytest.mark.parametrize(
    ("stack_text", "expected"),
    [
        ("- just\n- a list\n", "Pulumi.dev.yaml: is not a YAML mapping of settings"),
        ("config: [1, 2]\n", "Pulumi.dev.yaml: its config block is not a mapping"),
        (
            GOOD_STACK + "  memoryMb: 2048\n",
            "Pulumi.dev.yaml: 'memoryMb' is not a configuration key; keys are "
            "<namespace>:<name>, e.g. iris-infra:memoryMb",
        ),
        (
            "config:\n  aws:region: us-east-1\n  iris-infra:openaiApiKey: " + PLAIN_CANARY + "\n",
            "Pulumi.dev.yaml: openaiApiKey is in plain text: remove it",
        ),
        (
            GOOD_STACK + f"  iris-infra:alarmEmail:\n    secure: {CIPHERTEXT_CANARY}\n",
            "Pulumi.dev.yaml: alarmEmail is encrypted, but only openaiApiKey, apiKeys are "
            "secrets of this project: set it in plain text",
        ),
    ],
    ids=[
        "not-a-mapping",
        "config-not-a-mapping",
        "no-namespace",
        "plaintext-secret",
        "encrypted-plain-setting",
    ],
)
def test_what_the_cli_would_refuse_is_a_problem(tmp_path, stack_text, expected):
    problems = check_stack("dev", project(tmp_path, stack_text)).problems
    assert [problem for problem in problems if problem.startswith(expected)] == list(problems)
    assert not any(PLAIN_CANARY in p or CIPHERTEXT_CANARY in p for p in problems)


def test_a_missing_stack_file_is_a_problem(tmp_path):
    project(tmp_path, GOOD_STACK)
    assert check_stack("staging", tmp_path).problems == ("Pulumi.staging.yaml: does not exist",)


def test_a_key_declared_without_a_default_is_required(tmp_path):
    project(tmp_path, GOOD_STACK)
    with (tmp_path / "Pulumi.yaml").open("a") as file:
        file.write("  ownerTeam:\n    type: string\n")
    problems = check_stack("dev", tmp_path).problems
    assert (
        "Pulumi.dev.yaml: ownerTeam is not set, and Pulumi.yaml declares it without a "
        in (problems[0])
    )


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_check_runs_with_no_pulumi_cli_no_credentials_and_no_network(tmp_path):
    """The README's command as a subprocess: PATH holds no `pulumi`, no AWS or Pulumi variable
    is set, and every proxy points at a closed port. The installed .venv is taken as is."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "PULUMI_")) and "PROXY" not in name.upper()
    }
    closed = "http://127.0.0.1:9"
    env.update(PATH=str(bin_dir), HTTP_PROXY=closed, HTTPS_PROXY=closed, NO_PROXY="")
    assert shutil.which("pulumi", path=env["PATH"]) is None

    def make_check(*variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(MAKE),
                "--no-print-directory",
                "-o",
                ".venv/.check-installed",
                "check",
                *variables,
            ],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    planned = make_check("STACK=dev", "PLACEHOLDER_SECRETS=1")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout == render(check_stack("dev", placeholder_secrets=True))
    refused = make_check()
    assert refused.returncode != 0
    assert [line for line in refused.stdout.splitlines() if "openaiApiKey is not set" in line] == [
        "Pulumi.dev.yaml: openaiApiKey is not set; set it with "
        "`pulumi config set --secret openaiApiKey --stack dev`, which asks for the key, "
        "and commit Pulumi.dev.yaml: CI reads the secret from it",
        "Pulumi.prod.yaml: openaiApiKey is not set; set it with "
        "`pulumi config set --secret openaiApiKey --stack prod`, which asks for the key, "
        "and commit Pulumi.prod.yaml: CI reads the secret from it",
    ]


def test_project_level_values_reach_the_program_and_the_stack_file_overrides_them(tmp_path):
    project(tmp_path, f"config:\n{SECURE_KEY}")
    with (tmp_path / "Pulumi.yaml").open("a") as file:
        file.write("  aws:region:\n    value: eu-west-1\n")
    text = render(check_stack("dev", tmp_path))
    assert "arn:aws:lambda:eu-west-1:123456789012:function:iris-dev:live" in text
    (tmp_path / "Pulumi.dev.yaml").write_text(GOOD_STACK, encoding="utf-8")
    assert "eu-west-1" not in render(check_stack("dev", tmp_path))


SPENDSENSE = PROGRAMS["spendsense"]


def spendsense_project(directory: Path, database_file: str) -> Path:
    """SpendSense's Pulumi.yaml and program in `directory`, with a dev stack file naming
    `database_file`."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(SPENDSENSE.directory / name, directory / name)
    (directory / "Pulumi.dev.yaml").write_text(
        f"config:\n  aws:region: us-east-1\n  spendsense-infra:databaseFile: {database_file}\n",
        encoding="utf-8",
    )
    return directory


def test_a_spendsense_stack_is_checked_and_planned_with_its_own_project(tmp_path):
    """`make check PROGRAM=spendsense`: the same check on SpendSense's files, its keys in its
    own namespace, its plan with the API's outputs."""
    database = tmp_path / "spendsense.db"
    make_db.write_database(database)
    program_dir = tmp_path / "spendsense"
    program_dir.mkdir()

    check = check_stack("dev", spendsense_project(program_dir, str(database)), program=SPENDSENSE)

    assert not check.problems, check.problems
    text = render(check)
    assert "aws:s3/bucket:Bucket spendsense-data-bucket" in text
    assert sorted(check.plan.outputs) == sorted(
        ["apiUrl", "healthUrl", "functionNames", "databaseBucket", "databaseKey", "databaseVersion"]
    )
    assert "iris:index:Function spendsense-net-worth-function" in headers(text)


def test_a_spendsense_stack_without_its_database_is_one_problem_naming_the_fix(tmp_path, capsys):
    program_dir = tmp_path / "spendsense"
    program_dir.mkdir()
    spendsense_project(program_dir, "data/no-such-database.db")

    status = main(["--program", "spendsense", "--project-dir", str(program_dir)])

    assert status == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "databaseFile" in line]
    assert len(problems) == 1 and "make spendsense-db" in problems[0]


def test_a_misspelt_spendsense_namespace_or_key_is_named_with_the_key_it_meant(tmp_path):
    """The same did-you-mean as IRIS's: it is the shared ConfigKeys that reports it."""
    database = tmp_path / "spendsense.db"
    make_db.write_database(database)
    program_dir = tmp_path / "spendsense"
    program_dir.mkdir()
    spendsense_project(program_dir, str(database))
    with (program_dir / "Pulumi.dev.yaml").open("a") as file:
        file.write("  spendsense-infr:apiMemoryMb: 4096\n  spendsense-infra:insightMemoryMB: 512\n")

    problems = check_stack("dev", program_dir, program=SPENDSENSE).problems

    assert [problem.split("?")[0] for problem in problems] == [
        "Pulumi.dev.yaml: insightMemoryMB is not a setting of this stack; "
        "did you mean spendsense-infra:insightMemoryMb",
        "Pulumi.dev.yaml: spendsense-infr:apiMemoryMb is in no namespace this program reads "
        "(spendsense-infra, aws, docker, pulumi): did you mean spendsense-infra:apiMemoryMb",
    ]


@pytest.mark.parametrize(
    ("program", "stack"),
    [
        (name, path.name.removeprefix("Pulumi.").removesuffix(".yaml"))
        for name, program in sorted(PROGRAMS.items())
        for path in sorted(program.directory.glob("Pulumi.*.yaml"))
    ],
)
def test_every_committed_stack_file_sets_only_keys_its_program_reads(program, stack):
    """Under `pulumi up` the program reads its keys by name and never sees a misspelt one; this
    test (which CI's deploy jobs wait for) refuses one in a committed stack file beforehand."""
    engine = read_engine_config(stack, PROGRAMS[program].directory)

    assert PROGRAMS[program].unread_key_problems(engine.values) == []
    misspelt = {**engine.values, f"{PROGRAMS[program].project}:memoryMB": "2048"}
    assert PROGRAMS[program].unread_key_problems(misspelt)


def spendsense_copy(directory: Path) -> Path:
    """What `make check PROGRAM=spendsense` and the sample database's rule read: the Makefile,
    SpendSense's Pulumi files, the script and the schema it takes from the task root."""
    shutil.copy(PROJECT_DIR / "Makefile", directory / "Makefile")
    program = directory / "spendsense"
    shutil.copytree(PROJECT_DIR / "spendsense" / "scripts", program / "scripts")
    shutil.copytree(
        PROJECT_DIR / "spendsense" / "backend" / "src" / "spendsense_core",
        program / "backend" / "src" / "spendsense_core",
    )
    for path in (PROJECT_DIR / "spendsense").glob("Pulumi*.yaml"):
        shutil.copy(path, program / path.name)
    # A stack that uploads a file of its own, not the sample.
    (program / "Pulumi.own.yaml").write_text(
        "config:\n  spendsense-infra:databaseFile: /srv/data/finances.db\n", encoding="utf-8"
    )
    return directory


def run_make(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAKE), "--no-print-directory", "-o", ".venv/.check-installed", *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_check_of_spendsense_writes_the_sample_database_first_when_missing(tmp_path):
    """As make run-spendsense does: a fresh clone's `make check PROGRAM=spendsense` plans the
    dev stack instead of failing on a missing databaseFile; a stack with its own file, or
    IRIS's check, does not write it."""
    spendsense_copy(tmp_path)

    def planned(*variables: str) -> list[str]:
        return run_make(tmp_path, "-n", "check", *variables).stdout.splitlines()

    commands = planned("PROGRAM=spendsense")
    assert len(commands) == 2
    assert commands[0].endswith(
        "spendsense/scripts/make_db.py --out spendsense/data/spendsense.db >&2"
    )
    assert "-m stack_check --program 'spendsense'" in commands[1]
    assert len(planned("PROGRAM=spendsense", "STACK=dev")) == 2
    assert len(planned("PROGRAM=spendsense", "STACK=own")) == 1
    assert len(planned()) == 1
    (tmp_path / "spendsense" / "data").mkdir()
    (tmp_path / "spendsense" / "data" / "spendsense.db").write_bytes(b"")
    assert len(planned("PROGRAM=spendsense")) == 1


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_the_sample_database_rule_prints_on_stderr_only(tmp_path):
    """`make check PROGRAM=spendsense > plan.txt` holds the plan only."""
    spendsense_copy(tmp_path)

    made = run_make(tmp_path, f"PYTHON={sys.executable}", "spendsense/data/spendsense.db")

    assert made.stdout == ""
    assert "wrote spendsense/data/spendsense.db" in made.stderr
    database = tmp_path / "spendsense" / "data" / "spendsense.db"
    assert database.read_bytes().startswith(b"SQLite format 3\x00")
