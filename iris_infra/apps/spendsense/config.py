"""SpendSense's stack configuration: every `spendsense-infra:` setting, read once, typed, and
validated before any resource is declared, with the checks it shares with every program
(iris_infra.config). The database file is checked by the backend's own loader
(spendsense_core, installed from the functions' task root): what the stack uploads is what
they open."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pulumi

from iris_infra.apps.spendsense.routes import DEPLOYMENTS, INSIGHT_PATHS
from iris_infra.config.checks import (
    EPHEMERAL_STORAGE_RANGE_MB,
    MEMORY_RANGE_MB,
    alarm_email_problems,
    architecture_problems,
    check_range,
    log_retention_problems,
    origin_problems,
    provisioned_concurrency_problems,
    stack_name_problems,
    timeout_problems,
)
from iris_infra.config.checks import MAX_STACK_NAME_LENGTH as SHARED_MAX_STACK_NAME_LENGTH
from iris_infra.config.errors import ConfigError, construct
from iris_infra.config.keys import ConfigKeys
from iris_infra.config.program import ProgramConfig, with_secret_outputs
from lambda_kit.api_keys import key_problems
from spendsense_core.deadlines import (
    CHECK_DEADLINE_S,
    QUERY_DEADLINE_S,
    UPLOAD_CHECK_DEADLINE_S,
)
from spendsense_core.s3_copy import DOWNLOAD_DEADLINE_S
from spendsense_core.schema import (
    ASSET_TYPES,
    CENTS,
    COLUMN_KINDS,
    DAY,
    LIABILITY_TYPES,
    MAX_TOTAL_CENTS,
    MIN_DAY,
)
from spendsense_core.sqlite_file import WAL_FIX, LoadError, check_upload

PROJECT = "spendsense-infra"
# Where Pulumi runs the program: a relative databaseFile starts here.
# (The project is installed editable, so this module is in the repository's own tree.)
PROGRAM_DIR = Path(__file__).resolve().parents[3] / "spendsense"

SECRET_KEYS = ("apiKeys",)
NOT_KEYS = ("stack",)
DATABASE_FILE_EXAMPLE = "data/spendsense.db, which `make spendsense-db` writes"

# /tmp holds the one downloaded copy (a failed download's part is removed before the next
# try) and whatever temporary files SQLite spills for a large sort.
TMP_HEADROOM_MB = 64
MB = 1024 * 1024
MAX_DATABASE_MB = EPHEMERAL_STORAGE_RANGE_MB[1] - TMP_HEADROOM_MB
# A cold start downloads the file in one attempt of DOWNLOAD_DEADLINE_S; a file that needs more
# than this rate from S3 to make it risks never loading (every request then answers 503).
SAFE_DOWNLOAD_MB_PER_S = 50
# A request that retries a failed load needs the S3 client (under a second), the download and
# the checks of the file, then its queries: a timeout shorter than all of them cuts it off.
RETRY_MARGIN_S = 1
RETRIED_REQUEST_S = int(DOWNLOAD_DEADLINE_S + CHECK_DEADLINE_S + QUERY_DEADLINE_S + RETRY_MARGIN_S)

# Physical names are spendsense-<stack>-<function>, and Lambda allows 64 characters; the
# longest function part is -spending-analysis. The bucket, spendsense-<stack>-data-<account>,
# has 63; the shared limit is below both.
_LONGEST_FUNCTION_PART = max(len(name) for name in INSIGHT_PATHS) + 1
MAX_STACK_NAME_LENGTH = min(
    64 - len("spendsense-") - _LONGEST_FUNCTION_PART,
    63 - len("spendsense--data-123456789012"),
    SHARED_MAX_STACK_NAME_LENGTH,
)

LONGER_THAN_THE_GATEWAY = (
    "a request that long (the plan's 300 s) needs a Lambda Function URL, which waits for the "
    "function's whole timeout (up to 900 s), or an asynchronous job that the API starts and "
    "the client polls"
)

_LOAD_FLAWS = {
    "not_sqlite": "is not an SQLite database: it does not start with the SQLite header",
    "truncated": "is shorter than its SQLite header says: a cut copy",
    "corrupt": "fails SQLite's quick_check: the file is damaged",
}


@dataclass(frozen=True)
class SpendSenseConfig(ProgramConfig):
    """Every `spendsense-infra:` setting of one stack. Field names mirror the config keys."""

    APP: ClassVar[str] = "spendsense"

    stack: str
    # `split`: each insight its own function; `single`: the API function serves every route.
    deployment: str = "split"
    cors_origins: tuple[str, ...] = ("http://localhost:5173",)
    api_memory_mb: int = 2048
    insight_memory_mb: int = 1024
    timeout_seconds: int = 10
    # The SQLite file the stack uploads: absolute, or relative to the program's directory.
    database_file: str | None = None
    architecture: str = "arm64"
    log_retention_days: int = 14
    # A plain string when validated offline, a secret Output when read from Pulumi.
    api_keys: pulumi.Input[str] | None = field(default=None, repr=False)
    alarm_email: str | None = None
    # Instances of the API function's `live` kept initialized.
    provisioned_concurrency: int = 0

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError(self.stack, problems)

    @classmethod
    def from_raw(cls, stack: str, raw: Mapping[str, Any]) -> SpendSenseConfig:
        """Validate raw values keyed by config key (`apiMemoryMb`: "2048" or 2048) offline."""
        problems: list[str] = []
        values = _KEYS.parse(raw, problems)
        return construct(cls, stack, problems, **values)

    @classmethod
    def from_pulumi(cls) -> SpendSenseConfig:
        """The running stack's configuration; apiKeys is checked as text, then kept only as a
        secret Output."""
        raw, secrets = _KEYS.read_pulumi()
        checked = cls.from_raw(pulumi.get_stack(), raw)
        return with_secret_outputs(checked, _KEYS, secrets)

    @property
    def database_path(self) -> Path:
        path = Path(self.database_file or "")
        return path if path.is_absolute() else PROGRAM_DIR / path

    @property
    def ephemeral_storage_mb(self) -> int:
        """Each function's /tmp, sized from the file rather than a key of its own: the file is
        what /tmp is for, and Lambda bills storage above 512 MB at a small fraction of what
        it bills memory."""
        needed = math.ceil(self.database_path.stat().st_size / MB) + TMP_HEADROOM_MB
        return max(EPHEMERAL_STORAGE_RANGE_MB[0], needed)

    def warnings(self) -> list[str]:
        """Valid but risky choices, reported with pulumi.log.warn."""
        warnings = []
        if self.is_production and self.api_keys is None:
            warnings.append(
                f"stack '{self.stack}' has no apiKeys: every user's finances are open to anyone "
                "who finds the URL; set them with "
                f"`pulumi config set --secret apiKeys --stack {self.stack}`, which asks for them"
            )
        if self.is_production and self.alarm_email is None:
            warnings.append(
                f"stack '{self.stack}' has no alarmEmail: it has no alarms, and nobody hears "
                "when the API fails; set one with "
                f"`pulumi config set alarmEmail <address> --stack {self.stack}`"
            )
        if self.timeout_seconds < RETRIED_REQUEST_S:
            warnings.append(
                f"timeoutSeconds={self.timeout_seconds} leaves a request no time for its retry of "
                f"a failed database load ({DOWNLOAD_DEADLINE_S:g} s to download, "
                f"{CHECK_DEADLINE_S:g} s to check, {QUERY_DEADLINE_S:g} s to query, at most): "
                "Lambda would cut it off and API Gateway answer its own 503 instead of the JSON "
                f"data_unavailable; use {RETRIED_REQUEST_S} or more"
            )
        size_mb = self.database_path.stat().st_size / MB
        if size_mb > SAFE_DOWNLOAD_MB_PER_S * DOWNLOAD_DEADLINE_S:
            rate = size_mb / DOWNLOAD_DEADLINE_S
            advice = (
                "keep the file smaller (only the tables the insights read), "
                "or measure a cold start on the dev stack first"
            )
            warnings.append(
                f"databaseFile={self.database_file!r} is {size_mb:,.0f} MB: a cold start must "
                f"download it within {DOWNLOAD_DEADLINE_S:g} s ({rate:,.0f} MB/s from S3), and "
                f"a function that cannot answers 503 data_unavailable to every request; {advice}"
            )
        return warnings

    def _problems(self) -> list[str]:
        problems = stack_name_problems(self.stack, MAX_STACK_NAME_LENGTH)
        if self.deployment not in DEPLOYMENTS:
            problems.append(
                f"deployment={self.deployment!r} is not allowed; use split (each insight its "
                "own function) or single (one function serves every route)"
            )
        problems.extend(origin_problems(self.cors_origins, self.stack))
        check_range(problems, "apiMemoryMb", self.api_memory_mb, *MEMORY_RANGE_MB)
        check_range(problems, "insightMemoryMb", self.insight_memory_mb, *MEMORY_RANGE_MB)
        problems.extend(timeout_problems(self.timeout_seconds, LONGER_THAN_THE_GATEWAY))
        problems.extend(self._database_problems())
        problems.extend(architecture_problems(self.architecture))
        problems.extend(log_retention_problems(self.log_retention_days))
        if isinstance(self.api_keys, str):
            # The authorizer's own parsing: a key refused here could never authorize anyone.
            problems.extend(key_problems(self.api_keys))
        problems.extend(alarm_email_problems(self.alarm_email))
        problems.extend(provisioned_concurrency_problems(self.provisioned_concurrency))
        return problems

    def _database_problems(self) -> list[str]:
        if not (self.database_file or "").strip():
            return [
                "databaseFile is not set; give the SQLite file the stack uploads, e.g. "
                f"{DATABASE_FILE_EXAMPLE}"
            ]
        shown = f"databaseFile={self.database_file!r}"
        path = self.database_path
        if not path.is_file():
            return [
                f"{shown} is not a file (a relative path starts at the spendsense/ directory); "
                f"give the SQLite file the stack uploads, e.g. {DATABASE_FILE_EXAMPLE}"
            ]
        size_mb = path.stat().st_size / MB
        if size_mb > MAX_DATABASE_MB:
            return [
                f"{shown} is {size_mb:,.0f} MB: each function downloads it to its /tmp, at "
                f"most {EPHEMERAL_STORAGE_RANGE_MB[1]:,} MB, which must also leave "
                f"{TMP_HEADROOM_MB} MB for SQLite's temporary files; allowed up to "
                f"{MAX_DATABASE_MB:,} MB"
            ]
        try:
            # The backend's own checks, on the file as a function opens its copy.
            check_upload(path)
        except LoadError as error:
            return [f"{shown} {_load_flaw(error.reason, path)}"]
        return []


def _load_flaw(reason: str, path: Path) -> str:
    """What is wrong with the file, and what to do about it, from the loader's reason."""
    code, _, where = reason.partition(":")
    table = where.partition(".")[0]
    if code == "wal_not_checkpointed":
        return (
            f"is in WAL mode and its newest rows may still be in {path.name}-wal, which the "
            "stack does not upload: the functions would answer without them; move them into "
            f"the file first with `{WAL_FIX.format(path=shlex.quote(str(path)))}`"
        )
    if code == "check_deadline":
        return (
            f"cannot be checked within {UPLOAD_CHECK_DEADLINE_S:g} s, half of what a function "
            f"has for it at a cold start ({CHECK_DEADLINE_S:g} s, on a CPU that may be slower); "
            "keep it smaller (only the tables and rows the insights read)"
        )
    flaws = {
        "not_utf8": "stores its text as UTF-16, and the insights read UTF-8; copy it into a "
        f"UTF-8 file with `sqlite3 {shlex.quote(str(path))} .dump | sqlite3 <new file>`",
        "schema_mismatch": f"is not a SpendSense database: its {table} table or some of its "
        "columns are missing",
        "not_a_table": f"has a view or a virtual table named {table} where the insights need a "
        "table (a view is a query that may never end)",
        "bad_value": f"has a value in {where} that is not {_allowed_values(where)}",
        "too_large_sum": f"has {where} values whose absolute values add up past "
        f"{MAX_TOTAL_CENTS:,} cents (2^53 - 1): the sums the insights compute could overflow "
        "SQLite's 64-bit integers or lose precision in JSON",
        "unreadable": f"has a {table} table that SQLite cannot query (a column declared with a "
        "collation that only its writer knew)",
    }
    flaw = flaws.get(code) or _LOAD_FLAWS.get(reason) or f"cannot be read ({reason})"
    return f"{flaw}; give a SpendSense database, e.g. {DATABASE_FILE_EXAMPLE}"


def _allowed_values(table_column: str) -> str:
    table, _, column = table_column.partition(".")
    kind = COLUMN_KINDS.get(table, {}).get(column)
    if table_column == "accounts.type":
        return f"one of {', '.join((*ASSET_TYPES, *LIABILITY_TYPES))}"
    if kind == DAY:
        return f"a real day written YYYY-MM-DD, from {MIN_DAY.isoformat()}"
    if kind != CENTS:
        return "UTF-8 text (NULLs, numbers, blobs and invalid UTF-8 are refused)"
    cents = f"whole cents from -{MAX_TOTAL_CENTS:,} to {MAX_TOTAL_CENTS:,}"
    if table_column == "accounts.balance_cents":
        return f"{cents}, and at least 0 on a credit or loan account (what is owed)"
    if table_column == "budgets.monthly_limit_cents":
        return f"{cents}, and at least 0"
    return cents


_KEYS = ConfigKeys.of(PROJECT, SpendSenseConfig, SECRET_KEYS, NOT_KEYS)
CONFIG_KEYS = _KEYS.keys
