"""StackConfig: the committed stack files validate, every bad setting is refused with its key,
value and what is allowed, and the project file's defaults are the dataclass's defaults."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pulumi
import pytest
import yaml

from iris_infra.apps.iris.config import (
    CONFIG_KEYS,
    MAX_DAILY_TOKEN_BUDGET,
    MAX_FAIL_OPEN_CALLS_PER_CONTAINER,
    NOT_KEYS,
    OPENAI_MARGIN_SECONDS,
    SECRET_KEYS,
    SECRET_MAX_AGE_RANGE_SECONDS,
    StackConfig,
)
from iris_infra.config.checks import (
    API_GATEWAY_TIMEOUT_SECONDS,
    IMAGE_URI_FORM,
    LOG_RETENTION_DAYS,
    MIN_TIMEOUT_SECONDS,
)
from iris_infra.config.errors import ConfigError
from stack_check.check import check_stack
from tests.infra.conftest import PROJECT_DIR
from tests.infra.stack_files import read_stack_settings

VALID = {"openaiApiKey": "sk-test"}
KEY_1 = "iris-key-one-0c7f3a9e5b21"
KEY_2 = "iris-key-two-84d1e6b0f3a7"
KEYS = f"{KEY_1},{KEY_2}"
# Optional keys Pulumi.yaml cannot declare: a declared key without a default is required.
UNDECLARED_KEYS = {
    *SECRET_KEYS,
    "reservedConcurrency",
    "imageUri",
    "alarmEmail",
    "customDomain",
    "hostedZoneId",
    "certificateArn",
}


def refuse(stack: str, raw: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_raw(stack, {**VALID, **raw})
    return caught.value


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stack_files_validate(stack, stack_config):
    config = stack_config(stack)
    assert config.stack == stack
    assert config.is_production is (stack == "prod")


def test_stack_files_set_the_cost_guard_rails(project_dir):
    dev, prod = (read_stack_settings(stack, project_dir) for stack in ("dev", "prod"))
    assert "reservedConcurrency" not in dev
    assert prod["reservedConcurrency"] >= 1
    for settings in (dev, prod):
        assert {"throttleBurstLimit", "throttleRateLimit", "corsOrigins"} <= settings.keys()
    assert prod["throttleRateLimit"] >= dev["throttleRateLimit"]


def test_project_file_defaults_are_the_dataclass_defaults(project_dir):
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    declared = project["config"]
    keyed_fields = [f for f in dataclasses.fields(StackConfig) if f.name not in NOT_KEYS]
    defaults = {key: field.default for key, field in zip(CONFIG_KEYS, keyed_fields, strict=True)}
    assert set(declared) == set(CONFIG_KEYS) - UNDECLARED_KEYS
    for key, declaration in declared.items():
        assert declaration["description"].strip(), key
        assert declaration["type"] in {"string", "integer", "boolean", "array"}, key
        default = defaults[key]
        expected = list(default) if isinstance(default, tuple) else default
        assert declaration["default"] == expected, key
    for key in UNDECLARED_KEYS - set(SECRET_KEYS):
        assert defaults[key] is None, key


def test_the_project_file_states_the_accepted_timeouts(project_dir):
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    description = project["config"]["timeoutSeconds"]["description"]
    assert f"{MIN_TIMEOUT_SECONDS}-{API_GATEWAY_TIMEOUT_SECONDS}" in description


def test_project_file_runs_this_program_with_pip_and_the_venv(project_dir):
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    assert project["name"] == "iris-infra"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }


def test_raw_text_values_are_parsed_like_pulumi_hands_them_over():
    config = StackConfig.from_raw(
        "dev",
        {
            **VALID,
            "memoryMb": "2048",
            "corsOrigins": '["https://a.example.com", "http://localhost:3000"]',
            "reservedConcurrency": "5",
        },
    )
    assert config.memory_mb == 2048
    assert config.cors_origins == ("https://a.example.com", "http://localhost:3000")
    assert config.reserved_concurrency == 5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"memoryMb": 64}, "memoryMb=64 is out of range; allowed 128-10240"),
        ({"memoryMb": "lots"}, "memoryMb='lots' is not a whole number"),
        ({"timeoutSeconds": 45}, "timeoutSeconds=45 is above 30"),
        ({"timeoutSeconds": 0}, "timeoutSeconds=0 is out of range; allowed 1-30"),
        ({"timeoutSeconds": -5}, "timeoutSeconds=-5 is out of range; allowed 1-30"),
        ({"architecture": "arm"}, "architecture='arm' is not allowed; use one of arm64, x86_64"),
        ({"logRetentionDays": 10}, "logRetentionDays=10 is not a CloudWatch Logs retention"),
        ({"throttleBurstLimit": 0}, "throttleBurstLimit=0 is out of range; allowed 1-5000"),
        ({"throttleRateLimit": 20000}, "throttleRateLimit=20000 is out of range; allowed 1-10000"),
        ({"reservedConcurrency": 0}, "reservedConcurrency=0 is out of range; allowed 1-900"),
        ({"cacheTtlHours": 0}, "cacheTtlHours=0 is out of range; allowed 1-720"),
        ({"cacheTtlHours": 721}, "cacheTtlHours=721 is out of range; allowed 1-720"),
        (
            {"authorizerCacheTtlSeconds": 3601},
            "authorizerCacheTtlSeconds=3601 is out of range; allowed 0-3600",
        ),
        ({"warmupIntervalMinutes": 61}, "warmupIntervalMinutes=61 is out of range"),
        ({"secretMaxAgeSeconds": 5}, "secretMaxAgeSeconds=5 is out of range; allowed 10-3600"),
        (
            {"llmDailyTokenBudget": -1},
            "llmDailyTokenBudget=-1 is out of range; allowed 0-1000000000 (tokens per UTC day; "
            "0 = no cap)",
        ),
        ({"llmDailyTokenBudget": 10**10}, "llmDailyTokenBudget=10000000000 is out of range"),
        ({"llmDailyTokenBudget": "1e6"}, "llmDailyTokenBudget='1e6' is not a whole number"),
        (
            {"llmBudgetFailOpenCallsPerContainer": 101},
            "llmBudgetFailOpenCallsPerContainer=101 is out of range; allowed 0-100 (calls each "
            "container may make unreserved while the token counter fails",
        ),
        ({"llmBudgetFailOpenCallsPerContainer": -1}, "llmBudgetFailOpenCallsPerContainer=-1 is"),
        (
            {"llmBudgetFailOpenCallsPerContainer": "some"},
            "llmBudgetFailOpenCallsPerContainer='some' is not a whole number",
        ),
        ({"secretMaxAgeSeconds": 3601}, "secretMaxAgeSeconds=3601 is out of range; allowed 10-"),
        ({"secretMaxAgeSeconds": "soon"}, "secretMaxAgeSeconds='soon' is not a whole number"),
        ({"openaiMaxTokens": 0}, "openaiMaxTokens=0 is out of range; allowed 1-16384"),
        ({"openaiModel": " "}, "openaiModel is empty"),
        ({"corsOrigins": []}, "corsOrigins is empty"),
        ({"corsOrigins": ["https://app.example.com/"]}, "'https://app.example.com/' is not an"),
        ({"corsOrigins": ["https://app.example.com/ui"]}, "'https://app.example.com/ui' is not"),
        ({"corsOrigins": ["app.example.com"]}, "'app.example.com' is not an origin"),
        ({"corsOrigins": ["ftp://files.example.com"]}, "'ftp://files.example.com' is not an"),
        ({"corsOrigins": ["https://*"]}, "'https://*' is not an origin"),
        ({"corsOrigins": ["http://localhost:99999"]}, "'http://localhost:99999' is not an"),
        ({"corsOrigins": ["*", "https://a.example.com"]}, "mixes '*' with other origins"),
        ({"corsOrigins": 42}, "corsOrigins=42 is not a list of origins"),
        ({"memorySize": 512}, "memorySize is not a setting of this stack; did you mean iris-in"),
        ({"fooBar": 1}, "fooBar is not a setting of this stack; known keys: openaiApiKey, "),
    ],
)
def test_bad_settings_are_refused_with_key_value_and_allowed_values(raw, expected):
    error = refuse("dev", raw)
    assert any(expected in problem for problem in error.problems), error.problems
    assert error.stack == "dev"


def test_a_timeout_above_the_gateway_limit_says_why():
    (problem,) = refuse("dev", {"timeoutSeconds": 31}).problems
    assert "HTTP API integration cannot wait longer than 30 s" in problem
    assert "allowed 1-30" in problem


def test_log_retention_lists_cloudwatchs_values():
    (problem,) = refuse("dev", {"logRetentionDays": 2}).problems
    assert ", ".join(map(str, LOG_RETENTION_DAYS)) in problem


@pytest.mark.parametrize("stack", ["dev", "prod", "prodeu"])
def test_a_missing_openai_key_names_the_command_that_sets_it(stack):
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_raw(stack, {})
    assert caught.value.problems == (
        "openaiApiKey is not set; set it with "
        f"`pulumi config set --secret openaiApiKey --stack {stack}`, which asks for the key, "
        f"and commit Pulumi.{stack}.yaml: CI reads the secret from it",
    )


@pytest.mark.parametrize("stack", ["prod", "prodeu", "production"])
def test_a_wildcard_origin_is_refused_on_prod_stacks(stack):
    (problem,) = refuse(stack, {"corsOrigins": ["*"]}).problems
    assert "'*'" in problem and f"stack '{stack}'" in problem


@pytest.mark.parametrize("stack", ["dev", "staging", "preprod"])
def test_a_wildcard_origin_is_allowed_elsewhere(stack):
    assert StackConfig.from_raw(stack, {**VALID, "corsOrigins": ["*"]}).cors_origins == ("*",)


@pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:5173"])
def test_well_formed_origins_are_accepted(origin):
    assert StackConfig.from_raw("prod", {**VALID, "corsOrigins": [origin]}).cors_origins == (
        origin,
    )


def test_every_problem_is_reported_at_once():
    error = refuse(
        "prod",
        {"openaiApiKey": None, "memoryMb": 1, "corsOrigins": ["*"], "architecture": "sparc"},
    )
    assert len(error.problems) == 4
    message = str(error)
    for fragment in ("openaiApiKey", "memoryMb=1", "'*'", "architecture='sparc'"):
        assert fragment in message


def test_stack_names_that_cannot_name_aws_resources_are_refused():
    (problem,) = refuse("prod.eu", {}).problems
    assert "stack name 'prod.eu'" in problem


@pytest.mark.parametrize(
    ("timeout", "max_retries", "openai_timeout"),
    [
        (1, 0, 1),
        (2, 0, 1),
        (3, 0, 1),
        (4, 0, 2),
        (5, 0, 3),
        (7, 0, 5),
        (8, 1, 3),
        (11, 1, 4.5),
        (20, 1, 9),
        (30, 1, 14),
    ],
)
def test_the_openai_settings_follow_the_function_timeout(timeout, max_retries, openai_timeout):
    config = StackConfig.from_raw("dev", {**VALID, "timeoutSeconds": timeout})
    assert config.timeout_seconds == timeout
    assert (config.openai_max_retries, config.openai_timeout_seconds) == (
        max_retries,
        openai_timeout,
    )


@pytest.mark.parametrize("timeout", range(1, 31))
def test_every_timeout_the_gateway_allows_is_accepted(timeout):
    config = StackConfig.from_raw("dev", {**VALID, "timeoutSeconds": timeout})
    attempts = config.openai_max_retries + 1
    worst_case = attempts * config.openai_timeout_seconds + OPENAI_MARGIN_SECONDS
    # From 3 s, every attempt and the margin fit; below, the backend's own deadline answers.
    assert worst_case <= min(timeout, API_GATEWAY_TIMEOUT_SECONDS) or timeout < 3
    assert config.openai_timeout_seconds >= 1
    # A retry only when both attempts keep at least 3 s: (8 - 2) / 2 = 3.
    assert config.openai_max_retries == (1 if timeout >= 8 else 0)
    slow = [w for w in config.warnings() if "analyses will often time out" in w]
    assert bool(slow) is (timeout < 5), slow


def test_a_short_timeout_is_warned_about_with_the_way_out():
    (warning,) = StackConfig.from_raw("dev", {**VALID, "timeoutSeconds": 4}).warnings()
    assert warning == (
        "timeoutSeconds=4 gives the OpenAI call 2 s per attempt, fewer than 3 s: analyses will "
        "often time out (JSON 504); 5 or more leaves 3 s after the 2 s margin"
    )


def test_architecture_decides_the_image_platform():
    assert StackConfig.from_raw("dev", {**VALID, "architecture": "arm64"}).platform == (
        "linux/arm64"
    )
    assert StackConfig.from_raw("dev", {**VALID, "architecture": "x86_64"}).platform == (
        "linux/amd64"
    )


def test_secrets_stay_out_of_the_repr():
    config = StackConfig.from_raw("dev", {"openaiApiKey": "sk-visible?", "apiKeys": KEYS})
    assert "sk-visible?" not in repr(config) and KEY_1 not in repr(config)


# apiKeys: checked with the authorizer's own parsing (lambda_kit.api_keys), each key by position.

SHORT_KEY = "shortkey1"


@pytest.mark.parametrize(
    ("api_keys", "expected"),
    [
        ("", "apiKeys holds no key"),
        ("  ", "apiKeys holds no key"),
        (" , ,", "apiKeys holds no key"),
        (SHORT_KEY, "apiKeys key 1 is 9 characters long"),
        (f"{KEY_1},{SHORT_KEY}", "apiKeys key 2 is 9 characters long"),
        # Empty entries are skipped, as the authorizer skips them: the position is its slot.
        (f"{KEY_1}, ,{SHORT_KEY}", "apiKeys key 2 is 9 characters long"),
        ("k" * 15, "apiKeys key 1 is 15 characters long"),
        ("k" * 257, "apiKeys key 1 is 257 characters long"),
        ("iris key with a space", "apiKeys key 1 has whitespace at character 5"),
        (f"{KEY_1},iris-key\twith-a-tab", "apiKeys key 2 has whitespace at character 9"),
        ("iris-key-with-nul\x00x", "apiKeys key 1 has a non-printable or non-ASCII character"),
        ("iris-key-with-del\x7fx", "apiKeys key 1 has a non-printable or non-ASCII character"),
        ("iris-key-with-e\u0301-accent", "apiKeys key 1 has a non-printable or non-ASCII"),
        ("iris-key-with-\u00e9-latin1", "apiKeys key 1 has a non-printable or non-ASCII"),
    ],
    ids=[
        "empty",
        "blank",
        "only-commas",
        "short",
        "second-short",
        "position-skips-empty-entries",
        "one-under",
        "one-over",
        "space",
        "tab",
        "nul",
        "del",
        "combining-mark",
        "non-ascii",
    ],
)
def test_api_keys_that_could_never_authorize_anyone_are_refused(api_keys, expected):
    error = refuse("dev", {"apiKeys": api_keys})

    (problem,) = [problem for problem in error.problems if problem.startswith("apiKeys")]
    assert expected in problem
    assert "16-256 printable ASCII characters" in problem
    for key in api_keys.split(","):
        if key.strip():
            assert key.strip() not in str(error)


def test_every_bad_key_is_reported_by_its_position():
    error = refuse("dev", {"apiKeys": f"{SHORT_KEY},{KEY_1},iris key with a space"})

    assert [problem.split(";")[0] for problem in error.problems] == [
        "apiKeys key 1 is 9 characters long",
        "apiKeys key 3 has whitespace at character 5",
    ]


@pytest.mark.parametrize(
    "api_keys",
    [KEY_1, KEYS, f" {KEY_1} , {KEY_2} ,", "k" * 16, "k" * 256, "!#$%&'()*+-./:;<=>?@[]^_`{|}~0"],
    ids=["one", "two", "padded", "16", "256", "punctuation"],
)
def test_keys_the_authorizer_can_match_are_accepted(api_keys):
    assert StackConfig.from_raw("dev", {**VALID, "apiKeys": api_keys}).api_keys == api_keys


def test_the_config_and_the_authorizer_share_one_parser():
    import authorizer
    from iris_infra.apps.iris import config
    from lambda_kit import api_keys

    assert authorizer.parse_keys is api_keys.parse_keys
    assert config.key_problems is api_keys.key_problems


def test_from_pulumi_checks_the_secret_api_keys_without_showing_them(mocks, engine_config):
    engine_config(
        {"openaiApiKey": "sk-x", "apiKeys": f"{KEY_1},{SHORT_KEY}"},
        secret_keys=("openaiApiKey", "apiKeys"),
    )
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_pulumi()

    (problem,) = caught.value.problems
    assert problem.startswith("apiKeys key 2 is 9 characters long")
    assert SHORT_KEY not in str(caught.value) and KEY_1 not in str(caught.value)


WATCHED = {"alarmEmail": "ops@example.com"}


def test_prod_without_api_keys_is_warned_about():
    (warning,) = StackConfig.from_raw("prod", {**VALID, **WATCHED}).warnings()
    assert "apiKeys" in warning and "--stack prod" in warning
    assert StackConfig.from_raw("prod", {**VALID, **WATCHED, "apiKeys": KEY_1}).warnings() == []
    assert StackConfig.from_raw("dev", VALID).warnings() == []


def test_prod_without_alarm_email_is_warned_about():
    (warning,) = StackConfig.from_raw("prod", {**VALID, "apiKeys": KEY_1}).warnings()
    assert warning == (
        "stack 'prod' has no alarmEmail: it has no alarms, and nobody hears when the API fails; "
        "set one with `pulumi config set alarmEmail <address> --stack prod`"
    )


def test_from_pulumi_reads_the_engine_config_and_keeps_secrets_secret(
    mocks, engine_config, resolve
):
    engine_config(
        {
            "openaiApiKey": "sk-from-engine",
            "apiKeys": KEYS,
            "memoryMb": "2048",
            "corsOrigins": ["https://app.example.com"],
        },
        secret_keys=("openaiApiKey", "apiKeys"),
    )

    def program():
        config = StackConfig.from_pulumi()
        assert isinstance(config.openai_api_key, pulumi.Output)
        assert isinstance(config.api_keys, pulumi.Output)
        return {
            "stack": config.stack,
            "memory": config.memory_mb,
            "origins": list(config.cors_origins),
            "key_is_secret": config.openai_api_key.is_secret(),
            "api_keys_are_secret": config.api_keys.is_secret(),
            "key": config.openai_api_key,
        }

    assert resolve(program) == {
        "stack": "dev",
        "memory": 2048,
        "origins": ["https://app.example.com"],
        "key_is_secret": True,
        "api_keys_are_secret": True,
        "key": "sk-from-engine",
    }


# A stack's config with misspelt keys and namespaces beside good ones: another program's or a
# provider's namespace passes.
MISSPELT = {
    "iris-infra:openaiApiKey": "sk-x",
    "iris-infra:memoryMB": "2048",
    "iris-infra:openAIApiKey": "sk-misplaced-secret",
    "iri-infra:timeoutSeconds": "sk-misplaced-in-a-namespace",
    "awz:region": "eu-west-1",
    "aws:region": "eu-west-1",
    "pulumi:tags": '{"team": "iris"}',
    "random:seed": "3",
}
MISSPELT_SECRETS = [
    "iris-infra:openaiApiKey",
    "iris-infra:openAIApiKey",
    "iri-infra:timeoutSeconds",
]


@pytest.mark.parametrize("channel", ["runtime", "environment"])
def test_from_pulumi_reads_its_own_keys_by_name_and_nothing_else(
    mocks, resolve, monkeypatch, channel
):
    """Under `pulumi up` (the CLI's PULUMI_CONFIG) and under the mocks, the program reads its
    keys with pulumi.Config, by name: a misspelt key is not read at all (nor its value, maybe a
    secret), and its setting keeps its default. Naming it is make check's (below)."""
    if channel == "runtime":
        pulumi.runtime.set_all_config(MISSPELT, secret_keys=MISSPELT_SECRETS)
    else:
        # How the CLI hands a program its config.
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(MISSPELT))
        monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(MISSPELT_SECRETS))

    def program():
        config = StackConfig.from_pulumi()
        return {
            "memory": config.memory_mb,
            "timeout": config.timeout_seconds,
            "shown": repr(config),
        }

    read = resolve(program)
    assert (read["memory"], read["timeout"]) == (1024, 30)
    assert "sk-misplaced" not in read["shown"]


def test_make_check_names_misspelt_keys_and_namespaces_with_the_key_meant(tmp_path):
    """The stack's files hold every key: make check names each key the program does not read,
    with the key it most likely meant, and plans nothing."""
    stack_file = "config:\n  iris-infra:openaiApiKey:\n    secure: v1:ciphertext\n" + "".join(
        f"  {key}: '{value}'\n" for key, value in MISSPELT.items() if key not in MISSPELT_SECRETS
    )
    # The misplaced secrets in plain text, as a wrong `pulumi config set` would leave them.
    stack_file += "".join(f"  {key}: '{MISSPELT[key]}'\n" for key in MISSPELT_SECRETS[1:])
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text(encoding="utf-8"))
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_file, encoding="utf-8")

    check = check_stack("dev", tmp_path)

    known = ", ".join(CONFIG_KEYS)
    namespaces = "iris-infra, aws, docker, pulumi"
    assert check.plan is None
    assert check.problems == (
        "Pulumi.dev.yaml: memoryMB is not a setting of this stack; did you mean "
        f"iris-infra:memoryMb? known keys: {known}",
        "Pulumi.dev.yaml: openAIApiKey is not a setting of this stack; did you mean "
        f"iris-infra:openaiApiKey? known keys: {known}",
        f"Pulumi.dev.yaml: awz:region is in no namespace this program reads ({namespaces}): "
        "did you mean aws:region?",
        "Pulumi.dev.yaml: iri-infra:timeoutSeconds is in no namespace this program reads "
        f"({namespaces}): did you mean iris-infra:timeoutSeconds?",
    )
    assert "sk-misplaced" not in str(check.problems) and "ciphertext" not in str(check.problems)


def test_from_pulumi_refuses_a_stack_without_an_openai_key(mocks, engine_config):
    engine_config({"memoryMb": "1024"})
    with pytest.raises(ConfigError, match="pulumi config set --secret openaiApiKey --stack dev"):
        StackConfig.from_pulumi()


def test_from_pulumi_warns_about_a_short_timeout(mocks, engine_config, resolve, caplog):
    engine_config({"openaiApiKey": "sk-x", "timeoutSeconds": "3"}, secret_keys=("openaiApiKey",))
    assert resolve(lambda: StackConfig.from_pulumi().timeout_seconds) == 3
    assert any(
        "timeoutSeconds=3" in record.getMessage()
        and "analyses will often time out" in record.getMessage()
        for record in caplog.records
    )


def test_from_pulumi_warns_when_prod_has_no_api_keys(mocks, engine_config, resolve, caplog):
    mocks.use("prod")
    engine_config(
        {"openaiApiKey": "sk-x", "corsOrigins": ["https://app.example.com"]},
        secret_keys=("openaiApiKey",),
    )
    resolve(lambda: StackConfig.from_pulumi().stack)
    assert any("has no apiKeys" in record.getMessage() for record in caplog.records)


# imageUri, provisionedConcurrency and alarmEmail

DIGEST = "sha256:" + "0123456789abcdef" * 4
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
PINNED = f"{REGISTRY}/iris-image-repository-1a2b3c4@{DIGEST}"


@pytest.mark.parametrize(
    ("image_uri", "aws_region"),
    [
        (PINNED, None),
        (PINNED, "eu-west-1"),
        (f"{REGISTRY}/team/iris.backend_v2@{DIGEST}", None),
        (f"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/iris@{DIGEST}", "cn-north-1"),
    ],
)
def test_a_digest_in_a_private_ecr_repository_is_accepted(image_uri, aws_region):
    config = StackConfig.from_raw(
        "prod", {**VALID, "imageUri": f" {image_uri} "}, aws_region=aws_region
    )
    assert config.image_uri == image_uri


@pytest.mark.parametrize(
    ("image_uri", "reason"),
    [
        (f"{REGISTRY}/iris:latest", "names a tag"),
        (f"{REGISTRY}/iris:v1.2", "names a tag"),
        (f"{REGISTRY}/iris:latest@{DIGEST}", "has a tag before its digest"),
        (f"{REGISTRY}/iris", "has no digest"),
        (f"{REGISTRY}/iris@sha256:abc123", "has a malformed digest 'sha256:abc123'"),
        (f"{REGISTRY}/iris@{DIGEST.upper()}", "has a malformed digest"),
        (f"{REGISTRY}/iris@md5:" + "0" * 32, "has a malformed digest"),
        (f"{REGISTRY}/Iris@{DIGEST}", "has an invalid ECR repository name 'Iris'"),
        (f"{REGISTRY}/i@{DIGEST}", "has an invalid ECR repository name 'i'"),
        (f"{REGISTRY}/iris--x@{DIGEST}", "has an invalid ECR repository name"),
        (f"python@{DIGEST}", "is not in a private ECR registry"),
        ("python:3.11", "is not in a private ECR registry"),
        (f"docker.io/library/python@{DIGEST}", "is not in a private ECR registry"),
        (f"public.ecr.aws/lambda/python@{DIGEST}", "is not in a private ECR registry"),
        (f"ghcr.io/acme/iris@{DIGEST}", "is not in a private ECR registry"),
        (f"12345.dkr.ecr.eu-west-1.amazonaws.com/iris@{DIGEST}", "is not in a private ECR"),
        (f"https://{REGISTRY}/iris@{DIGEST}", "is not in a private ECR registry"),
        ("", "is not in a private ECR registry"),
    ],
)
def test_image_uris_that_are_not_a_pushed_digest_are_refused(image_uri, reason):
    (problem,) = refuse("prod", {"imageUri": image_uri}).problems
    assert problem.startswith(f"imageUri={image_uri!r} {reason}"), problem
    assert f"expected {IMAGE_URI_FORM}" in problem
    assert IMAGE_URI_FORM == "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>"


def test_an_image_in_another_region_than_the_stacks_is_refused():
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_raw("prod", {**VALID, "imageUri": PINNED}, aws_region="us-east-1")
    (problem,) = caught.value.problems
    assert problem.startswith(
        f"imageUri={PINNED!r} is in region eu-west-1, not the stack's aws:region us-east-1"
    )


def test_from_pulumi_checks_image_uri_against_the_stacks_region(mocks):
    pulumi.runtime.set_all_config(
        {
            "aws:region": "us-east-1",
            "iris-infra:openaiApiKey": "sk-x",
            "iris-infra:imageUri": PINNED,
        },
        secret_keys=["iris-infra:openaiApiKey"],
    )
    with pytest.raises(ConfigError, match="not the stack's aws:region us-east-1"):
        StackConfig.from_pulumi()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"provisionedConcurrency": -1},
            "provisionedConcurrency=-1 is out of range; allowed 0-900",
        ),
        ({"provisionedConcurrency": 901}, "provisionedConcurrency=901 is out of range"),
        ({"provisionedConcurrency": "2.5"}, "provisionedConcurrency='2.5' is not a whole number"),
        (
            {"provisionedConcurrency": 6, "reservedConcurrency": 5},
            "provisionedConcurrency=6 is above reservedConcurrency=5: Lambda cannot provision "
            "more instances than the function may run; allowed 0-5, or raise reservedConcurrency",
        ),
    ],
)
def test_provisioned_concurrency_is_refused_out_of_range(raw, expected):
    (problem,) = refuse("prod", raw).problems
    assert problem.startswith(expected), problem


@pytest.mark.parametrize(
    ("raw", "provisioned"),
    [({}, 0), ({"provisionedConcurrency": "0"}, 0), ({"provisionedConcurrency": 900}, 900),
     ({"provisionedConcurrency": 5, "reservedConcurrency": 5}, 5)],
)  # fmt: skip
def test_provisioned_concurrency_up_to_the_reservation_is_accepted(raw, provisioned):
    assert StackConfig.from_raw("prod", {**VALID, **raw}).provisioned_concurrency == provisioned


@pytest.mark.parametrize("key", ["reservedConcurrency", "provisionedConcurrency"])
@pytest.mark.parametrize("value", [901, 1000])
def test_concurrency_above_what_aws_lets_a_default_account_reserve_is_refused(key, value):
    """AWS keeps 100 of the 1,000 default quota unreserved (pitfall 46): 901 fails the deploy."""
    (problem,) = refuse("prod", {key: value}).problems
    assert problem.startswith(f"{key}={value} is out of range; allowed "), problem
    assert "-900" in problem
    assert "keeps 100 of the account's concurrency quota" in problem
    assert "request-service-quota-increase --service-code lambda --quota-code L-B99A9384" in problem


def test_the_largest_concurrency_aws_lets_a_default_account_reserve_is_accepted():
    config = StackConfig.from_raw(
        "prod", {**VALID, "reservedConcurrency": 900, "provisionedConcurrency": 900}
    )
    assert (config.reserved_concurrency, config.provisioned_concurrency) == (900, 900)


@pytest.mark.parametrize(
    "email", ["ops@example.com", "first.last+iris@alerts.example.co.uk", "ON-CALL@Example.COM"]
)
def test_an_alarm_email_address_is_accepted(email):
    assert StackConfig.from_raw("prod", {**VALID, "alarmEmail": email}).alarm_email == email


@pytest.mark.parametrize(
    "email",
    [
        "ops",
        "ops@localhost",
        "@example.com",
        "ops@example.com,dev@example.com",
        "ops@example.com dev@example.com",
        "Ops <ops@example.com>",
        "ops@@example.com",
        "",
        "o" * 250 + "@example.com",
    ],
)
def test_anything_but_one_email_address_is_refused(email):
    (problem,) = refuse("prod", {"alarmEmail": email}).problems
    assert problem == (
        f"alarmEmail={email!r} is not an email address; give one address, e.g. "
        "ops@example.com, or remove the key for a stack without alarms"
    )


def test_secret_max_age_seconds_is_what_the_functions_accept() -> None:
    """The functions refuse an IRIS_SECRET_MAX_AGE_S outside their own range at INIT: the
    stack must never pass one, and its default is theirs."""
    from iris.settings import DEFAULT_SECRET_MAX_AGE_S, SECRET_MAX_AGE_RANGE_S

    assert SECRET_MAX_AGE_RANGE_SECONDS == SECRET_MAX_AGE_RANGE_S
    assert StackConfig.__dataclass_fields__["secret_max_age_seconds"].default == (
        DEFAULT_SECRET_MAX_AGE_S
    )


def test_the_token_budget_is_what_the_function_accepts_and_each_stack_has_its_own(
    stack_config,
) -> None:
    """IRIS_LLM_DAILY_TOKEN_BUDGET outside the backend's range would stop it at INIT."""
    from iris.settings import MAX_DAILY_TOKEN_BUDGET as BACKEND_MAX

    assert MAX_DAILY_TOKEN_BUDGET == BACKEND_MAX
    assert StackConfig.from_raw("x", {"openaiApiKey": "k", "llmDailyTokenBudget": "0"})
    budgets = {stack: stack_config(stack).llm_daily_token_budget for stack in ("dev", "prod")}
    assert budgets == {"dev": 250_000, "prod": 5_000_000}
    assert StackConfig.__dataclass_fields__["llm_daily_token_budget"].default == 1_000_000


def test_the_fail_open_allowance_is_what_the_function_accepts_and_off_by_default() -> None:
    """IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER outside the backend's range would stop it
    at INIT; by default no call goes unreserved, on the stack as in the backend."""
    from iris.settings import MAX_FAIL_OPEN_CALLS_PER_CONTAINER as BACKEND_MAX
    from iris.settings import Settings

    assert MAX_FAIL_OPEN_CALLS_PER_CONTAINER == BACKEND_MAX
    assert StackConfig.__dataclass_fields__["llm_budget_fail_open_calls_per_container"].default == 0
    assert Settings().llm_budget_fail_open_calls_per_container == 0
    config = StackConfig.from_raw(
        "x", {"openaiApiKey": "k", "llmBudgetFailOpenCallsPerContainer": str(BACKEND_MAX)}
    )
    assert config.llm_budget_fail_open_calls_per_container == BACKEND_MAX
