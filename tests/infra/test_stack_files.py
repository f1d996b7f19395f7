"""The committed Pulumi files hold no secret in plain text, and the tests' reading of a stack's
settings refuses one (pitfall 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.stack_files import PlaintextSecretError, plaintext_secrets, read_stack_settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
PULUMI_FILES = sorted(PROJECT_DIR.glob("Pulumi*.yaml"))


def write_files(directory: Path, stack_text: str, project_dir: Path = PROJECT_DIR) -> None:
    (directory / "Pulumi.yaml").write_text((project_dir / "Pulumi.yaml").read_text())
    (directory / "Pulumi.dev.yaml").write_text(stack_text)


def test_the_project_and_both_stacks_are_checked():
    assert {path.name for path in PULUMI_FILES} >= {
        "Pulumi.yaml",
        "Pulumi.dev.yaml",
        "Pulumi.prod.yaml",
    }


@pytest.mark.parametrize("path", PULUMI_FILES, ids=lambda path: path.name)
def test_no_committed_pulumi_file_holds_a_plaintext_secret(path):
    assert plaintext_secrets(path) == []


def test_stack_settings_leave_out_encrypted_values(tmp_path):
    write_files(
        tmp_path,
        "config:\n"
        "  aws:region: us-east-1\n"
        "  iris-infra:openaiApiKey:\n    secure: v1:abc\n"
        "  iris-infra:memoryMb: 2048\n",
    )
    settings = read_stack_settings("dev", tmp_path)
    assert settings["memoryMb"] == 2048
    assert "openaiApiKey" not in settings and "region" not in settings
    assert settings["timeoutSeconds"] == 30  # the project default


@pytest.mark.parametrize(
    "entry",
    [
        "  iris-infra:openaiApiKey: sk-plain-text\n",
        "  iris-infra:apiKeys: k1,k2\n",
        "  iris-infra:apiKeys:\n    - k1\n    - k2\n",
        "  iris-infra:openaiApiKey:\n    secure: v1:abc\n    value: sk-plain-text\n",
    ],
    ids=["openai-key", "api-keys", "api-keys-list", "secure-beside-a-value"],
)
def test_a_plaintext_secret_in_a_stack_file_is_refused(tmp_path, entry):
    write_files(tmp_path, "config:\n  aws:region: us-east-1\n" + entry)
    with pytest.raises(PlaintextSecretError) as caught:
        read_stack_settings("dev", tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "Pulumi.dev.yaml") in message
    assert "pulumi config set --secret" in message
    assert "sk-plain-text" not in message and "k1" not in message


@pytest.mark.parametrize(
    ("config", "leaked"),
    [
        ("  openaiApiKey:\n    type: string\n    default: sk-plain-text\n", ["openaiApiKey"]),
        ("  iris-infra:apiKeys: k1\n", ["apiKeys"]),
        ("  openaiApiKey:\n    type: string\n    secret: true\n", []),
        ("  other-project:apiKeys: k1\n", []),
    ],
    ids=["declared-default", "namespaced-value", "declared-without-value", "other-namespace"],
)
def test_a_project_file_default_counts_as_a_plaintext_secret(tmp_path, config, leaked):
    path = tmp_path / "Pulumi.yaml"
    path.write_text(f"name: iris-infra\nconfig:\n{config}")
    assert plaintext_secrets(path) == leaked
