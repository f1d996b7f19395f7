"""SSM SecureStrings (the OpenAI key): the handler kit's cached, bounded reads
(`lambda_kit.parameters`), whose values the logs mask."""

from __future__ import annotations

from lambda_kit.parameters import (
    DEFAULT_MAX_AGE_S,
    INIT_ATTEMPTS,
    REQUEST_ATTEMPTS,
    SecureParameterError,
    forget_secure_parameters,
    read_secure_parameter,
)

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "INIT_ATTEMPTS",
    "REQUEST_ATTEMPTS",
    "SecureParameterError",
    "forget_secure_parameters",
    "read_secure_parameter",
]
