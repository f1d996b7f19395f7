"""What the smoke test talks to: a base URL given as is, or a stack's `apiUrl` and first
`corsOrigins` read with `pulumi stack output --json`, and the optional API key.

Every problem here is a UsageError: the test cannot start, which is not the same as the API
failing a check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from smoke.client import Secret

API_KEY_VARIABLE = "SMOKE_API_KEY"
PULUMI_TIMEOUT_S = 120
# When a stack allows every origin ("*"), the preflight is sent from this reserved name.
ANY_ORIGIN_PROBE = "https://example.org"

_HOST = r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?"
_ORIGIN = re.compile(rf"https?://{_HOST}")
_STACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*){0,2}")
# Visible ASCII: what an HTTP header value carries without escaping.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


class UsageError(Exception):
    """The smoke test cannot run as asked; the message says what to change."""


@dataclass(frozen=True)
class Target:
    base_url: str
    origin: str | None
    api_key: Secret | None
    source: str

    @property
    def expected_origins(self) -> tuple[str, ...]:
        """Access-Control-Allow-Origin values that let a browser at `origin` read answers."""
        return (self.origin, "*") if self.origin else ()


def base_url(value: str, *, source: str) -> str:
    """An http(s) base URL without query or fragment, trailing slash removed."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or not re.fullmatch(_HOST, parts.netloc)
    ):
        raise UsageError(
            f"{source}={value!r} is not a base URL: use http(s)://host[:port][/path] without "
            "query or user info, e.g. http://127.0.0.1:8000 or https://abc123.execute-api."
            "us-east-1.amazonaws.com"
        )
    return value.strip().rstrip("/")


def origin(value: str, *, source: str) -> str:
    if not _ORIGIN.fullmatch(value):
        raise UsageError(
            f"{source}={value!r} is not an origin: use scheme://host[:port] with http or https "
            "and no path or trailing slash, e.g. http://localhost:5173"
        )
    return value


def api_key(environ: Mapping[str, str]) -> Secret | None:
    """The key from SMOKE_API_KEY (make passes API_KEY there), surrounding blanks removed."""
    value = environ.get(API_KEY_VARIABLE, "").strip()
    if not value:
        return None
    if not _HEADER_SAFE.fullmatch(value):
        raise UsageError(
            f"{API_KEY_VARIABLE} (API_KEY for make) holds characters an X-API-Key header cannot "
            "carry (spaces, control or non-ASCII characters); its value is not shown"
        )
    return Secret(value)


def stack_name(value: str) -> str:
    if not _STACK.fullmatch(value):
        raise UsageError(
            f"STACK={value!r} is not a stack name: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit, optionally as org/project/stack"
        )
    return value


def stack_outputs(
    stack: str, environ: Mapping[str, str] = os.environ, project_dir: Path | None = None
) -> dict[str, object]:
    """`pulumi stack output --json --stack <stack>`, run in the project of `project_dir` (by
    default the current directory's)."""
    pulumi = shutil.which("pulumi", path=environ.get("PATH"))
    if pulumi is None:
        raise UsageError(
            f"STACK={stack} needs the Pulumi CLI to read the stack's outputs, and `pulumi` is "
            "not on PATH: install it and log in to the stack's backend, or give URL=<base url>"
        )
    command = [pulumi, "stack", "output", "--json", "--stack", stack]
    shown = f"`pulumi stack output --json --stack {stack}`"
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PULUMI_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env={**environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
            cwd=project_dir,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"{shown} gave no answer within {PULUMI_TIMEOUT_S} s") from None
    if result.returncode != 0:
        reason = " ".join(result.stderr.split()) or "no message"
        raise UsageError(
            f"{shown} failed (exit {result.returncode}): {reason[:500]} -- is the stack "
            "deployed, and are you logged in to its backend (pulumi login)?"
        )
    try:
        outputs = json.loads(result.stdout)
    except json.JSONDecodeError:
        outputs = None
    if not isinstance(outputs, dict):
        raise UsageError(f"{shown} did not print a JSON object: {result.stdout[:200]!r}")
    return outputs


def stack_target(
    stack: str,
    origin_override: str | None,
    key: Secret | None,
    environ: Mapping[str, str],
    *,
    project_dir: Path | None = None,
    origin_required: bool = True,
) -> Target:
    """The stack's `apiUrl`, and `origin_override` or the first of its `corsOrigins`; a stack
    without that output has no origin unless `origin_required`."""
    stack = stack_name(stack)
    outputs = stack_outputs(stack, environ, project_dir)
    missing = f"stack {stack!r} has no output {{name}} (outputs: {', '.join(sorted(outputs))})"
    url = outputs.get("apiUrl")
    if not isinstance(url, str) or not url:
        raise UsageError(missing.format(name="apiUrl") + ": has `pulumi up` completed?")
    chosen = origin_override
    if chosen is None and (origin_required or "corsOrigins" in outputs):
        origins = outputs.get("corsOrigins")
        if not (isinstance(origins, list) and origins and isinstance(origins[0], str)):
            raise UsageError(
                missing.format(name="corsOrigins") + " as a non-empty list: give ORIGIN=<origin>"
            )
        chosen = (
            ANY_ORIGIN_PROBE
            if origins[0] == "*"
            else origin(origins[0], source=f"corsOrigins[0] of stack {stack}")
        )
    return Target(
        base_url=base_url(url, source=f"apiUrl of stack {stack}"),
        origin=chosen,
        api_key=key,
        source=f"stack {stack}",
    )
