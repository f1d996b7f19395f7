"""The few settings the kit reads from the environment, each parsed the same way for every app.

A bad value is a SettingsError whose message names the variable, the value and what is
allowed; the entry points read them at import, so a bad value fails the cold start.
"""

from __future__ import annotations

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# How long a container trusts a secret it read from SSM before reading it again. SSM's standard
# throughput is shared by every caller in the account and Region: not every few seconds.
SECRET_MAX_AGE_RANGE_S = (10, 3_600)
DEFAULT_SECRET_MAX_AGE_S = 300


class SettingsError(ValueError):
    """A runtime setting is missing or out of range; the message names the variable."""


def parse_log_level(value: str | None, variable: str) -> str:
    """A log level as the level name `logging` takes: any case, blank means INFO."""
    level = (value or "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        allowed = f"{', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}"
        raise SettingsError(f"{variable}={value!r} is not allowed; use {allowed}")
    return level


def parse_secret_max_age(value: str | None, variable: str) -> int:
    """How long a secret read from SSM is trusted, in whole seconds; blank means the default."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_SECRET_MAX_AGE_S
    try:
        seconds = int(text)
    except ValueError:
        raise SettingsError(f"{variable}={value!r} is not a whole number") from None
    low, high = SECRET_MAX_AGE_RANGE_S
    if not low <= seconds <= high:
        raise SettingsError(f"{variable}={seconds} is out of range; allowed {low}-{high}")
    return seconds


def parse_flag(value: str | None, variable: str) -> bool:
    """`true` or `false` in any case; blank means false."""
    text = (value or "").strip().lower()
    if text not in ("", "true", "false"):
        raise SettingsError(f"{variable}={value!r} is not allowed; use true or false")
    return text == "true"
