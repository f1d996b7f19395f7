"""IRIS's two functions, both from the backend's image: the analysis API and the X-API-Key
authorizer, each with its settings and the names (never the values) of the secrets it reads.
"""

from __future__ import annotations

import pulumi

from iris_infra.apps.iris.config import StackConfig
from iris_infra.components.authorizer_function import (
    authorizer_function_args as shared_authorizer_function_args,
)
from iris_infra.components.cache_table import CacheTable
from iris_infra.components.function import FunctionArgs
from iris_infra.components.secrets import SecretParameter, Secrets, SecretValue

# The image's build context and Dockerfile, relative to the project (the repository root). The
# root is the context, for the handler kit the image shares with SpendSense's (lambda_kit/); the
# Dockerfile's own ignore file keeps the rest of the tree out of it.
IMAGE_CONTEXT = "."
IMAGE_DOCKERFILE = "backend/Dockerfile"

# IRIS's secrets, each an SSM parameter `<prefix>/<name>` (iris_infra.components.secrets).
OPENAI_API_KEY = "openai-api-key"
API_KEYS = "api-keys"

# The daily LLM token counters share the cache table, keyed "llm-tokens#<YYYY-MM-DD>" (a cache
# key is 64 hex digits); the API function may update these items and no other.
TOKEN_COUNTER_KEY_PREFIX = "llm-tokens#"


def secrets_of(config: StackConfig) -> dict[str, SecretValue]:
    """The OpenAI key, and the accepted X-API-Key values when the stack sets apiKeys."""
    secrets = {
        OPENAI_API_KEY: SecretValue(
            config.openai_api_key, "OpenAI API key of the IRIS analysis function"
        )
    }
    if config.api_keys is not None:
        secrets[API_KEYS] = SecretValue(
            config.api_keys, "Comma-separated X-API-Key values accepted by the IRIS authorizer"
        )
    return secrets


def api_function_args(
    config: StackConfig,
    image_uri: pulumi.Input[str],
    secrets: Secrets,
    cache: CacheTable,
    permissions_boundary: pulumi.Input[str],
) -> FunctionArgs:
    return FunctionArgs(
        function_name=config.names.function(),
        role_path=config.names.path,
        permissions_boundary=permissions_boundary,
        description="IRIS analysis API (Flask behind Mangum)",
        image_uri=image_uri,
        architecture=config.architecture,
        memory_mb=config.memory_mb,
        timeout_seconds=config.timeout_seconds,
        log_retention_days=config.log_retention_days,
        environment=api_environment(config, secrets, cache.table_name),
        parameter_arns=[secrets.parameters[OPENAI_API_KEY].arn],
        table_arn=cache.table_arn,
        # The daily token counters, and only when there is a budget to count.
        table_update_keys=(
            (f"{TOKEN_COUNTER_KEY_PREFIX}*",) if config.llm_daily_token_budget else ()
        ),
        reserved_concurrency=config.reserved_concurrency,
        publish=True,
    )


def authorizer_function_args(
    config: StackConfig,
    image_uri: pulumi.Input[str],
    keys_parameter: SecretParameter,
    permissions_boundary: pulumi.Input[str],
) -> FunctionArgs:
    return shared_authorizer_function_args(
        function_name=config.names.function("authorizer"),
        role_path=config.names.path,
        permissions_boundary=permissions_boundary,
        description="IRIS X-API-Key authorizer",
        image_uri=image_uri,
        architecture=config.architecture,
        log_retention_days=config.log_retention_days,
        variable_prefix="IRIS",
        keys_parameter=keys_parameter,
        environment={"IRIS_SECRET_MAX_AGE_S": str(config.secret_max_age_seconds)},
    )


def api_environment(
    config: StackConfig, secrets: Secrets, cache_table_name: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """The API function's environment: settings and the key's parameter name, never the key.

    The parameter's version is there too: a new openaiApiKey changes the function's
    configuration, so Lambda replaces every warm container holding the old key. With apiKeys,
    IRIS_REQUIRE_AUTHORIZER makes the function itself refuse /api/iris/* to any request the
    authorizer did not pass (a route match is the gateway's only guard).
    """
    openai_api_key = secrets.parameters[OPENAI_API_KEY]
    guard = {"IRIS_REQUIRE_AUTHORIZER": "true"} if config.api_keys is not None else {}
    # Only when a team opted in: the backend's default is no call without a reservation.
    fail_open = (
        {
            "IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER": str(
                config.llm_budget_fail_open_calls_per_container
            )
        }
        if config.llm_budget_fail_open_calls_per_container
        else {}
    )
    return {
        "IRIS_LLM_PROVIDER": "openai",
        "OPENAI_MODEL": config.openai_model,
        "OPENAI_MAX_TOKENS": str(config.openai_max_tokens),
        "OPENAI_TIMEOUT_S": f"{config.openai_timeout_seconds:g}",
        "OPENAI_MAX_RETRIES": str(config.openai_max_retries),
        "OPENAI_API_KEY_PARAM": openai_api_key.name,
        "OPENAI_API_KEY_PARAM_VERSION": openai_api_key.version.apply(str),
        "IRIS_SECRET_MAX_AGE_S": str(config.secret_max_age_seconds),
        "IRIS_CACHE_TABLE": cache_table_name,
        "IRIS_CACHE_TTL_HOURS": str(config.cache_ttl_hours),
        **guard,
        "IRIS_LLM_DAILY_TOKEN_BUDGET": str(config.llm_daily_token_budget),
        **fail_open,
    }
