"""IRIS's stack configuration: every `iris-infra:` setting, read once, typed, and validated
before any resource is declared, with the checks it shares with every program
(iris_infra.config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi

from iris_infra.config.checks import (
    API_GATEWAY_TIMEOUT_SECONDS,
    CONCURRENCY_QUOTA_NOTE,
    DOMAIN_NAME_FORM,
    HOSTED_ZONE_PREFIX,
    MAX_CONCURRENCY,
    MEMORY_RANGE_MB,
    alarm_email_problems,
    architecture_problems,
    certificate_arn_problems,
    check_range,
    domain_name_flaw,
    hosted_zone_id_problems,
    image_uri_problems,
    log_retention_problems,
    origin_problems,
    provisioned_concurrency_problems,
    stack_name_problems,
    timeout_problems,
)
from iris_infra.config.errors import ConfigError, construct
from iris_infra.config.keys import ConfigKeys
from iris_infra.config.program import ProgramConfig, with_secret_outputs
from lambda_kit.api_keys import key_problems

PROJECT = "iris-infra"

# The OpenAI calls get the function's time less this margin for the rest of the request. They
# are retried once when both attempts can have MIN_SECONDS_PER_ATTEMPT; an attempt shorter than
# that often times out, and the backend then answers 504 within the function's remaining time.
OPENAI_MARGIN_SECONDS = 2
MIN_SECONDS_PER_ATTEMPT = 3
MIN_OPENAI_TIMEOUT_SECONDS = 1

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
            values["hosted_zone_id"] = values["hosted_zone_id"].removeprefix(HOSTED_ZONE_PREFIX)
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
        raw, secrets = _KEYS.read_pulumi()
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
        if self.hosted_zone_id is not None:
            problems.extend(hosted_zone_id_problems(self.hosted_zone_id))
        if self.certificate_arn is not None:
            problems.extend(certificate_arn_problems(self.certificate_arn, self.aws_region))
        return problems


# Fields that are not `iris-infra:` keys.
NOT_KEYS = ("stack", "aws_region")
_KEYS = ConfigKeys.of(PROJECT, StackConfig, SECRET_KEYS, NOT_KEYS)
CONFIG_KEYS = _KEYS.keys


def _is_blank(value: pulumi.Input[str] | None) -> bool:
    """Missing or whitespace; an Output (a real secret) is taken as present, never unwrapped."""
    return value is None or (isinstance(value, str) and not value.strip())
