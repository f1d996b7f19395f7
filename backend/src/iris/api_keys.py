"""IRIS's X-API-Keys follow the handler kit's rules (`lambda_kit.api_keys`): the authorizer and
the stack's config read `apiKeys` with them."""

from __future__ import annotations

from lambda_kit.api_keys import (
    KEY_RULE,
    KEY_SLOT,
    MAX_KEY_CHARS,
    MIN_KEY_CHARS,
    is_key_slot,
    key_problems,
    key_slot,
    parse_keys,
)

__all__ = [
    "KEY_RULE",
    "KEY_SLOT",
    "MAX_KEY_CHARS",
    "MIN_KEY_CHARS",
    "is_key_slot",
    "key_problems",
    "key_slot",
    "parse_keys",
]
