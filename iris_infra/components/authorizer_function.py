"""The X-API-Key authorizer's function, the same for every stack: the handler kit's authorizer
(`lambda_kit.authorizer`, the image's `authorizer.handler`), reading the keys from the SSM
parameter its environment names.

The environment carries the parameter's name and version, never the keys: a new apiKeys is a
new version of the function, so no warm container holds a revoked key (API Gateway's cache of
decisions still passes it for the authorizer's cache TTL).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from iris_infra.components.function import FunctionArgs
from iris_infra.components.secrets import SecretParameter

AUTHORIZER_COMMAND = "authorizer.handler"
# It only compares a header with a cached parameter: small and quick is enough.
AUTHORIZER_MEMORY_MB = 256
AUTHORIZER_TIMEOUT_SECONDS = 10


def authorizer_function_args(
    *,
    function_name: str,
    description: str,
    image_uri: pulumi.Input[str],
    architecture: str,
    log_retention_days: int,
    role_path: str,
    permissions_boundary: pulumi.Input[str],
    variable_prefix: str,
    keys_parameter: SecretParameter,
    environment: Mapping[str, pulumi.Input[str]] | None = None,
) -> FunctionArgs:
    """`variable_prefix` is the app's (IRIS, SPENDSENSE): the authorizer reads the keys from
    `keys_parameter`, named in `<prefix>_API_KEYS_PARAM`; `environment` adds the app's other
    settings."""
    return FunctionArgs(
        function_name=function_name,
        description=description,
        image_uri=image_uri,
        command=AUTHORIZER_COMMAND,
        architecture=architecture,
        memory_mb=AUTHORIZER_MEMORY_MB,
        timeout_seconds=AUTHORIZER_TIMEOUT_SECONDS,
        log_retention_days=log_retention_days,
        role_path=role_path,
        permissions_boundary=permissions_boundary,
        environment={
            f"{variable_prefix}_API_KEYS_PARAM": keys_parameter.name,
            f"{variable_prefix}_API_KEYS_PARAM_VERSION": keys_parameter.version.apply(str),
            **(environment or {}),
        },
        # The keys' parameter, and nothing else of SSM.
        parameter_arns=[keys_parameter.arn],
        publish=True,
    )
