"""The stack's configuration: read once, typed, and validated before any resource is declared."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pulumi
from pulumi.runtime.config import CONFIG as ENGINE_CONFIG
from pulumi.runtime.config import get_config, get_config_env

from iris_infra.key_suggestions import is_misspelt_namespace, unknown_key_problem
from iris_infra.names import STACK_NAME_PATTERN, StackNames

# apiKeys is parsed and checked by the authorizer's own module, in the function's task root
# (backend/src, stdlib only), imported from this source tree as local_api does: not a copy.
_TASK_ROOT = str(Path(__file__).resolve().parent.parent / "backend" / "src")
if _TASK_ROOT not in sys.path:
    sys.path.append(_TASK_ROOT)

from lambda_kit.api_keys import key_problems  # noqa: E402

PROJECT = "iris-infra"

# The image platform follows the function's architecture: a mismatch dies with "exec format error".
PLATFORMS = {"arm64": "linux/arm64", "x86_64": "linux/amd64"}

# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# An HTTP API integration waits 30 s at most, whatever the function's own timeout.
API_GATEWAY_TIMEOUT_SECONDS = 30
# Lambda's shortest function timeout.
MIN_TIMEOUT_SECONDS = 1
# Lambda's limits on a function's memory and on its /tmp (ephemeral storage), in MB.
MEMORY_RANGE_MB = (128, 10_240)
EPHEMERAL_STORAGE_RANGE_MB = (512, 10_240)
# The OpenAI calls get the function's time less this margin for the rest of the request. They
# are retried once when both attempts can have MIN_SECONDS_PER_ATTEMPT; an attempt shorter than
# that often times out, and the backend then answers 504 within the function's remaining time.
OPENAI_MARGIN_SECONDS = 2
MIN_SECONDS_PER_ATTEMPT = 3
MIN_OPENAI_TIMEOUT_SECONDS = 1

# Lambda's default account concurrency quota is 1,000, and AWS keeps 100 of it unreserved for
# functions without a reservation: a reservation above quota - 100 fails the deploy with
# InvalidParameterValueException (PutFunctionConcurrency's API reference).
DEFAULT_ACCOUNT_CONCURRENCY = 1_000
UNRESERVED_CONCURRENCY = 100
MAX_CONCURRENCY = DEFAULT_ACCOUNT_CONCURRENCY - UNRESERVED_CONCURRENCY
CONCURRENCY_QUOTA_NOTE = (
    f"AWS keeps {UNRESERVED_CONCURRENCY} of the account's concurrency quota (1,000 by default, "
    f"often 10 on a new account) unreserved, so the value needs a quota of at least the value + "
    f"{UNRESERVED_CONCURRENCY}; see the quota with `aws lambda get-account-settings` and raise it "
    "with `aws service-quotas request-service-quota-increase --service-code lambda "
    "--quota-code L-B99A9384 --desired-value <value + 100>`"
)

# What imageUri must look like: a digest in a private ECR repository (Lambda pulls nothing else).
IMAGE_URI_FORM = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>"
_ECR_REGISTRY = re.compile(r"[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?")
# ECR's repository name pattern (2-256 characters), from its CreateRepository API reference.
_ECR_REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# One address, the shape SNS's email protocol accepts; SNS itself sends the confirmation.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_EMAIL_LENGTH = 254
# A custom domain is a lower-case host name: labels of 1-63 letters, digits or '-' (not at
# either end), at least two of them, 253 characters in all (RFC 1035; ACM's DomainName pattern).
MAX_DOMAIN_NAME_LENGTH = 253
DOMAIN_NAME_FORM = (
    "a lower-case host name such as api.example.com: at least two dot-separated labels of 1-63 "
    "letters, digits or '-' (not first or last), 253 characters at most, with no scheme, path, "
    "port or trailing dot"
)
_DOMAIN_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NOT_IN_HOST_NAMES = {"/": "a path", ":": "a port", "*": "a wildcard: give one host name"}
# What `aws route53 list-hosted-zones` prints; the `/hostedzone/` prefix is accepted and dropped.
HOSTED_ZONE_ID_FORM = "Z followed by upper-case letters and digits, 32 characters at most"
_HOSTED_ZONE_PREFIX = "/hostedzone/"
_HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
CERTIFICATE_ARN_FORM = "arn:aws[-<partition>]:acm:<region>:<12-digit account>:certificate/<uuid>"
_CERTIFICATE_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:acm:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):[0-9]{12}:"
    r"certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)

# How long a function trusts a secret it read from SSM (IRIS_SECRET_MAX_AGE_S): bounds how long
# a key changed outside Pulumi takes to reach warm containers.
SECRET_MAX_AGE_RANGE_SECONDS = (10, 3_600)

# The most a day's LLM token budget may be (about $600 a day at gpt-4o-mini's output price);
# the backend refuses more too (IRIS_LLM_DAILY_TOKEN_BUDGET).
MAX_DAILY_TOKEN_BUDGET = 1_000_000_000
# The most calls each container may make without a reservation while the budget's counter fails
# (the backend refuses more too: IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER).
MAX_FAIL_OPEN_CALLS_PER_CONTAINER = 100

SECRET_KEYS = ("openaiApiKey", "apiKeys")
# Stacks whose names start with this are production: stricter checks, louder warnings.
PRODUCTION_PREFIX = "prod"
# The longest name IRIS derives from it, iris-<stack>-llm-budget-80-percent, is far below every
# limit; 30 leaves every program's names (a bucket: 63 characters) room.
MAX_STACK_NAME_LENGTH = 30
_ORIGIN = re.compile(r"(https?)://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)(:[0-9]{1,5})?")


class ConfigError(ValueError):
    """The stack configuration is invalid; `problems` lists every bad key and what is allowed."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack '{stack}' has invalid configuration:\n{listing}")


class ProgramConfig:
    """What the typed config of every program on these components derives from its stack name
    and architecture (fields of the dataclass that inherits this): production or not, the image
    platform, and the prefixes of physical names and of SSM parameters (`APP`-<stack>)."""

    APP: ClassVar[str]
    stack: str
    architecture: str

    @property
    def is_production(self) -> bool:
        return is_production(self.stack)

    @property
    def platform(self) -> str:
        return PLATFORMS[self.architecture]

    @property
    def names(self) -> StackNames:
        """Every physical name the stack declares, each carrying the program and the stack."""
        return StackNames(self.APP, self.stack)

    @property
    def name_prefix(self) -> str:
        """`<app>-<stack>`, the start of every physical name that cannot hold a '/'."""
        return self.names.prefix

    @property
    def parameter_prefix(self) -> str:
        return self.names.parameter_prefix

    def warnings(self) -> list[str]:
        return []


_Config = TypeVar("_Config", bound=ProgramConfig)


def with_secret_outputs(checked: _Config, keys: ConfigKeys, secrets: Mapping[str, Any]) -> _Config:
    """The checked config with each secret as a secret Output, its warnings reported with
    pulumi.log.warn: the last step of every program's from_pulumi."""
    config = dataclasses.replace(checked, **keys.secret_outputs(secrets))  # type: ignore[type-var]
    for message in config.warnings():
        pulumi.log.warn(message)
    return config


@dataclass(frozen=True)
class StackConfig(ProgramConfig):
    """Every `iris-infra:` setting of one stack. Field names mirror the camelCase config keys."""

    APP: ClassVar[str] = "iris"

    stack: str
    # Secrets: plain strings when validated offline, secret Outputs when read from Pulumi.
    openai_api_key: pulumi.Input[str] = field(repr=False)
    api_keys: pulumi.Input[str] | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ("http://localhost:5173",)
    openai_model: str = "gpt-4o-mini-2024-07-18"
    openai_max_tokens: int = 512
    memory_mb: int = 1024
    timeout_seconds: int = 30
    architecture: str = "arm64"
    log_retention_days: int = 14
    throttle_burst_limit: int = 20
    throttle_rate_limit: int = 10
    reserved_concurrency: int | None = None
    cache_ttl_hours: int = 24
    authorizer_cache_ttl_seconds: int = 300
    warmup_interval_minutes: int = 0
    secret_max_age_seconds: int = 300
    image_uri: str | None = None
    provisioned_concurrency: int = 0
    alarm_email: str | None = None
    custom_domain: str | None = None
    hosted_zone_id: str | None = None
    certificate_arn: str | None = None
    disable_execute_api_endpoint: bool = False
    # Tokens the API function may spend on the model per UTC day, all containers together.
    llm_daily_token_budget: int = 1_000_000
    # Calls each container may make without a reservation while the budget's counter fails;
    # 0: none (every uncached analyze answers 503 llm_budget_unavailable meanwhile).
    llm_budget_fail_open_calls_per_container: int = 0
    # Not an iris-infra key: `aws:region`, when the stack sets it, to check the region of
    # imageUri and certificateArn.
    aws_region: str | None = None

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError(self.stack, problems)

    @classmethod
    def from_raw(
        cls, stack: str, raw: Mapping[str, Any], *, aws_region: str | None = None
    ) -> StackConfig:
        """Validate raw values keyed by config key (`memoryMb`: "1024" or 1024) offline."""
        problems: list[str] = []
        values = _KEYS.parse(raw, problems)
        if "hosted_zone_id" in values:
            values["hosted_zone_id"] = values["hosted_zone_id"].removeprefix(_HOSTED_ZONE_PREFIX)
        return construct(
            cls,
            stack,
            problems,
            openai_api_key=values.pop("openai_api_key", ""),
            aws_region=aws_region,
            **values,
        )

    @classmethod
    def from_pulumi(cls) -> StackConfig:
        """The running stack's configuration; secrets stay secret Outputs, never plain strings.

        The secrets are checked as plain text first, like every other value (apiKeys' keys
        can only be checked so), then kept only as secret Outputs.
        """
        raw, secrets = _KEYS.read_engine()
        checked = cls.from_raw(
            pulumi.get_stack(), raw, aws_region=pulumi.Config("aws").get("region")
        )
        return with_secret_outputs(checked, _KEYS, secrets)

    @property
    def openai_max_retries(self) -> int:
        """One retry when both attempts still get MIN_SECONDS_PER_ATTEMPT, else none."""
        return 1 if self._openai_budget_seconds / 2 >= MIN_SECONDS_PER_ATTEMPT else 0

    @property
    def openai_timeout_seconds(self) -> float:
        """Per-attempt OpenAI timeout: from 3 s up, every attempt plus the margin fits."""
        per_attempt = self._openai_budget_seconds / (self.openai_max_retries + 1)
        return max(MIN_OPENAI_TIMEOUT_SECONDS, per_attempt)

    @property
    def _openai_budget_seconds(self) -> int:
        return min(self.timeout_seconds, API_GATEWAY_TIMEOUT_SECONDS) - OPENAI_MARGIN_SECONDS

    def warnings(self) -> list[str]:
        """Valid but risky choices, reported with pulumi.log.warn."""
        warnings = []
        if self.is_production and self.api_keys is None:
            warnings.append(
                f"stack '{self.stack}' has no apiKeys: /api/iris/* is open to anyone who finds "
                "the URL and every call spends OpenAI credit; set one with "
                f"`pulumi config set --secret apiKeys --stack {self.stack}`, which asks for it"
            )
        if self.is_production and self.alarm_email is None:
            warnings.append(
                f"stack '{self.stack}' has no alarmEmail: it has no alarms, and nobody hears "
                "when the API fails; set one with "
                f"`pulumi config set alarmEmail <address> --stack {self.stack}`"
            )
        if self.disable_execute_api_endpoint and self.hosted_zone_id is None:
            warnings.append(
                "disableExecuteApiEndpoint turns the execute-api endpoint off: the API answers "
                f"only at https://{self.custom_domain} once your DNS points it at the stack's "
                "dnsTarget output"
            )
        if self.openai_timeout_seconds < MIN_SECONDS_PER_ATTEMPT:
            warnings.append(
                f"timeoutSeconds={self.timeout_seconds} gives the OpenAI call "
                f"{self.openai_timeout_seconds:g} s per attempt, fewer than "
                f"{MIN_SECONDS_PER_ATTEMPT} s: analyses will often time out (JSON 504); "
                f"{MIN_SECONDS_PER_ATTEMPT + OPENAI_MARGIN_SECONDS} or more leaves "
                f"{MIN_SECONDS_PER_ATTEMPT} s after the {OPENAI_MARGIN_SECONDS} s margin"
            )
        return warnings

    def _problems(self) -> list[str]:
        problems = stack_name_problems(self.stack)
        if _is_blank(self.openai_api_key):
            problems.append(
                "openaiApiKey is not set; set it with "
                f"`pulumi config set --secret openaiApiKey --stack {self.stack}`, which asks for "
                f"the key, and commit Pulumi.{self.stack}.yaml: CI reads the secret from it"
            )
        if isinstance(self.api_keys, str):
            # The authorizer's own parsing: a key refused here could never authorize anyone.
            problems.extend(key_problems(self.api_keys))
        problems.extend(origin_problems(self.cors_origins, self.stack))
        if not self.openai_model.strip():
            problems.append("openaiModel is empty; give a model name, e.g. gpt-4o-mini-2024-07-18")
        check_range(problems, "openaiMaxTokens", self.openai_max_tokens, 1, 16_384)
        check_range(problems, "memoryMb", self.memory_mb, *MEMORY_RANGE_MB)
        problems.extend(timeout_problems(self.timeout_seconds))
        problems.extend(architecture_problems(self.architecture))
        problems.extend(log_retention_problems(self.log_retention_days))
        check_range(problems, "throttleBurstLimit", self.throttle_burst_limit, 1, 5_000)
        check_range(problems, "throttleRateLimit", self.throttle_rate_limit, 1, 10_000)
        if self.reserved_concurrency is not None:
            check_range(
                problems,
                "reservedConcurrency",
                self.reserved_concurrency,
                1,
                MAX_CONCURRENCY,
                "(0 would stop the function; remove the key for unreserved concurrency): "
                + CONCURRENCY_QUOTA_NOTE,
            )
        problems.extend(
            provisioned_concurrency_problems(
                self.provisioned_concurrency, self.reserved_concurrency
            )
        )
        if self.image_uri is not None:
            problems.extend(image_uri_problems(self.image_uri, self.aws_region))
        problems.extend(alarm_email_problems(self.alarm_email))
        check_range(problems, "cacheTtlHours", self.cache_ttl_hours, 1, 720)
        check_range(
            problems,
            "authorizerCacheTtlSeconds",
            self.authorizer_cache_ttl_seconds,
            0,
            3_600,
            "(API Gateway's limit; 0 turns the authorizer cache off)",
        )
        check_range(
            problems,
            "secretMaxAgeSeconds",
            self.secret_max_age_seconds,
            *SECRET_MAX_AGE_RANGE_SECONDS,
            "(SSM's GetParameter throughput is shared by the whole account and Region)",
        )
        check_range(
            problems,
            "llmDailyTokenBudget",
            self.llm_daily_token_budget,
            0,
            MAX_DAILY_TOKEN_BUDGET,
            "(tokens per UTC day; 0 = no cap)",
        )
        check_range(
            problems,
            "llmBudgetFailOpenCallsPerContainer",
            self.llm_budget_fail_open_calls_per_container,
            0,
            MAX_FAIL_OPEN_CALLS_PER_CONTAINER,
            "(calls each container may make unreserved while the token counter fails; each "
            "can cost openaiMaxTokens + 80,367 tokens: a 20,000-character text of 4-byte "
            "characters)",
        )
        if not (self.warmup_interval_minutes == 0 or 1 <= self.warmup_interval_minutes <= 60):
            problems.append(
                f"warmupIntervalMinutes={self.warmup_interval_minutes} is out of range; "
                "allowed 0 (no warm-up) or 1-60"
            )
        problems.extend(self._domain_problems())
        return problems

    def _domain_problems(self) -> list[str]:
        if self.custom_domain is None:
            stray = {
                "hostedZoneId": self.hosted_zone_id and repr(self.hosted_zone_id),
                "certificateArn": self.certificate_arn and repr(self.certificate_arn),
                "disableExecuteApiEndpoint": self.disable_execute_api_endpoint and "true",
            }
            return [
                f"{key}={shown} is set but customDomain is not: it only applies to a custom "
                "domain; set customDomain too, or remove it with "
                f"`pulumi config rm {key} --stack {self.stack}`"
                for key, shown in stray.items()
                if shown
            ]
        problems = []
        flaw = domain_name_flaw(self.custom_domain)
        if flaw is not None:
            problems.append(
                f"customDomain={self.custom_domain!r} {flaw}; expected {DOMAIN_NAME_FORM}"
            )
        if self.hosted_zone_id is None and self.certificate_arn is None:
            problems.append(
                f"customDomain={self.custom_domain!r} needs hostedZoneId (the Route 53 zone "
                "where the stack validates a new certificate and creates the domain's records) "
                "or certificateArn (an issued ACM certificate for it, with DNS kept elsewhere)"
            )
        if self.hosted_zone_id is not None and not _HOSTED_ZONE_ID.fullmatch(self.hosted_zone_id):
            problems.append(
                f"hostedZoneId={self.hosted_zone_id!r} is not a Route 53 hosted zone id; expected "
                f"{HOSTED_ZONE_ID_FORM}, e.g. Z0123456789ABCDEFGHIJ from "
                "`aws route53 list-hosted-zones-by-name --dns-name <zone>`"
            )
        if self.certificate_arn is not None:
            problems.extend(certificate_arn_problems(self.certificate_arn, self.aws_region))
        return problems


def _key_of(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class ConfigKeys:
    """The `<project>:` keys of one settings dataclass (its fields, camelCased), and how a raw
    value of each is read: as the field's type, or kept as given for a secret."""

    project: str
    field_by_key: Mapping[str, str]
    int_keys: frozenset[str]
    bool_keys: frozenset[str]
    secret_keys: tuple[str, ...]

    @classmethod
    def of(
        cls, project: str, settings: type, secret_keys: tuple[str, ...], not_keys: tuple[str, ...]
    ) -> ConfigKeys:
        keyed = [(_key_of(f.name), f) for f in fields(settings) if f.name not in not_keys]
        return cls(
            project=project,
            field_by_key={key: f.name for key, f in keyed},
            int_keys=frozenset(key for key, f in keyed if f.type in ("int", "int | None")),
            bool_keys=frozenset(key for key, f in keyed if f.type == "bool"),
            secret_keys=secret_keys,
        )

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.field_by_key)

    def parse(self, raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
        """Field name -> value for every key of `raw` that is set and readable; an unknown key
        or an unreadable value is recorded in `problems` instead."""
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = self.field_by_key.get(key)
            if name is None:
                problems.append(unknown_key_problem(key, self.project, self.keys))
            elif value is not None:
                parsed = self._parse(key, value, problems)
                if parsed is not None:
                    values[name] = parsed
        return values

    def read_engine(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The running stack's raw values by key, and those of the secret keys alone.

        A misspelt key (memoryMB) is there by name with no value: its value, maybe a secret,
        is not read.
        """
        config = pulumi.Config(self.project)
        raw: dict[str, Any] = {
            key: config.get(key) for key in self.keys if key not in self.secret_keys
        }
        secrets = {key: get_config(config.full_key(key)) for key in self.secret_keys}
        raw.update(secrets)
        raw.update(dict.fromkeys(key for key in self._engine_keys() if key not in raw))
        return raw, secrets

    def secret_outputs(self, secrets: Mapping[str, Any]) -> dict[str, pulumi.Output[Any]]:
        """Field name -> secret Output for each secret that is set."""
        return {
            self.field_by_key[key]: pulumi.Output.secret(value)
            for key, value in secrets.items()
            if value is not None
        }

    def _engine_keys(self) -> list[str]:
        """Every key of this project the engine handed the program, without the namespace, and
        every whole key in a namespace that looks like a misspelling of a known one.

        The CLI passes the stack's config as JSON in PULUMI_CONFIG; mocks and inline Automation
        API programs set it in the runtime's config map instead. pulumi.Config can only look
        keys up.
        """
        prefix = f"{self.project}:"
        keys = {*ENGINE_CONFIG.get(), *get_config_env()}
        own = sorted(key.removeprefix(prefix) for key in keys if key.startswith(prefix))
        return own + sorted(key for key in keys if is_misspelt_namespace(key, self.project))

    def _parse(self, key: str, value: Any, problems: list[str]) -> Any:
        """One raw value as the field's type, or None after recording why it cannot be."""
        if key in self.secret_keys:
            return value
        if key == "corsOrigins":
            origins = _parse_list(value)
            if origins is None:
                problems.append(
                    f"corsOrigins={value!r} is not a list of origins; set it with "
                    "`pulumi config set --path 'corsOrigins[0]' https://app.example.com`"
                )
            return origins
        if key in self.int_keys:
            number = _parse_int(value)
            if number is None:
                problems.append(f"{key}={value!r} is not a whole number")
            return number
        if key in self.bool_keys:
            flag = _parse_bool(value)
            if flag is None:
                problems.append(f"{key}={value!r} is not a boolean; use true or false")
            return flag
        return str(value).strip()


def construct(settings: type, stack: str, problems: list[str], **values: Any) -> Any:
    """`settings(stack=stack, **values)` once the values have none of `problems`; otherwise one
    ConfigError with those and the settings' own problems, so every one is reported at once."""
    try:
        config = settings(stack=stack, **values)
    except ConfigError as error:
        problems = [*problems, *error.problems]
    else:
        if not problems:
            return config
    raise ConfigError(stack, problems)


# Fields that are not `iris-infra:` keys.
NOT_KEYS = ("stack", "aws_region")
_KEYS = ConfigKeys.of(PROJECT, StackConfig, SECRET_KEYS, NOT_KEYS)
CONFIG_KEYS = _KEYS.keys


def _parse_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _parse_bool(value: Any) -> bool | None:
    """A flag as `pulumi config set` stores it ("true") or a stack file holds it (true)."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value).strip().lower())


def _parse_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def origin_problems(origins: tuple[str, ...], stack: str) -> list[str]:
    """corsOrigins: browser origins, and '*' alone and never on a production stack."""
    if not origins:
        return ["corsOrigins is empty; list the frontend origins, e.g. https://app.example.com"]
    problems = []
    if "*" in origins:
        if is_production(stack):
            problems.append(
                f"corsOrigins contains '*', which is refused on stack '{stack}' (stacks named "
                "prod*): list the frontend's origins, e.g. https://app.example.com"
            )
        elif len(origins) > 1:
            problems.append("corsOrigins mixes '*' with other origins; use '*' alone or none")
    for origin in origins:
        if origin != "*" and not _is_origin(origin):
            problems.append(
                f"corsOrigins entry {origin!r} is not an origin; use scheme://host[:port] with "
                "http or https and no trailing slash or path, e.g. https://app.example.com"
            )
    return problems


def _is_origin(origin: str) -> bool:
    match = _ORIGIN.fullmatch(origin)
    return bool(match) and (match.group(4) is None or 1 <= int(match.group(4)[1:]) <= 65_535)


def image_uri_problems(image_uri: str, aws_region: str | None = None) -> list[str]:
    """Why `image_uri` cannot be deployed as is, if it cannot: Lambda needs a digest (a tag is
    mutable, and `repo:tag@sha256:` is refused) in a private ECR repository of its own region."""
    reason = _image_uri_flaw(image_uri, aws_region)
    if reason is None:
        return []
    return [
        f"imageUri={image_uri!r} {reason}; expected {IMAGE_URI_FORM}, e.g. the stack's "
        "imageUri output or a digest listed by `aws ecr describe-images`"
    ]


def _image_uri_flaw(image_uri: str, aws_region: str | None) -> str | None:
    registry, slash, rest = image_uri.partition("/")
    reference, at, digest = rest.partition("@")
    registry_match = _ECR_REGISTRY.fullmatch(registry) if slash else None
    if registry_match is None:
        return (
            "is not in a private ECR registry: Lambda pulls images only from ECR, and this "
            "stack deploys only what is in its own repository"
        )
    repository, colon, _ = reference.partition(":")
    if colon and not at:
        return "names a tag, which can be moved to another image: give the image's digest"
    if colon:
        return "has a tag before its digest, a form Lambda refuses: drop the ':<tag>'"
    if not at:
        return "has no digest"
    if not _DIGEST.fullmatch(digest):
        return f"has a malformed digest {digest!r}"
    if not (2 <= len(repository) <= 256 and _ECR_REPOSITORY.fullmatch(repository)):
        return f"has an invalid ECR repository name {repository!r}"
    region = registry_match.group(1)
    if aws_region and region != aws_region:
        return (
            f"is in region {region}, not the stack's aws:region {aws_region}: Lambda pulls "
            "images only from its own region"
        )
    return None


def _is_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL_LENGTH and bool(_EMAIL.fullmatch(value))


def domain_name_flaw(name: str) -> str | None:
    """Why `name` cannot be a custom domain, if it cannot."""
    if not name:
        return "is empty: give a host name, or remove the key"
    if "://" in name:
        return "is a URL, not a host name: drop the scheme"
    if name.endswith("."):
        return "ends with a dot: drop it"
    if name != name.lower():
        return f"has upper-case letters: use {name.lower()!r}"
    for character, what in _NOT_IN_HOST_NAMES.items():
        if character in name:
            return f"has {what}"
    labels = name.split(".")
    if len(labels) < 2:
        return "has one label: give the whole name, e.g. api.example.com"
    if len(name) > MAX_DOMAIN_NAME_LENGTH:
        return f"is {len(name)} characters long"
    bad = [label for label in labels if not _DOMAIN_LABEL.fullmatch(label)]
    if bad:
        return f"has the invalid label {bad[0]!r}"
    if labels[-1].isdigit():
        return "is an IP address, not a host name"
    return None


def certificate_arn_problems(arn: str, aws_region: str | None = None) -> list[str]:
    """Why `arn` cannot serve the API's custom domain, if it cannot: an HTTP API's domain is
    REGIONAL and takes only an ACM certificate from the API's own region."""
    match = _CERTIFICATE_ARN.fullmatch(arn)
    if match is None:
        return [
            f"certificateArn={arn!r} is not an ACM certificate ARN; expected "
            f"{CERTIFICATE_ARN_FORM}, e.g. from `aws acm list-certificates --region <region>`"
        ]
    region = match.group("region")
    if aws_region and region != aws_region:
        return [
            f"certificateArn={arn!r} is in region {region}, not the stack's aws:region "
            f"{aws_region}: an HTTP API's custom domain is REGIONAL and takes a certificate from "
            f"its own region; request or import one in {aws_region}"
        ]
    return []


def _is_blank(value: pulumi.Input[str] | None) -> bool:
    """Missing or whitespace; an Output (a real secret) is taken as present, never unwrapped."""
    return value is None or (isinstance(value, str) and not value.strip())


def check_range(
    problems: list[str], key: str, value: int, low: int, high: int, note: str = ""
) -> None:
    if not low <= value <= high:
        problems.append(
            f"{key}={value} is out of range; allowed {low}-{high}" + (f" {note}" if note else "")
        )


def is_production(stack: str) -> bool:
    return stack.startswith(PRODUCTION_PREFIX)


def stack_name_problems(stack: str, longest: int = MAX_STACK_NAME_LENGTH) -> list[str]:
    """The stack's name goes into every physical name (iris_infra.names): one lower-case word,
    so that no stack's names start with another's; `longest` is what the longest name leaves."""
    if STACK_NAME_PATTERN.fullmatch(stack) and len(stack) <= longest:
        return []
    return [
        f"stack name {stack!r} cannot name this program's resources; use 1-{longest} lower-case "
        "letters and digits, starting with a letter (e.g. dev, prod, prodeu): every physical "
        "name is <app>-<stack>-..., and with a '-' or '_' in it one stack's names (iris-dev-...) "
        "would match another's (iris-dev-eu-...) in the deployer's policy; S3 and ECR take no "
        "upper case"
    ]


def timeout_problems(timeout_seconds: int, longer: str = "") -> list[str]:
    """timeoutSeconds behind an HTTP API; `longer` says what a longer job needs instead."""
    allowed = f"allowed {MIN_TIMEOUT_SECONDS}-{API_GATEWAY_TIMEOUT_SECONDS}"
    if timeout_seconds > API_GATEWAY_TIMEOUT_SECONDS:
        return [
            f"timeoutSeconds={timeout_seconds} is above {API_GATEWAY_TIMEOUT_SECONDS}: "
            f"an HTTP API integration cannot wait longer than {API_GATEWAY_TIMEOUT_SECONDS} s, "
            f"so a longer function timeout only turns slow answers into 503s; {allowed}"
            + (f"; {longer}" if longer else "")
        ]
    if timeout_seconds < MIN_TIMEOUT_SECONDS:
        return [f"timeoutSeconds={timeout_seconds} is out of range; {allowed}"]
    return []


def architecture_problems(architecture: str) -> list[str]:
    if architecture in PLATFORMS:
        return []
    return [f"architecture={architecture!r} is not allowed; use one of {', '.join(PLATFORMS)}"]


def log_retention_problems(days: int) -> list[str]:
    if days in LOG_RETENTION_DAYS:
        return []
    return [
        f"logRetentionDays={days} is not a CloudWatch Logs retention; "
        f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
    ]


def alarm_email_problems(alarm_email: str | None) -> list[str]:
    if alarm_email is None or _is_email(alarm_email):
        return []
    return [
        f"alarmEmail={alarm_email!r} is not an email address; give one address, "
        "e.g. ops@example.com, or remove the key for a stack without alarms"
    ]


def provisioned_concurrency_problems(value: int, reserved: int | None = None) -> list[str]:
    """provisionedConcurrency: within what a default account may reserve, and never above the
    function's own reservation when it has one."""
    if not 0 <= value <= MAX_CONCURRENCY:
        return [
            f"provisionedConcurrency={value} is out of range; allowed 0-{MAX_CONCURRENCY} "
            f"(0 = none): {CONCURRENCY_QUOTA_NOTE}"
        ]
    if reserved is not None and value > reserved:
        return [
            f"provisionedConcurrency={value} is above reservedConcurrency={reserved}: Lambda "
            "cannot provision more instances than the function may run; allowed "
            f"0-{reserved}, or raise reservedConcurrency"
        ]
    return []
