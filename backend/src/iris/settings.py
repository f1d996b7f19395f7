"""Runtime settings: one typed object read from the environment at start-up.

Only the standard library is imported here: this module is on the cold-start path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from lambda_kit import settings as kit
from lambda_kit.settings import DEFAULT_SECRET_MAX_AGE_S, SettingsError

# How long IRIS's functions trust a secret read from SSM: the kit's range, which the stack's
# config holds its own to.
from lambda_kit.settings import SECRET_MAX_AGE_RANGE_S as SECRET_MAX_AGE_RANGE_S

PROVIDERS = ("openai", "offline")
# Where the app keeps its Settings (Flask's app.extensions), for the views to read.
SETTINGS_EXTENSION = "iris.settings"

# API Gateway HTTP APIs give an integration 30 s at most. LLM_BUDGET_S is the deadline the
# analyze route gives each request (shorter when the Lambda invocation has less time left);
# OPENAI_TIMEOUT_S x attempts must fit in it so that every configured attempt can be made.
API_GATEWAY_LIMIT_S = 30.0
LLM_BUDGET_S = 28.0

# The most tokens a day's LLM budget may be (about $600 a day at gpt-4o-mini's output price):
# a larger number is a typo, not a cap.
MAX_DAILY_TOKEN_BUDGET = 1_000_000_000
# The most calls a container may make without a reservation when the budget's counter fails:
# the cap's worst case grows by this x containers x the most one call costs.
MAX_FAIL_OPEN_CALLS_PER_CONTAINER = 100

# Lambda's synchronous payload limit is 6 MB, and a binary body grows by a third in base64.
MAX_BODY_LIMIT_BYTES = 4_000_000


def parse_log_level(value: str | None) -> str:
    """IRIS_LOG_LEVEL as the level name `logging` takes: any case, blank means INFO.

    Shared by Settings and the authorizer (which reads only this variable).
    """
    return kit.parse_log_level(value, "IRIS_LOG_LEVEL")


def parse_secret_max_age(value: str | None) -> int:
    """IRIS_SECRET_MAX_AGE_S in whole seconds; blank means the default.

    Shared by Settings and the authorizer (which reads only its own variables).
    """
    return kit.parse_secret_max_age(value, "IRIS_SECRET_MAX_AGE_S")


def shown_url(url: str) -> str:
    """`url` as a message may show it: without a user name or password it may carry."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "(not a URL)"
    return parts._replace(netloc=f"***@{host}{port}").geturl()


@dataclass(frozen=True)
class Settings:
    llm_provider: str = "offline"
    openai_model: str = "gpt-4o-mini-2024-07-18"
    openai_max_tokens: int = 512
    openai_timeout_s: float = 12.0
    openai_max_retries: int = 1
    openai_base_url: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    openai_api_key_param: str | None = None
    cache_table: str | None = None
    cache_ttl_hours: int = 24
    secret_max_age_s: int = DEFAULT_SECRET_MAX_AGE_S
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    # Set beside apiKeys: /api/iris/* is then served only to requests the authorizer passed.
    require_authorizer: bool = False
    # Tokens all containers together may spend on the model per UTC day; 0 = no cap.
    llm_daily_token_budget: int = 0
    # Calls a container may make, in its life, when the budget's counter cannot reserve them.
    llm_budget_fail_open_calls_per_container: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.llm_provider not in PROVIDERS:
            problems.append(
                f"IRIS_LLM_PROVIDER={self.llm_provider!r} is not allowed; use one of {PROVIDERS}"
            )
        if not 1 <= self.openai_max_tokens <= 16_384:
            problems.append(
                f"OPENAI_MAX_TOKENS={self.openai_max_tokens} is out of range; allowed 1-16384"
            )
        # Written as `not > 0` so that NaN, which fails every comparison, is refused too.
        if not self.openai_timeout_s > 0:
            problems.append(f"OPENAI_TIMEOUT_S={self.openai_timeout_s} must be above 0")
        if not 0 <= self.openai_max_retries <= 5:
            problems.append(
                f"OPENAI_MAX_RETRIES={self.openai_max_retries} is out of range; allowed 0-5"
            )
        worst_case = self.openai_timeout_s * (self.openai_max_retries + 1)
        if worst_case > LLM_BUDGET_S:
            problems.append(
                f"OPENAI_TIMEOUT_S={self.openai_timeout_s:g} x {self.openai_max_retries + 1} "
                f"attempts (OPENAI_MAX_RETRIES={self.openai_max_retries}) = {worst_case:g} s "
                f"does not fit the {LLM_BUDGET_S:g} s budget under API Gateway's "
                f"{API_GATEWAY_LIMIT_S:g} s integration limit"
            )
        if not 1 <= self.cache_ttl_hours <= 8_760:
            problems.append(
                f"IRIS_CACHE_TTL_HOURS={self.cache_ttl_hours} is out of range; allowed 1-8760"
            )
        try:
            parse_secret_max_age(str(self.secret_max_age_s))
        except SettingsError as error:
            problems.append(str(error))
        if not 1 <= self.max_body_bytes <= MAX_BODY_LIMIT_BYTES:
            problems.append(
                f"IRIS_MAX_BODY_BYTES={self.max_body_bytes} is out of range; "
                f"allowed 1-{MAX_BODY_LIMIT_BYTES} (Lambda's 6 MB payload limit, base64 included)"
            )
        if not 0 <= self.llm_daily_token_budget <= MAX_DAILY_TOKEN_BUDGET:
            problems.append(
                f"IRIS_LLM_DAILY_TOKEN_BUDGET={self.llm_daily_token_budget} is out of range; "
                f"allowed 0-{MAX_DAILY_TOKEN_BUDGET} (0 = no cap)"
            )
        fail_open = self.llm_budget_fail_open_calls_per_container
        if not 0 <= fail_open <= MAX_FAIL_OPEN_CALLS_PER_CONTAINER:
            problems.append(
                f"IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER={fail_open} is out of range; "
                f"allowed 0-{MAX_FAIL_OPEN_CALLS_PER_CONTAINER} (0 = no call without a "
                "reservation)"
            )
        try:
            # Frozen: the normalised name ("debug" -> "DEBUG") is set the dataclass way.
            object.__setattr__(self, "log_level", parse_log_level(self.log_level))
        except SettingsError as error:
            problems.append(str(error))
        if problems:
            raise SettingsError("; ".join(problems))

    @property
    def openai_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_api_key_param)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, kind: type[int] | type[float], default: int | float):
            raw = text(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError:
                expected = "a whole number" if kind is int else "a number"
                raise SettingsError(f"{name}={raw!r} is not {expected}") from None

        def flag(name: str) -> bool:
            return kit.parse_flag(text(name), name)

        defaults = cls.__dataclass_fields__
        api_key, api_key_param = text("OPENAI_API_KEY"), text("OPENAI_API_KEY_PARAM")
        base_url = text("OPENAI_BASE_URL")
        chosen = text("IRIS_LLM_PROVIDER")
        if base_url and not (api_key or api_key_param or chosen):
            # The provider follows the key: without one, the offline analyzer would answer and
            # the endpoint named here would never be called, which nothing else would show.
            raise SettingsError(
                f"OPENAI_BASE_URL={shown_url(base_url)!r} is set but neither OPENAI_API_KEY nor "
                "OPENAI_API_KEY_PARAM is, so the offline analyzer would answer and that endpoint "
                "would never be called; set OPENAI_API_KEY (any value, for an endpoint that "
                "checks none), or unset OPENAI_BASE_URL, or set IRIS_LLM_PROVIDER=offline"
            )
        provider = chosen or ("openai" if api_key or api_key_param else "offline")
        return cls(
            llm_provider=provider.lower(),
            openai_model=text("OPENAI_MODEL") or defaults["openai_model"].default,
            openai_max_tokens=number(
                "OPENAI_MAX_TOKENS", int, defaults["openai_max_tokens"].default
            ),
            openai_timeout_s=number(
                "OPENAI_TIMEOUT_S", float, defaults["openai_timeout_s"].default
            ),
            openai_max_retries=number(
                "OPENAI_MAX_RETRIES", int, defaults["openai_max_retries"].default
            ),
            openai_base_url=base_url,
            openai_api_key=api_key,
            openai_api_key_param=api_key_param,
            cache_table=text("IRIS_CACHE_TABLE"),
            cache_ttl_hours=number(
                "IRIS_CACHE_TTL_HOURS", int, defaults["cache_ttl_hours"].default
            ),
            secret_max_age_s=number(
                "IRIS_SECRET_MAX_AGE_S", int, defaults["secret_max_age_s"].default
            ),
            max_body_bytes=number("IRIS_MAX_BODY_BYTES", int, defaults["max_body_bytes"].default),
            log_level=text("IRIS_LOG_LEVEL") or defaults["log_level"].default,
            require_authorizer=flag("IRIS_REQUIRE_AUTHORIZER"),
            llm_daily_token_budget=number(
                "IRIS_LLM_DAILY_TOKEN_BUDGET", int, defaults["llm_daily_token_budget"].default
            ),
            llm_budget_fail_open_calls_per_container=number(
                "IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER",
                int,
                defaults["llm_budget_fail_open_calls_per_container"].default,
            ),
        )


def current_settings() -> Settings:
    """The running app's settings, inside a request (Flask is imported only then)."""
    from flask import current_app

    return current_app.extensions[SETTINGS_EXTENSION]
