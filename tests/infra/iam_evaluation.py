"""IAM's decision on one request, for tests of the policies this project generates.

`decide` follows AWS's policy evaluation logic for identity-based policies and an optional
permissions boundary in one account (no SCPs, resource or session policies): a Deny that
applies in any of them is an explicit deny; else the request is allowed only when an identity
policy allows it and the boundary, if any, allows it too; else it is implicitly denied.

Written here, not wrapped: no Python package decides one request by IAM's condition rules.
moto's `iam.access_control` knows only StringEquals, skips other operators and lets a failed
condition deny; principalmapper (last release 2022, needs pydot and graphviz) passes
StringNotEquals but fails StringNotLike on a missing key, matches resources ignoring case and
lets unknown operators pass; iam-ape sums up an entity's permissions rather than deciding a
request. The complete evaluators (cloud-copilot's iam-simulate) are Node libraries.

Rules, from AWS's IAM User Guide:
- Action/NotAction: `*` and `?`, service prefix and action name case-insensitive.
- Resource/NotResource: `*` and `?` over the whole ARN (`*` crosses `/` and `:`), case kept.
  Policy variables (`${aws:username}`, `${key, 'default'}`) are substituted, `${*}`, `${?}`,
  `${$}` are literal; an entry whose variable has no value matches no resource.
- Condition: operator blocks and the keys of a block ANDed, a key's values ORed (NOR for
  negated operators). A missing key (or an empty list) fails a positive operator and passes a
  negated one; `...IfExists` passes it; `Null` tests presence. `ForAllValues:` holds when
  every request value passes, so for a missing key too; `ForAnyValue:` when one does.
  Operators: String*, Arn* (each of the six colon-separated parts matched on its own),
  Numeric*, Date*, Bool, IpAddress, NotIpAddress. Variables are substituted in String, Arn
  and Bool values; one with no value equals nothing. Key names are case-insensitive.

Refused with ValueError rather than guessed: unknown operators, qualifiers or statement
elements (Principal included: identity policies have none), Binary operators, several request
values under an operator without a set qualifier, a multivalued key used as a variable.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

Decision = Literal["explicit_deny", "allow", "implicit_deny"]
ContextValue = str | Sequence[str]

_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULTED = re.compile(r"^\s*([^,]+?)\s*(?:,\s*'([^']*)')?\s*$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Request:
    """One API call: the action, the resource's ARN (or "*") and the request context."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def decide(
    request: Request, identity_policies: Sequence[dict], boundary: dict | None = None
) -> Decision:
    """IAM's decision for `request` under the identity policies and the permissions boundary."""
    context = {key.lower(): value for key, value in request.context.items()}
    identity = _effects(
        [s for policy in identity_policies for s in _statements(policy)], request, context
    )
    # Without a boundary nothing is bounded: as if one allowed every request.
    bounding = (
        _effects(_statements(boundary), request, context) if boundary is not None else {"Allow"}
    )
    if "Deny" in identity | bounding:
        return "explicit_deny"
    if "Allow" in identity and "Allow" in bounding:
        return "allow"
    return "implicit_deny"


def allowed(
    request: Request, identity_policies: Sequence[dict], boundary: dict | None = None
) -> bool:
    """Whether IAM allows `request` under the identity policies and the permissions boundary."""
    return decide(request, identity_policies, boundary) == "allow"


# Building policies in tests


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# Statements


def _statements(policy: dict) -> list[dict]:
    statements = policy["Statement"]
    statements = [statements] if isinstance(statements, dict) else list(statements)
    for statement in statements:
        _check_statement(statement)
    return statements


def _check_statement(statement: dict) -> None:
    unknown = set(statement) - _STATEMENT_KEYS
    if unknown:
        raise ValueError(f"statement element(s) {sorted(unknown)} not allowed in {statement}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise ValueError(f"Effect {statement.get('Effect')!r}: expected 'Allow' or 'Deny'")
    for pair in (("Action", "NotAction"), ("Resource", "NotResource")):
        if sum(key in statement for key in pair) != 1:
            raise ValueError(f"statement needs exactly one of {pair}: {statement}")
    for operator in statement.get("Condition", {}):
        _parse_operator(operator)


def _effects(statements: list[dict], request: Request, context: dict) -> set[str]:
    """The effects of the statements that apply to the request."""
    return {s["Effect"] for s in statements if _applies(s, request, context)}


def _listed(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _applies(statement: dict, request: Request, context: dict[str, ContextValue]) -> bool:
    """Whether the statement's actions, resources and conditions all match the request."""
    actions = statement.get("Action", statement.get("NotAction"))
    if _action_matches(actions, request.action) != ("Action" in statement):
        return False
    resources = statement.get("Resource", statement.get("NotResource"))
    if _resource_matches(resources, request.resource, context) != ("Resource" in statement):
        return False
    return all(
        _condition_holds(operator, block, context)
        for operator, block in statement.get("Condition", {}).items()
    )


def _action_matches(patterns: str | Sequence[str], action: str) -> bool:
    return any(_action_pattern(pattern).fullmatch(action) for pattern in _listed(patterns))


@cache
def _action_pattern(pattern: str) -> re.Pattern[str]:
    # Compiled once: a test evaluates thousands of requests against the same policies.
    return re.compile(_wildcard_regex(pattern), re.IGNORECASE | re.DOTALL)


def _resource_matches(
    patterns: str | Sequence[str], resource: str, context: dict[str, ContextValue]
) -> bool:
    for pattern in _listed(patterns):
        chunks = _substituted(pattern, context)
        if chunks is not None and re.fullmatch(_chunks_regex(chunks), resource, re.DOTALL):
            return True
    return False


# Patterns: a policy string becomes chunks, (text, literal); the policy's own text keeps its
# wildcards, what a variable stands for is literal.


@cache
def _wildcard_regex(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _chunks_regex(chunks: list[tuple[str, bool]], wildcards: bool = True) -> str:
    return "".join(
        re.escape(text) if literal or not wildcards else _wildcard_regex(text)
        for text, literal in chunks
    )


def _substituted(text: str, context: dict[str, ContextValue]) -> list[tuple[str, bool]] | None:
    """The chunks of `text` with its variables replaced; None when one has no value."""
    chunks: list[tuple[str, bool]] = []
    position = 0
    for variable in _VARIABLE.finditer(text):
        value = _variable_value(variable.group(1), context)
        if value is None:
            return None
        chunks += [(text[position : variable.start()], False), (value, True)]
        position = variable.end()
    return [*chunks, (text[position:], False)]


def _variable_value(inside: str, context: dict[str, ContextValue]) -> str | None:
    if inside in _ESCAPES:
        return _ESCAPES[inside]
    parsed = _DEFAULTED.match(inside)
    if parsed is None:
        raise ValueError(f"policy variable ${{{inside}}}: expected ${{key}} or ${{key, 'default'}}")
    key, default = parsed.groups()
    value = context.get(key.lower())
    if value is None or (not isinstance(value, str) and len(value) == 0):
        return default
    if isinstance(value, str):
        return value
    if len(value) == 1:
        return value[0]
    raise ValueError(f"policy variable ${{{key}}}: a multivalued key cannot be a variable")


# Conditions

_Test = Callable[[str, str, dict[str, ContextValue]], bool]
_QUALIFIERS = ("ForAllValues", "ForAnyValue")


def _string_test(ignore_case: bool, wildcards: bool) -> _Test:
    def test(policy_value: str, value: str, context: dict[str, ContextValue]) -> bool:
        chunks = _substituted(policy_value, context)
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        return chunks is not None and bool(
            re.fullmatch(_chunks_regex(chunks, wildcards), value, flags)
        )

    return test


def _arn_test(policy_value: str, value: str, context: dict[str, ContextValue]) -> bool:
    chunks = _substituted(policy_value, context)
    if chunks is None:
        return False
    segments: list[list[tuple[str, bool]]] = [[]]
    for text, literal in chunks:
        for index, piece in enumerate(text.split(":", 5 - (len(segments) - 1))):
            if index:
                segments.append([])
            segments[-1].append((piece, literal))
    if len(segments) != 6:
        raise ValueError(f"Arn condition value {policy_value!r}: expected arn:partition:...")
    parts = value.split(":", 5)
    return len(parts) == 6 and all(
        re.fullmatch(_chunks_regex(segment), part, re.DOTALL)
        for segment, part in zip(segments, parts, strict=True)
    )


def _bool_test(policy_value: str, value: str, context: dict[str, ContextValue]) -> bool:
    chunks = _substituted(policy_value, context)
    return chunks is not None and "".join(t for t, _ in chunks).lower() == str(value).lower()


def _compared(parse: Callable[[str], Any], compare: Callable[[Any, Any], bool]) -> _Test:
    """A test that parses both values (no variables: IAM substitutes none in these operators)."""

    def test(policy_value: str, value: str, context: dict[str, ContextValue]) -> bool:
        try:
            limit = parse(policy_value)
        except ValueError as error:
            raise ValueError(f"condition value {policy_value!r}: {error}") from None
        try:
            return compare(parse(value), limit)
        except (TypeError, ValueError):  # an unreadable request value, IPv4 against IPv6
            return False

    return test


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _within(address: Any, network: Any) -> bool:
    return address.subnet_of(network)


def _date(text: str) -> datetime:
    if re.fullmatch(r"\d+", text):
        return datetime.fromtimestamp(int(text), UTC)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
# Operator name -> (positive test, negated)
_OPERATORS: dict[str, tuple[_Test, bool]] = {
    "StringEquals": (_string_test(False, False), False),
    "StringNotEquals": (_string_test(False, False), True),
    "StringEqualsIgnoreCase": (_string_test(True, False), False),
    "StringNotEqualsIgnoreCase": (_string_test(True, False), True),
    "StringLike": (_string_test(False, True), False),
    "StringNotLike": (_string_test(False, True), True),
    "ArnEquals": (_arn_test, False),
    "ArnLike": (_arn_test, False),
    "ArnNotEquals": (_arn_test, True),
    "ArnNotLike": (_arn_test, True),
    "Bool": (_bool_test, False),
    "IpAddress": (_compared(_network, _within), False),
    "NotIpAddress": (_compared(_network, _within), True),
    "NumericNotEquals": (_compared(float, _ORDER["Equals"]), True),
    "DateNotEquals": (_compared(_date, _ORDER["Equals"]), True),
    **{f"Numeric{name}": (_compared(float, order), False) for name, order in _ORDER.items()},
    **{f"Date{name}": (_compared(_date, order), False) for name, order in _ORDER.items()},
}


def _parse_operator(operator: str) -> tuple[str | None, str, bool]:
    """(set qualifier or None, base operator, IfExists) of a condition operator's name."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier and qualifier not in _QUALIFIERS:
        raise ValueError(f"condition operator {operator!r}: unknown qualifier {qualifier!r}")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null" and (qualifier or if_exists):
        raise ValueError(f"condition operator {operator!r}: Null takes no qualifier or IfExists")
    if base != "Null" and base not in _OPERATORS:
        raise ValueError(f"condition operator {operator!r}: not one this evaluator knows")
    return qualifier or None, base, if_exists


def _condition_holds(
    operator: str, block: Mapping[str, Any], context: dict[str, ContextValue]
) -> bool:
    qualifier, base, if_exists = _parse_operator(operator)
    return all(
        _key_holds(qualifier, base, if_exists, key, _listed(expected), context)
        for key, expected in block.items()
    )


def _key_holds(
    qualifier: str | None,
    base: str,
    if_exists: bool,
    key: str,
    expected: list[Any],
    context: dict[str, ContextValue],
) -> bool:
    raw = context.get(key.lower())
    values = [] if raw is None else _listed(raw)
    if base == "Null":
        return any(str(e).lower() == ("true" if not values else "false") for e in expected)
    test, negated = _OPERATORS[base]

    def passes(value: str) -> bool:
        matched = any(test(str(e), value, context) for e in expected)
        return matched != negated

    if not values and if_exists:
        return True
    if qualifier == "ForAllValues":
        return all(passes(value) for value in values)
    if qualifier == "ForAnyValue":
        return any(passes(value) for value in values)
    if not values:
        return negated
    if len(values) > 1:
        raise ValueError(f"context key {key!r} has several values {values}: {base} needs a set")
    return passes(values[0])
