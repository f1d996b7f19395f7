"""SpendSenseConfig: exactly the documented keys, the committed stack files validate, and every
bad value is refused naming its key, the value and what is allowed, all problems at once."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import string
import tempfile
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iris_infra.apps.spendsense.config import (
    CONFIG_KEYS,
    DOWNLOAD_DEADLINE_S,
    MAX_DATABASE_MB,
    MAX_STACK_NAME_LENGTH,
    MB,
    NOT_KEYS,
    PROGRAM_DIR,
    PROJECT,
    SAFE_DOWNLOAD_MB_PER_S,
    SECRET_KEYS,
    TMP_HEADROOM_MB,
    SpendSenseConfig,
)
from iris_infra.apps.spendsense.routes import DEPLOYMENTS
from iris_infra.config.checks import LOG_RETENTION_DAYS, MAX_CONCURRENCY
from iris_infra.config.errors import ConfigError
from spendsense.scripts import make_db
from stack_check.files import read_engine_config
from tests.spendsense_infra.conftest import DATA_SENTINEL, spendsense_config

# The documented `spendsense-infra:` keys, and no other.
CONTRACT_KEYS = {
    "deployment",
    "corsOrigins",
    "apiMemoryMb",
    "insightMemoryMb",
    "timeoutSeconds",
    "databaseFile",
    "architecture",
    "logRetentionDays",
    "apiKeys",
    "alarmEmail",
    "provisionedConcurrency",
}
# Optional keys Pulumi.yaml cannot declare (a declared key without a default is required), and
# databaseFile, which has no default a stack could rely on.
UNDECLARED_KEYS = {"apiKeys", "alarmEmail", "databaseFile"}
KEYS = "spendsense-key-one-7f3a9e5b,spendsense-key-two-0c84d1e6"

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def refuse(database: Path, stack: str = "dev", **raw: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        spendsense_config(database, stack, **raw)
    return caught.value


def test_the_keys_are_exactly_the_contracts():
    assert set(CONFIG_KEYS) == CONTRACT_KEYS
    assert SECRET_KEYS == ("apiKeys",)


def test_the_defaults_are_the_contracts(config_of):
    config = config_of()
    assert config.deployment == "split"
    assert config.api_memory_mb == 2048
    assert config.insight_memory_mb == 1024
    assert config.api_keys is None and config.alarm_email is None
    assert config.provisioned_concurrency == 0


def test_the_dev_stack_file_validates_with_the_database_make_writes(tmp_path, monkeypatch):
    engine = read_engine_config("dev", PROGRAM_DIR)
    assert engine.problems == ()
    raw = {
        key.removeprefix(f"{PROJECT}:"): value
        for key, value in engine.values.items()
        if key.startswith(f"{PROJECT}:")
    }
    # Relative to the program's directory, where `make spendsense-db` writes it.
    assert raw["databaseFile"] == "data/spendsense.db"
    assert PROGRAM_DIR / raw["databaseFile"] == make_db.DEFAULT_OUT
    monkeypatch.setattr("iris_infra.apps.spendsense.config.PROGRAM_DIR", tmp_path)
    make_db.write_database(tmp_path / "data" / "spendsense.db")
    config = SpendSenseConfig.from_raw("dev", raw)
    assert config.cors_origins == ("http://localhost:5173", "http://127.0.0.1:5173")
    assert config.log_retention_days == 7


def test_the_project_file_defaults_are_the_dataclass_defaults():
    project = yaml.safe_load((PROGRAM_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == PROJECT
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "../.venv"},
    }
    declared = project["config"]
    defaults = {
        field.name: field.default
        for field in dataclasses.fields(SpendSenseConfig)
        if field.name not in NOT_KEYS
    }
    assert set(declared) == CONTRACT_KEYS - UNDECLARED_KEYS
    for key, declaration in declared.items():
        name = next(name for name in defaults if name.replace("_", "") == key.lower())
        default = defaults[name]
        assert declaration["default"] == (list(default) if isinstance(default, tuple) else default)


def test_raw_text_values_are_parsed_like_pulumi_hands_them_over(database_file):
    config = spendsense_config(
        database_file,
        apiMemoryMb="3008",
        corsOrigins='["https://app.example.com"]',
        provisionedConcurrency="1",
    )
    assert config.api_memory_mb == 3008
    assert config.cors_origins == ("https://app.example.com",)
    assert config.provisioned_concurrency == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"deployment": "both"}, "deployment='both' is not allowed; use split (each insight"),
        ({"apiMemoryMb": 64}, "apiMemoryMb=64 is out of range; allowed 128-10240"),
        ({"insightMemoryMb": 20480}, "insightMemoryMb=20480 is out of range; allowed 128-10240"),
        ({"insightMemoryMb": "lots"}, "insightMemoryMb='lots' is not a whole number"),
        ({"timeoutSeconds": 0}, "timeoutSeconds=0 is out of range; allowed 1-30"),
        ({"timeoutSeconds": 31}, "timeoutSeconds=31 is above 30"),
        ({"architecture": "arm"}, "architecture='arm' is not allowed; use one of arm64, x86_64"),
        ({"logRetentionDays": 10}, "logRetentionDays=10 is not a CloudWatch Logs retention"),
        ({"corsOrigins": ["app.example.com"]}, "'app.example.com' is not an origin"),
        ({"corsOrigins": []}, "corsOrigins is empty"),
        ({"alarmEmail": "oncall"}, "alarmEmail='oncall' is not an email address; give one"),
        ({"provisionedConcurrency": -1}, "provisionedConcurrency=-1 is out of range; allowed 0-"),
        ({"provisionedConcurrency": MAX_CONCURRENCY + 1}, f"allowed 0-{MAX_CONCURRENCY}"),
        ({"databaseFile": " "}, "databaseFile is not set; give the SQLite file"),
        ({"databaseFile": "data/absent.db"}, "databaseFile='data/absent.db' is not a file"),
        ({"memoryMb": 1024}, "memoryMb is not a setting of this stack; did you mean spendsense-"),
        ({"fooBar": 1}, "fooBar is not a setting of this stack; known keys: deployment"),
        ({"openaiApiKey": "sk-x"}, "openaiApiKey is not a setting of this stack"),
    ],
)
def test_bad_settings_are_refused_with_key_value_and_allowed_values(database_file, raw, expected):
    error = refuse(database_file, **raw)
    assert any(expected in problem for problem in error.problems), error.problems
    assert error.stack == "dev"


def test_a_wildcard_origin_is_refused_on_prod_only(database_file):
    (problem,) = refuse(database_file, "prod", corsOrigins=["*"]).problems
    assert "corsOrigins contains '*', which is refused on stack 'prod'" in problem
    assert spendsense_config(database_file, corsOrigins=["*"]).cors_origins == ("*",)


def test_the_plans_300_second_timeout_says_why_not_and_what_would_work(database_file):
    (problem,) = refuse(database_file, timeoutSeconds=300).problems
    assert problem.startswith("timeoutSeconds=300 is above 30: an HTTP API integration cannot")
    assert "wait longer than 30 s" in problem and "allowed 1-30" in problem
    assert "the plan's 300 s" in problem
    assert "Function URL" in problem and "asynchronous job" in problem


def test_every_problem_is_reported_at_once(database_file):
    error = refuse(
        database_file,
        deployment="many",
        apiMemoryMb=1,
        timeoutSeconds=300,
        architecture="sparc",
        flavour="mint",
    )
    keys = [problem.split("=")[0].split(" ")[0] for problem in error.problems]
    assert keys == ["flavour", "deployment", "apiMemoryMb", "timeoutSeconds", "architecture"]


def test_a_stack_name_too_long_for_the_function_names_is_refused(database_file):
    name = "s" * (MAX_STACK_NAME_LENGTH + 1)
    (problem,) = refuse(database_file, name).problems
    assert f"use 1-{MAX_STACK_NAME_LENGTH} lower-case letters" in problem
    longest = spendsense_config(database_file, "s" * MAX_STACK_NAME_LENGTH)
    # Every name the longest stack name makes fits: Lambda's and IAM roles' 64 characters, an S3
    # bucket's 63 with the account in it.
    assert len(longest.names.function("spending_analysis")) <= 64
    assert len(longest.names.data_bucket("123456789012")) <= 63


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,amount\n1,100\n", "is not an SQLite database"),
        (b"", "is not an SQLite database"),
    ],
)
def test_a_file_that_is_not_sqlite_is_refused(tmp_path, content, expected):
    path = tmp_path / "spendsense.db"
    path.write_bytes(content)
    (problem,) = refuse(path).problems
    assert problem.startswith(f"databaseFile={str(path)!r} {expected}")
    assert "make spendsense-db" in problem


def test_a_cut_copy_is_refused(tmp_path, database_file):
    path = tmp_path / "cut.db"
    path.write_bytes(database_file.read_bytes()[:8192])
    (problem,) = refuse(path).problems
    assert "is shorter than its SQLite header says" in problem


def test_an_sqlite_file_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    connection.commit()
    connection.close()
    (problem,) = refuse(path).problems
    assert "is not a SpendSense database: its " in problem


def test_a_database_larger_than_any_functions_tmp_is_refused(tmp_path, database_file):
    # A sparse file: the real header, then nothing written up to the size.
    path = tmp_path / "huge.db"
    path.write_bytes(database_file.read_bytes())
    # The smallest that leaves less than TMP_HEADROOM_MB of Lambda's largest /tmp.
    size_mb = 10_240 - TMP_HEADROOM_MB + 1
    with path.open("r+b") as file:
        file.truncate(size_mb * MB)
    (problem,) = refuse(path).problems
    assert problem.startswith(f"databaseFile={str(path)!r} is {size_mb:,} MB: ")
    assert "at most 10,240 MB" in problem and f"allowed up to {MAX_DATABASE_MB:,} MB" in problem


def test_the_functions_tmp_is_sized_from_the_database(tmp_path, database_file):
    assert spendsense_config(database_file).ephemeral_storage_mb == 512
    path = tmp_path / "big.db"
    path.write_bytes(database_file.read_bytes())
    with path.open("r+b") as file:
        file.truncate(700 * MB + 1)
    assert spendsense_config(path).ephemeral_storage_mb == 701 + TMP_HEADROOM_MB
    with path.open("r+b") as file:
        file.truncate(MAX_DATABASE_MB * MB)
    assert spendsense_config(path).ephemeral_storage_mb == 10_240


def test_a_database_too_large_to_download_within_init_is_warned_about(tmp_path, database_file):
    path = tmp_path / "large.db"
    path.write_bytes(database_file.read_bytes())
    limit_mb = SAFE_DOWNLOAD_MB_PER_S * DOWNLOAD_DEADLINE_S
    with path.open("r+b") as file:
        file.truncate(int(limit_mb) * MB)
    assert spendsense_config(path).warnings() == []
    with path.open("r+b") as file:
        file.truncate(int(limit_mb + 1) * MB)
    (warning,) = spendsense_config(path).warnings()
    assert warning.startswith(f"databaseFile={str(path)!r} is {limit_mb + 1:,.0f} MB: ")
    assert "503 data_unavailable" in warning


SHORT_KEY = "too-short"


def test_api_keys_are_checked_like_iris_and_never_shown(database_file):
    (problem,) = refuse(database_file, apiKeys=f"{KEYS},{SHORT_KEY}").problems
    assert problem.startswith("apiKeys key 3 is 9 characters long")
    assert SHORT_KEY not in problem
    assert spendsense_config(database_file, apiKeys=KEYS).api_keys == KEYS
    assert "spendsense-key-one" not in repr(spendsense_config(database_file, apiKeys=KEYS))


def test_prod_without_api_keys_or_alarm_email_is_warned_about(database_file):
    warnings = spendsense_config(database_file, "prod").warnings()
    assert [warning.split(":")[0] for warning in warnings] == [
        "stack 'prod' has no apiKeys",
        "stack 'prod' has no alarmEmail",
    ]
    watched = spendsense_config(database_file, "prod", apiKeys=KEYS, alarmEmail="a@example.com")
    assert watched.warnings() == []
    assert spendsense_config(database_file).warnings() == []


def set_engine_config(values: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> None:
    """As the CLI hands config to the program: namespaced keys, text values."""
    pulumi.runtime.set_all_config(
        {
            f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()
        },
        secret_keys=[f"{PROJECT}:{key}" for key in secret_keys],
    )


def test_from_pulumi_keeps_api_keys_secret(mocks, resolve, database_file):
    set_engine_config(
        {"databaseFile": str(database_file), "apiKeys": KEYS, "deployment": "single"},
        secret_keys=("apiKeys",),
    )

    def program():
        config = SpendSenseConfig.from_pulumi()
        assert isinstance(config.api_keys, pulumi.Output)
        return {
            "deployment": config.deployment,
            "secret": config.api_keys.is_secret(),
            "keys": config.api_keys,
        }

    assert resolve(program) == {"deployment": "single", "secret": True, "keys": KEYS}


def test_from_pulumi_reads_its_own_keys_by_name_and_nothing_else(mocks, resolve, database_file):
    """A misspelt key is not read, nor its value (maybe a secret): its setting keeps its
    default. make check names it (tests/infra/test_check.py)."""
    set_engine_config(
        {"databaseFile": str(database_file), "apiMemoryMB": "4096", "apikeys": "leaked-value"},
        secret_keys=("apikeys",),
    )

    def program():
        config = SpendSenseConfig.from_pulumi()
        return {"memory": config.api_memory_mb, "keys": config.api_keys, "shown": repr(config)}

    read = resolve(program)
    assert (read["memory"], read["keys"]) == (2048, None)
    assert "leaked-value" not in read["shown"]


# Bad values of each key, drawn by hypothesis: the strategy, how the problem shows the value,
# and what it must say is allowed.
_WORD = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=12)
_OUT_OF_MEMORY_RANGE = st.one_of(st.integers(max_value=127), st.integers(min_value=10_241))


def _number(key: str) -> Any:
    return lambda value: f"{key}={value} "


def _text(key: str) -> Any:
    return lambda value: f"{key}={value!r} "


BAD_VALUES = {
    "deployment": (
        _WORD.filter(lambda word: word not in DEPLOYMENTS),
        _text("deployment"),
        "use split (each insight its own function) or single",
    ),
    "apiMemoryMb": (_OUT_OF_MEMORY_RANGE, _number("apiMemoryMb"), "allowed 128-10240"),
    "insightMemoryMb": (_OUT_OF_MEMORY_RANGE, _number("insightMemoryMb"), "allowed 128-10240"),
    "timeoutSeconds": (
        st.one_of(st.integers(max_value=0), st.integers(min_value=31)),
        _number("timeoutSeconds"),
        "allowed 1-30",
    ),
    "architecture": (
        _WORD.filter(lambda word: word not in ("arm64", "x86_64")),
        _text("architecture"),
        "use one of arm64, x86_64",
    ),
    "logRetentionDays": (
        st.integers().filter(lambda days: days not in LOG_RETENTION_DAYS),
        _number("logRetentionDays"),
        "allowed: 1, 3, 5, 7, 14, 30",
    ),
    "alarmEmail": (_WORD, _text("alarmEmail"), "give one address, e.g. ops@example.com"),
    "provisionedConcurrency": (
        st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_CONCURRENCY + 1)),
        _number("provisionedConcurrency"),
        f"allowed 0-{MAX_CONCURRENCY}",
    ),
    "corsOrigins": (
        st.lists(_WORD, min_size=1, max_size=3),
        lambda origins: f"corsOrigins entry {origins[0]!r} ",
        "use scheme://host[:port] with http or https",
    ),
}


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_any_bad_value_is_refused_naming_key_value_and_what_is_allowed(database_file, key):
    strategy, shown, allowed = BAD_VALUES[key]

    @FUZZ
    @given(value=strategy)
    def check(value: Any) -> None:
        problems = refuse(database_file, **{key: value}).problems
        named = [problem for problem in problems if problem.startswith(shown(value))]
        assert named, (shown(value), problems)
        assert allowed in named[0], named[0]

    check()


@FUZZ
@given(content=st.binary(max_size=300))
def test_any_file_that_is_not_sqlite_is_refused_by_its_header(content):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "spendsense.db"
        path.write_bytes(content)
        (problem,) = refuse(path).problems
    assert problem.startswith(f"databaseFile={str(path)!r} is not an SQLite database")
    assert "give a SpendSense database, e.g. data/spendsense.db" in problem


@FUZZ
@given(key=st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=15))
def test_any_api_key_too_short_is_refused_without_showing_it(database_file, key):
    (problem,) = refuse(database_file, apiKeys=key).problems
    assert problem.startswith(f"apiKeys key 1 is {len(key)} characters long")
    assert "16-256" in problem
    assert f" {key} " not in problem and f"'{key}'" not in problem


def test_the_sample_database_is_accepted_and_its_rows_stay_out_of_the_config(database_file):
    config = spendsense_config(database_file)
    assert config.database_path == database_file
    assert DATA_SENTINEL not in repr(config)


def test_a_database_with_values_the_insights_cannot_read_is_refused(tmp_path, database_file):
    """The backend's own loader refuses it at INIT; the stack refuses to upload it at all."""
    path = tmp_path / "bad.db"
    path.write_bytes(database_file.read_bytes())
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE transactions SET date = '2099-99-99'")
    connection.close()
    (problem,) = refuse(path).problems
    assert problem.startswith(f"databaseFile={str(path)!r} has a value in transactions.date")
    assert "YYYY-MM-DD" in problem


def test_a_timeout_too_short_for_a_retried_load_is_warned_about(database_file):
    assert spendsense_config(database_file, timeoutSeconds=9).warnings() == []
    (warning,) = spendsense_config(database_file, timeoutSeconds=8).warnings()
    assert warning.startswith("timeoutSeconds=8 leaves a request no time for its retry")
    assert "data_unavailable" in warning and "use 9 or more" in warning
