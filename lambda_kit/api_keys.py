"""The X-API-Key list: how `apiKeys` is parsed and which keys can ever authorize anyone.

One module for the X-API-Key authorizers (in the images) and the stacks' config (in the Pulumi
programs, which import it from this source tree), so a key is read the same way where it is set
and where it is checked. Standard library only: an authorizer imports it at cold start.
"""

from __future__ import annotations

# A key shorter than this can be guessed; the authorizer refuses longer headers unread.
MIN_KEY_CHARS = 16
MAX_KEY_CHARS = 256
# What the authorizer's answer puts in the request's context, and the function checks for.
KEY_SLOT = "keySlot"
KEY_RULE = (
    f"each key must be {MIN_KEY_CHARS}-{MAX_KEY_CHARS} printable ASCII characters "
    "with no whitespace or comma inside"
)


def parse_keys(raw: str) -> tuple[str, ...]:
    """Comma-separated keys, each stripped; empty entries are ignored."""
    return tuple(key for key in (part.strip() for part in raw.split(",")) if key)


def key_slot(position: int) -> str:
    """The slot ("key-1", "key-2", ...) of the key at this 1-based position."""
    return f"key-{position}"


def is_key_slot(value: object) -> bool:
    """Whether `value` is a slot `key_slot` gives."""
    if not isinstance(value, str):
        return False
    prefix, _, position = value.partition("-")
    return prefix == "key" and position.isascii() and position.isdecimal() and position[0] != "0"


def key_problems(raw: str) -> list[str]:
    """Why `raw` holds keys that cannot authorize anyone; each names the key's position,
    never its value."""
    keys = parse_keys(raw)
    if not keys:
        return [
            f"apiKeys holds no key; give one or more, separated by commas ({KEY_RULE}), or "
            "remove the setting with `pulumi config rm apiKeys`"
        ]
    problems = []
    for position, key in enumerate(keys, start=1):
        flaw = _key_flaw(key)
        if flaw is not None:
            problems.append(f"apiKeys key {position} {flaw}; {KEY_RULE}")
    return problems


def _key_flaw(key: str) -> str | None:
    if not MIN_KEY_CHARS <= len(key) <= MAX_KEY_CHARS:
        return f"is {len(key)} characters long"
    for index, character in enumerate(key, start=1):
        if character.isspace():
            return f"has whitespace at character {index}"
        if not (character.isascii() and character.isprintable()):
            return f"has a non-printable or non-ASCII character at character {index}"
    return None
