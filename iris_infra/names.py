"""Resource and alarm names made from a stack's own keys (route keys, function keys)."""

from __future__ import annotations

import re


def slug(text: str) -> str:
    """Lower-case letters and digits joined by single dashes: "GET /api/{proxy+}" ->
    "get-api-proxy", "net_worth" -> "net-worth"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
