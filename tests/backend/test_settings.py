"""Settings.from_env: defaults, the LLM provider choice, and refusals that name what is wrong."""

from __future__ import annotations

import pytest

from iris.settings import (
    API_GATEWAY_LIMIT_S,
    LLM_BUDGET_S,
    MAX_BODY_LIMIT_BYTES,
    Settings,
    SettingsError,
    parse_log_level,
)

LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.llm_provider == "offline"
    assert settings.openai_model == "gpt-4o-mini-2024-07-18"
    assert settings.openai_max_tokens == 512
    assert settings.openai_timeout_s == 12.0
    assert settings.openai_max_retries == 1
    assert settings.openai_base_url is None
    assert settings.openai_api_key is None
    assert settings.openai_api_key_param is None
    assert settings.openai_configured is False
    assert settings.cache_table is None
    assert settings.cache_ttl_hours == 24
    assert settings.max_body_bytes == 1_048_576
    assert settings.log_level == "INFO"
    assert settings.require_authorizer is False


def test_blank_values_fall_back_to_the_defaults() -> None:
    blank = {name: "  " for name in ("OPENAI_MODEL", "OPENAI_MAX_TOKENS", "IRIS_CACHE_TABLE")}

    assert Settings.from_env(blank) == Settings()


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "IRIS_LLM_PROVIDER": "OpenAI",
            "OPENAI_MODEL": "gpt-4o-2024-08-06",
            "OPENAI_MAX_TOKENS": "1024",
            "OPENAI_TIMEOUT_S": "9",
            "OPENAI_MAX_RETRIES": "2",
            "OPENAI_BASE_URL": "http://127.0.0.1:9999/v1",
            "OPENAI_API_KEY_PARAM": "/iris/dev/openai-api-key",
            "IRIS_CACHE_TABLE": "iris-dev-cache",
            "IRIS_CACHE_TTL_HOURS": "48",
            "IRIS_MAX_BODY_BYTES": "65536",
            "IRIS_LOG_LEVEL": "debug",
            "IRIS_REQUIRE_AUTHORIZER": "true",
        }
    )

    assert settings == Settings(
        llm_provider="openai",
        openai_model="gpt-4o-2024-08-06",
        openai_max_tokens=1024,
        openai_timeout_s=9.0,
        openai_max_retries=2,
        openai_base_url="http://127.0.0.1:9999/v1",
        openai_api_key_param="/iris/dev/openai-api-key",
        cache_table="iris-dev-cache",
        cache_ttl_hours=48,
        max_body_bytes=65536,
        log_level="DEBUG",
        require_authorizer=True,
    )


@pytest.mark.parametrize(
    ("environ", "provider", "configured"),
    [
        pytest.param({}, "offline", False, id="no-key"),
        pytest.param({"OPENAI_API_KEY": "sk-test"}, "openai", True, id="key"),
        pytest.param({"OPENAI_API_KEY_PARAM": "/iris/dev/key"}, "openai", True, id="key-param"),
        pytest.param(
            {"OPENAI_API_KEY": "sk-test", "IRIS_LLM_PROVIDER": "offline"},
            "offline",
            True,
            id="explicit-offline-wins",
        ),
        pytest.param({"IRIS_LLM_PROVIDER": "openai"}, "openai", False, id="openai-without-key"),
    ],
)
def test_provider_follows_the_key(environ: dict[str, str], provider: str, configured: bool) -> None:
    settings = Settings.from_env(environ)

    assert settings.llm_provider == provider
    assert settings.openai_configured is configured


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:11434/v1", "https://llm.example.com/openai/v1/"],
)
def test_a_base_url_without_a_key_is_refused_naming_both_variables(base_url: str) -> None:
    """Without a key the provider would be offline, and the endpoint would never be called."""
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"OPENAI_BASE_URL": base_url})

    message = str(raised.value)
    for named in (f"OPENAI_BASE_URL={base_url!r}", "OPENAI_API_KEY ", "OPENAI_API_KEY_PARAM"):
        assert named in message
    assert "IRIS_LLM_PROVIDER=offline" in message


@pytest.mark.parametrize(
    ("environ", "provider"),
    [
        pytest.param({"OPENAI_API_KEY": "sk-local"}, "openai", id="key"),
        pytest.param({"OPENAI_API_KEY_PARAM": "/iris/dev/key"}, "openai", id="key-param"),
        pytest.param({"IRIS_LLM_PROVIDER": "offline"}, "offline", id="offline-chosen"),
        pytest.param({"IRIS_LLM_PROVIDER": "openai"}, "openai", id="openai-chosen"),
    ],
)
def test_a_base_url_with_a_key_or_a_chosen_provider_is_accepted(
    environ: dict[str, str], provider: str
) -> None:
    settings = Settings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1", **environ})

    assert settings.llm_provider == provider
    assert settings.openai_base_url == "http://127.0.0.1:8080/v1"


def test_credentials_in_a_refused_base_url_are_not_shown() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"OPENAI_BASE_URL": "https://user:hunter2-pass@llm.example.com/v1"})

    message = str(raised.value)
    assert "hunter2" not in message and "user" not in message.split("OPENAI_API_KEY")[0]
    assert "'https://***@llm.example.com/v1'" in message


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("IRIS_LLM_PROVIDER", "anthropic", "use one of ('openai', 'offline')"),
        ("OPENAI_MAX_TOKENS", "0", "allowed 1-16384"),
        ("OPENAI_MAX_TOKENS", "16385", "allowed 1-16384"),
        ("OPENAI_MAX_TOKENS", "many", "is not a whole number"),
        ("OPENAI_MAX_TOKENS", "1.5", "is not a whole number"),
        ("OPENAI_TIMEOUT_S", "0", "must be above 0"),
        ("OPENAI_TIMEOUT_S", "-3", "must be above 0"),
        ("OPENAI_TIMEOUT_S", "nan", "must be above 0"),
        ("OPENAI_TIMEOUT_S", "soon", "is not a number"),
        ("OPENAI_MAX_RETRIES", "-1", "allowed 0-5"),
        ("OPENAI_MAX_RETRIES", "6", "allowed 0-5"),
        ("OPENAI_MAX_RETRIES", "two", "is not a whole number"),
        ("IRIS_CACHE_TTL_HOURS", "0", "allowed 1-8760"),
        ("IRIS_CACHE_TTL_HOURS", "8761", "allowed 1-8760"),
        ("IRIS_MAX_BODY_BYTES", "0", f"allowed 1-{MAX_BODY_LIMIT_BYTES}"),
        ("IRIS_MAX_BODY_BYTES", "6291456", f"allowed 1-{MAX_BODY_LIMIT_BYTES}"),
        ("IRIS_MAX_BODY_BYTES", "1MB", "is not a whole number"),
        ("IRIS_LOG_LEVEL", "LOUD", "use DEBUG, INFO, WARNING or ERROR"),
        ("IRIS_REQUIRE_AUTHORIZER", "yes", "use true or false"),
        ("IRIS_REQUIRE_AUTHORIZER", "1", "use true or false"),
    ],
)
def test_invalid_value_names_variable_value_and_what_is_allowed(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})

    message = str(raised.value)
    assert name in message
    assert value.lower() in message.lower()
    assert allowed in message


@pytest.mark.parametrize(
    ("value", "level"),
    [(None, "INFO"), ("", "INFO"), ("  ", "INFO"), ("debug", "DEBUG"), (" Warning\n", "WARNING")],
)
def test_log_level_is_any_case_and_blank_means_info(value: str | None, level: str) -> None:
    assert parse_log_level(value) == level
    assert Settings.from_env({} if value is None else {"IRIS_LOG_LEVEL": value}).log_level == level
    assert Settings(log_level=value or "").log_level == level


@pytest.mark.parametrize("value", ["LOUD", "verbose", "10", "CRITICAL", "info,debug"])
def test_a_bad_log_level_names_the_variable_the_value_and_the_levels(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_log_level(value)

    assert str(raised.value) == (
        f"IRIS_LOG_LEVEL={value!r} is not allowed; use DEBUG, INFO, WARNING or ERROR"
    )


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"OPENAI_MAX_TOKENS": "0", "IRIS_LOG_LEVEL": "LOUD"})

    assert "OPENAI_MAX_TOKENS=0" in str(raised.value)
    assert "IRIS_LOG_LEVEL='LOUD'" in str(raised.value)


@pytest.mark.parametrize(
    ("timeout", "retries"),
    [("15", "1"), ("10", "2"), ("29", "0"), ("inf", "0")],
)
def test_timeout_times_attempts_over_the_budget_is_refused(timeout: str, retries: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"OPENAI_TIMEOUT_S": timeout, "OPENAI_MAX_RETRIES": retries})

    message = str(raised.value)
    assert f"OPENAI_TIMEOUT_S={float(timeout):g}" in message
    assert f"{int(retries) + 1} attempts" in message
    assert f"{LLM_BUDGET_S:g} s budget" in message
    assert f"{API_GATEWAY_LIMIT_S:g} s integration limit" in message


@pytest.mark.parametrize(("timeout", "retries"), [("14", "1"), ("28", "0"), ("5.5", "4")])
def test_timeout_times_attempts_inside_the_budget_is_accepted(timeout: str, retries: str) -> None:
    settings = Settings.from_env({"OPENAI_TIMEOUT_S": timeout, "OPENAI_MAX_RETRIES": retries})

    assert settings.openai_timeout_s * (settings.openai_max_retries + 1) <= LLM_BUDGET_S
    assert LLM_BUDGET_S < API_GATEWAY_LIMIT_S


def test_largest_body_limit_fits_lambdas_payload_after_base64() -> None:
    base64_size = 4 * -(-MAX_BODY_LIMIT_BYTES // 3)

    assert base64_size < LAMBDA_PAYLOAD_LIMIT_BYTES
    assert Settings(max_body_bytes=MAX_BODY_LIMIT_BYTES).max_body_bytes == MAX_BODY_LIMIT_BYTES
    with pytest.raises(SettingsError, match="IRIS_MAX_BODY_BYTES"):
        Settings(max_body_bytes=MAX_BODY_LIMIT_BYTES + 1)


@pytest.mark.parametrize(
    ("value", "required"), [("true", True), ("TRUE", True), (" True ", True), ("false", False)]
)
def test_require_authorizer_is_a_boolean_in_any_case(value: str, required: bool) -> None:
    assert Settings.from_env({"IRIS_REQUIRE_AUTHORIZER": value}).require_authorizer is required


def test_api_key_is_kept_out_of_repr() -> None:
    settings = Settings.from_env({"OPENAI_API_KEY": "sk-live-do-not-print"})

    assert settings.openai_api_key == "sk-live-do-not-print"
    assert "sk-live-do-not-print" not in repr(settings)
    assert "sk-live-do-not-print" not in str(settings)


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(AttributeError):
        settings.llm_provider = "openai"  # type: ignore[misc]
