"""The deploy guide (docs/deploy.md) agrees with the program: the steps a clean account needs are
there, the figures it and the configuration reference quote are the program's own, and no command
or message the documents give puts a secret on a command line (where the shell's history and `ps`
keep it)."""

from __future__ import annotations

import json
import re

import pytest

from iris_infra.apps.iris.config import StackConfig
from iris_infra.config.checks import MAX_CONCURRENCY
from iris_infra.config.errors import ConfigError
from stack_check.deployer_policy import DEFAULT_STATE_BUCKET
from tests.docs import doc_section, doc_text, documents
from tests.infra.conftest import PROJECT_DIR
from tests.infra.stack_files import PlaintextSecretError, read_stack_settings

DEPLOY = doc_text("docs/deploy.md")
# The guide's prose as one line, so a phrase holds whatever the wrapping.
DEPLOY_PROSE = " ".join(DEPLOY.split())
IRIS_CONFIG = doc_section("docs/configuration.md", "## IRIS stack config")
SECRET_SETTER = "pulumi config set --secret"


def command_line_secrets(text: str) -> list[str]:
    """Every `pulumi config set --secret` in `text` that gives a value after the key (a
    `--stack <name>` is fine; the value belongs to the prompt or standard input)."""
    offending = []
    for rest in re.findall(rf"{re.escape(SECRET_SETTER)}(.*)", text):
        words = re.split(r"[`#|]", rest, maxsplit=1)[0].split()
        if "--stack" in words:
            at = words.index("--stack")
            del words[at : at + 2]
        if len(words) > 1:
            offending.append(rest)
    return offending


def test_the_checker_sees_a_value_on_the_command_line():
    assert command_line_secrets("pulumi config set --secret openaiApiKey sk-123 --stack dev")
    assert command_line_secrets('pulumi config set --secret apiKeys "$(openssl rand -hex 24)"')
    assert not command_line_secrets("pulumi config set --secret openaiApiKey --stack prod")
    assert not command_line_secrets("`pulumi config set --secret` and `pulumi up`")


@pytest.mark.parametrize("document", documents(), ids=lambda path: path.name)
def test_no_documented_command_puts_a_secret_on_the_command_line(document):
    assert command_line_secrets(document.read_text(encoding="utf-8")) == []


def test_the_deploy_guide_sets_secrets_at_the_prompt():
    assert SECRET_SETTER in DEPLOY


@pytest.mark.parametrize(
    "pulumi_file",
    [
        "Pulumi.yaml",
        "Pulumi.dev.yaml",
        "Pulumi.prod.yaml",
        "spendsense/Pulumi.yaml",
        "spendsense/Pulumi.dev.yaml",
    ],
)
def test_no_pulumi_file_comment_puts_a_secret_on_the_command_line(pulumi_file):
    text = (PROJECT_DIR / pulumi_file).read_text(encoding="utf-8")
    assert command_line_secrets(text) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_message_of_the_program_suggests_a_secret_on_the_command_line(stack):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_raw(stack, {})
    warnings = StackConfig.from_raw(stack, {"openaiApiKey": "sk-x"}).warnings()
    messages = [*caught.value.problems, *warnings]
    assert any(SECRET_SETTER in message for message in messages)
    assert command_line_secrets("\n".join(messages)) == []


def test_a_plaintext_secret_in_a_stack_file_is_refused_with_a_prompting_command(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: iris-infra\n", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  iris-infra:openaiApiKey: sk-in-plain-text\n", encoding="utf-8"
    )
    with pytest.raises(PlaintextSecretError) as caught:
        read_stack_settings("dev", tmp_path)
    assert command_line_secrets(str(caught.value)) == []


@pytest.mark.parametrize(
    "step",
    [
        "make boundary-policy STACK=$STACK > boundary.json",  # each stack's boundary, first
        "make deployer-policy STACK=$STACK > deployer.json",  # and its deploy role's policy
        "create-open-id-connect-provider",
        "put-bucket-versioning",  # the state backend: a versioned bucket, or Pulumi Cloud
        "pulumi login",
        "read -rs PULUMI_CONFIG_PASSPHRASE",
        "each stack its own passphrase",
        f"{SECRET_SETTER} openaiApiKey    # prompts",
        "git add Pulumi.dev.yaml Pulumi.prod.yaml",  # CI reads the secrets from the stack files
        "AWS_REGION",
        "make check STACK=dev",
        "pulumi preview",
        "pulumi up",
        "make smoke STACK=dev",
        # pulumi-docker connects to the daemon on a preview too, not only on up (pitfall 44).
        "Docker, with its daemon running, for every `pulumi preview` and `pulumi up`",
    ],
)
def test_the_first_deploy_has_every_step(step):
    assert " ".join(step.split()) in DEPLOY_PROSE


def test_the_minimum_pulumi_cli_is_the_sdk_floor():
    requirements = (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8")
    (floor,) = re.findall(r"^pulumi>=([0-9.]+)", requirements, re.MULTILINE)
    assert f"**{floor} or newer**" in DEPLOY


def test_spendsense_stacks_get_their_own_boundary_and_deploy_role():
    spendsense = doc_section("docs/deploy.md", "## SpendSense")
    assert "make boundary-policy PROGRAM=spendsense STACK=dev" in spendsense
    assert "make deployer-policy PROGRAM=spendsense STACK=dev" in spendsense


def test_the_state_bucket_is_the_one_the_deploy_roles_reach():
    assert DEFAULT_STATE_BUCKET == "iris-pulumi-state-${aws:PrincipalAccount}"
    assert 'BUCKET="iris-pulumi-state-$ACCOUNT"' in DEPLOY


def test_each_deploy_role_trusts_its_own_environment_and_nothing_else():
    (trust,) = re.findall(r"cat > trust.json <<JSON\n(.*?)\nJSON", DEPLOY, re.DOTALL)
    document = json.loads(trust.replace("$ACCOUNT", "123456789012"))
    (statement,) = document["Statement"]
    condition = statement["Condition"]
    assert set(condition) == {"StringEquals"}
    assert condition["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:<owner>/<repo>:environment:$STACK",
    }


@pytest.mark.parametrize(
    ("key", "low"), [("reservedConcurrency", 1), ("provisionedConcurrency", 0)]
)
def test_the_config_table_gives_the_concurrency_limit_the_program_enforces(key, low):
    (row,) = [line for line in IRIS_CONFIG.splitlines() if line.startswith(f"| `{key}` |")]
    assert f"| {low}–{MAX_CONCURRENCY}" in row
    assert "value + 100" in row
