"""The SpendSense stack, declared from one validated SpendSenseConfig (so tests can build several):
one image, a function with its own role and `live` alias per entry of the deployment's shape,
the database object they read, and the HTTP API routing to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from iris_infra.apps.spendsense import routes as spendsense_routes
from iris_infra.apps.spendsense.config import SpendSenseConfig
from iris_infra.apps.spendsense.routes import API_FUNCTION, function_names, routes
from iris_infra.components.alarms import AlarmedFunction, Alarms, AlarmsArgs, api_alarm_spec
from iris_infra.components.alarms import function_alarm_specs as alarm_specs_of
from iris_infra.components.authorizer_function import (
    AUTHORIZER_TIMEOUT_SECONDS,
    authorizer_function_args,
)
from iris_infra.components.container_image import ContainerImage, ContainerImageArgs
from iris_infra.components.dashboard import Dashboard, DashboardArgs, DashboardFunction
from iris_infra.components.data_bucket import DatabaseBucket, DatabaseBucketArgs
from iris_infra.components.function import (
    Function,
    FunctionArgs,
    log_group_name_of,
    permissions_boundary_of,
)
from iris_infra.components.http_api import (
    ApiKeyAuthorizerArgs,
    ApiTarget,
    HttpApi,
    HttpApiArgs,
    access_log_group_name_of,
)
from iris_infra.components.names import slug
from iris_infra.components.release import Release, ReleaseArgs
from iris_infra.components.secrets import Secrets, SecretsArgs, SecretValue

HEALTH_PATH = "/health"
DATABASE_KEY = "spendsense.db"
API_COMMAND = "handler.handler"
AUTHORIZER = "authorizer"
# The accepted X-API-Key values' secret, an SSM parameter `<prefix>/api-keys`.
API_KEYS = "api-keys"
AUTHORIZER_CACHE_TTL_SECONDS = 300
# Cost guard rails on the stage (no config key sets them).
THROTTLE_BURST_LIMIT = 20
THROTTLE_RATE_LIMIT = 10
# The repository's root is the build context (the image takes the handler kit from outside
# spendsense/), and the Dockerfile's own ignore file keeps the rest of the tree out of it; both
# paths start at spendsense/, where Pulumi runs the program.
IMAGE_CONTEXT = ".."
IMAGE_DOCKERFILE = "backend/Dockerfile"


@dataclass(frozen=True)
class StackOutputs:
    api_url: pulumi.Output[str]
    health_url: pulumi.Output[str]
    # `api` and each insight the deployment has -> its function's name.
    function_names: dict[str, pulumi.Output[str]]
    database_bucket: pulumi.Output[str]
    database_key: pulumi.Output[str]
    database_version: pulumi.Output[str]

    def exports(self) -> dict[str, Any]:
        """The stack outputs by the names docs/configuration.md gives them."""
        return {
            "apiUrl": self.api_url,
            "healthUrl": self.health_url,
            "functionNames": self.function_names,
            "databaseBucket": self.database_bucket,
            "databaseKey": self.database_key,
            "databaseVersion": self.database_version,
        }


def function_name_of(config: SpendSenseConfig, key: str) -> str:
    return config.names.function(key)


def data_environment(
    config: SpendSenseConfig, data: DatabaseBucket
) -> dict[str, pulumi.Input[str]]:
    """Where the database is, never what is in it. The object's version is there too: a new
    file changes every function's configuration, so no warm container serves the old data.
    With apiKeys, the function itself refuses guarded routes the authorizer did not pass."""
    guard = {"SPENDSENSE_REQUIRE_AUTHORIZER": "true"} if config.api_keys is not None else {}
    return {
        "SPENDSENSE_DB_BUCKET": data.bucket_name,
        "SPENDSENSE_DB_KEY": data.key,
        "SPENDSENSE_DB_VERSION": data.version_id,
        **guard,
    }


def build_stack(config: SpendSenseConfig) -> StackOutputs:
    names = config.names
    account_id = aws.get_caller_identity_output().account_id
    boundary = permissions_boundary_of(names)
    image = ContainerImage(
        "spendsense-image",
        ContainerImageArgs(
            repository_name=names.repository,
            platform=config.platform,
            context=IMAGE_CONTEXT,
            dockerfile=IMAGE_DOCKERFILE,
            force_delete=not config.is_production,
        ),
    )
    data = DatabaseBucket(
        "spendsense-data",
        DatabaseBucketArgs(
            bucket_name=account_id.apply(names.data_bucket),
            database_file=str(config.database_path),
            key=DATABASE_KEY,
            force_destroy=not config.is_production,
        ),
    )
    served = {
        key: _data_function(config, key, image.image_uri, data, boundary)
        for key in function_names(config.deployment)
    }
    released = dict(served)
    authorizer = None
    if config.api_keys is not None:
        released[AUTHORIZER] = _authorizer(config, config.api_keys, image.image_uri, boundary)
        function, release = released[AUTHORIZER]
        authorizer = ApiKeyAuthorizerArgs(
            function_name=function.function_name,
            invoke_arn=release.invoke_arn,
            cache_ttl_seconds=AUTHORIZER_CACHE_TTL_SECONDS,
            function_qualifier=release.alias_name,
        )

    api = HttpApi(
        "spendsense-http-api",
        HttpApiArgs(
            api_name=config.name_prefix,
            targets={
                key: ApiTarget(function.function_name, release.invoke_arn, release.alias_name)
                for key, (function, release) in served.items()
            },
            routes=routes(config.deployment),
            cors_origins=config.cors_origins,
            cors_allow_methods=spendsense_routes.CORS_ALLOW_METHODS,
            cors_allow_headers=spendsense_routes.CORS_ALLOW_HEADERS,
            cors_expose_headers=spendsense_routes.CORS_EXPOSE_HEADERS,
            cors_max_age_seconds=spendsense_routes.CORS_MAX_AGE_SECONDS,
            throttle_burst_limit=THROTTLE_BURST_LIMIT,
            throttle_rate_limit=THROTTLE_RATE_LIMIT,
            log_retention_days=config.log_retention_days,
            tags=names.tags,
            authorizer=authorizer,
        ),
    )
    _observe(config, api, list(released))

    return StackOutputs(
        api_url=api.url,
        health_url=pulumi.Output.concat(api.url, HEALTH_PATH),
        function_names={key: function.function_name for key, (function, _) in served.items()},
        database_bucket=data.bucket_name,
        database_key=data.key,
        database_version=data.version_id,
    )


def _data_function(
    config: SpendSenseConfig,
    key: str,
    image_uri: pulumi.Input[str],
    data: DatabaseBucket,
    permissions_boundary: pulumi.Input[str],
) -> tuple[Function, Release]:
    """The API function or an insight's: its own entry point and memory, the database's
    object to read, and a /tmp that holds it."""
    is_api = key == API_FUNCTION
    return _released(
        key,
        FunctionArgs(
            function_name=function_name_of(config, key),
            description="SpendSense API (FastAPI)" if is_api else f"SpendSense {key} insight",
            image_uri=image_uri,
            command=API_COMMAND if is_api else f"insights.{key}.handler",
            architecture=config.architecture,
            memory_mb=config.api_memory_mb if is_api else config.insight_memory_mb,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
            timeout_seconds=config.timeout_seconds,
            log_retention_days=config.log_retention_days,
            role_path=config.names.path,
            permissions_boundary=permissions_boundary,
            environment=data_environment(config, data),
            readable_object_arns=[data.object_arn],
            publish=True,
        ),
        provisioned_concurrency=config.provisioned_concurrency if is_api else 0,
    )


def _released(
    key: str, args: FunctionArgs, provisioned_concurrency: int = 0
) -> tuple[Function, Release]:
    """The function, and the `live` alias on its newest version that everything calls."""
    function = Function(f"spendsense-{slug(key)}-function", args)
    release = Release(
        f"spendsense-{slug(key)}-release",
        ReleaseArgs(
            function_name=function.function_name,
            function_version=function.version,
            provisioned_concurrency=provisioned_concurrency,
        ),
    )
    return function, release


def _authorizer(
    config: SpendSenseConfig,
    api_keys: pulumi.Input[str],
    image_uri: pulumi.Input[str],
    permissions_boundary: pulumi.Input[str],
) -> tuple[Function, Release]:
    """The keys in SSM, and the authorizer function, released like the others (a bad image
    reaches it only through a new version), which alone may read them."""
    keys = SecretValue(
        api_keys, "Comma-separated X-API-Key values accepted by the SpendSense authorizer"
    )
    secrets = Secrets("spendsense-secrets", SecretsArgs(config.parameter_prefix, {API_KEYS: keys}))
    return _released(
        AUTHORIZER,
        authorizer_function_args(
            function_name=function_name_of(config, AUTHORIZER),
            description="SpendSense X-API-Key authorizer",
            image_uri=image_uri,
            architecture=config.architecture,
            log_retention_days=config.log_retention_days,
            role_path=config.names.path,
            permissions_boundary=permissions_boundary,
            variable_prefix="SPENDSENSE",
            keys_parameter=secrets.parameters[API_KEYS],
        ),
    )


def _observe(config: SpendSenseConfig, api: HttpApi, keys: list[str]) -> None:
    """A dashboard row per function and, with alarmEmail, alarms on the API and each of them."""
    names = {key: function_name_of(config, key) for key in keys}
    Dashboard(
        "spendsense-dashboard",
        DashboardArgs(
            dashboard_name=config.name_prefix,
            api_id=api.api_id,
            functions=[
                DashboardFunction(name, log_group_name_of(name), label=key)
                for key, name in names.items()
            ],
        ),
    )
    if config.alarm_email is None:
        return
    watched = [
        AlarmedFunction(
            function_name=name,
            timeout_seconds=(
                AUTHORIZER_TIMEOUT_SECONDS if key == AUTHORIZER else config.timeout_seconds
            ),
            log_group_name=log_group_name_of(name),
            key=key,
        )
        for key, name in names.items()
    ]
    Alarms(
        "spendsense-alarms",
        AlarmsArgs(
            email=config.alarm_email,
            name_prefix=config.name_prefix,
            specs=[
                api_alarm_spec(api.api_id, access_log_group_name_of(config.name_prefix)),
                *(spec for function in watched for spec in alarm_specs_of(function)),
            ],
        ),
    )
