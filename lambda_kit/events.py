"""API Gateway HTTP events: which ones Mangum and a2wsgi can serve, and what they are given.

Neither adapter checks what it reads. Mangum picks its event handler from a key or two, then
indexes, joins, encodes and int()s the fields it needs; a2wsgi encodes the path as UTF-8 and
decodes the query string as ASCII. A field of the wrong type or a value they cannot encode
raises inside them: out of the handler, or as a plain-text 500. So the handler checks here
every field they read, and hands them a copy of the event they read as the client sent it.
The same copy serves an ASGI app under Mangum alone (FastAPI reads the query string as
latin-1, so a raw non-ASCII one would reach it garbled).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote


def is_http_event(event: Any) -> bool:
    """API Gateway HTTP API (payload 2.0 or 1.0) or REST API proxy events, as Mangum tells them.

    Mangum picks its event handler from the presence of a key or two: `version` or `resource`
    beside a `requestContext`. A load balancer's event ("elb") is not API Gateway's, whatever
    else it carries.
    """
    if not isinstance(event, dict):
        return False
    request_context = event.get("requestContext")
    if not isinstance(request_context, dict) or "elb" in request_context:
        return False
    return "version" in event or "resource" in event


class EventField:
    """A field Mangum or a2wsgi reads, and what it must be there for them to read it.

    A plain class: a dataclass would cost every cold start about half a millisecond to build.
    """

    __slots__ = ("expected", "is_valid", "path", "required")

    def __init__(
        self,
        path: tuple[str, ...],
        is_valid: Callable[[Any], bool],
        expected: str,
        required: bool = False,
    ) -> None:
        self.path = path
        self.is_valid = is_valid
        self.expected = expected
        # Otherwise the field may be absent (null is up to `is_valid`).
        self.required = required

    @property
    def name(self) -> str:
        return ".".join(self.path)


def _is_text(value: Any) -> bool:
    """A str UTF-8 can encode: the adapters encode what they read, and a lone surrogate (what
    JSON's "\\ud800" decodes to) cannot be."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(map(_is_text, value))


def _is_text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(map(_is_text, [*value, *value.values()]))


def _is_text_lists_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        _is_text(key) and _is_text_list(values) for key, values in value.items()
    )


def _or_null(is_valid: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or is_valid(value)


_FIELDS_OF_BOTH = (
    EventField(("headers",), _or_null(_is_text_map), "an object of text values"),
    EventField(("body",), _or_null(lambda value: isinstance(value, str)), "a string"),
    EventField(("isBase64Encoded",), _or_null(lambda value: isinstance(value, bool)), "a boolean"),
)
# Payload 2.0 (what the stack's HTTP API sends), then payload 1.0 and REST API proxy events.
V2_FIELDS = (
    EventField(("requestContext", "http", "method"), _is_text, "text", required=True),
    EventField(("requestContext", "http", "path"), _is_text, "text", required=True),
    EventField(("requestContext", "http", "sourceIp"), _is_text, "text", required=True),
    EventField(("rawPath",), _is_text, "text", required=True),
    EventField(("rawQueryString",), _or_null(_is_text), "text"),
    EventField(("cookies",), _or_null(_is_text_list), "a list of text"),
    *_FIELDS_OF_BOTH,
)
V1_FIELDS = (
    EventField(("httpMethod",), _is_text, "text", required=True),
    EventField(("path",), _is_text, "text", required=True),
    EventField(("requestContext", "identity"), lambda value: isinstance(value, dict), "an object"),
    EventField(("requestContext", "identity", "sourceIp"), _or_null(_is_text), "text"),
    EventField(("multiValueHeaders",), _or_null(_is_text_lists_map), "an object of text lists"),
    EventField(("queryStringParameters",), _or_null(_is_text_map), "an object of text values"),
    EventField(
        ("multiValueQueryStringParameters",),
        _or_null(_is_text_lists_map),
        "an object of text lists",
    ),
    *_FIELDS_OF_BOTH,
)


_ABSENT = object()


def unreadable_field(event: dict[str, Any]) -> EventField | None:
    """The first field of an HTTP event that the adapters could not read, or None.

    The fields are the ones Mangum and a2wsgi read, and the headers Mangum builds the ASGI
    scope's server and scheme from (`SERVER_HEADERS`).
    """
    for field in V2_FIELDS if _is_v2(event) else V1_FIELDS:
        value = _value_at(event, field.path)
        if value is _ABSENT and not field.required:
            continue
        if not field.is_valid(value):
            return field
    return _unreadable_server_header(event)


def _value_at(event: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _ABSENT
        value = value[key]
    return value


# A name (or IPv4 address) and an optional port: what API Gateway's Host header holds. ASGI
# apps build URLs out of it, and Python's URL parser raises on a stray "[" or on characters that
# change under NFKC normalisation.
_HOST = re.compile(r"[A-Za-z0-9._-]+(:[0-9]+)?")


def _is_host(value: str) -> bool:
    return _HOST.fullmatch(value) is not None


# Mangum parses the port with int() out of the Host header, or else out of X-Forwarded-Port,
# and copies X-Forwarded-Proto into the scope's scheme, which ASGI allows to be http or https
# only: Starlette looks the scheme's default port up in a table, and raises on any other.
SERVER_HEADERS = {
    "host": EventField(("headers", "host"), _is_host, "a host name with an optional :port"),
    "x-forwarded-port": EventField(("headers", "x-forwarded-port"), str.isdecimal, "a port number"),
    "x-forwarded-proto": EventField(
        ("headers", "x-forwarded-proto"), lambda value: value in ("http", "https"), "http or https"
    ),
}


def _unreadable_server_header(event: dict[str, Any]) -> EventField | None:
    for name, value in _header_values(event):
        field = SERVER_HEADERS.get(name)
        if field is not None and not field.is_valid(value):
            return field
    return None


def _header_values(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every (lower-case name, value) of the event's headers, multi-value ones joined as
    Mangum joins them."""
    for name, value in (event.get("headers") or {}).items():
        yield name.lower(), value
    if not _is_v2(event):
        for name, values in (event.get("multiValueHeaders") or {}).items():
            yield name.lower(), ", ".join(values)


def _is_v2(event: dict[str, Any]) -> bool:
    return event.get("version") == "2.0"


def request_path(event: dict[str, Any]) -> str:
    """The path Mangum hands the app (before its own decoding), of a readable HTTP event."""
    if _is_v2(event):
        return event["requestContext"]["http"]["path"]
    return event["path"]


def adapted_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event that the adapters read as the client sent it.

    Raises ValueError when the body cannot be decoded.
    """
    length = str(body_length(event))
    fixed = dict(event)
    fixed["headers"] = _with_length(event.get("headers") or {}, length)
    if _is_v2(event):
        fixed["rawQueryString"] = ascii_query(event.get("rawQueryString") or "")
        context = event["requestContext"]
        fixed["requestContext"] = _with_http_path(
            context, undecodable_path(context["http"]["path"])
        )
    elif event.get("multiValueHeaders"):
        fixed["multiValueHeaders"] = _with_length(event["multiValueHeaders"], [length])
    return fixed


def body_length(event: dict[str, Any]) -> int:
    """The length in bytes of the decoded body: the content-length the app must be given.

    The WSGI adapter reads exactly content-length bytes: an event without the header
    (API Gateway does not always send it) or with the base64 length would lose the body,
    and so would a `transfer-encoding: chunked` header (werkzeug then ignores the length).
    The event always carries the whole body, so neither header describes it.
    Raises ValueError (binascii.Error is one) for a body that is not base64 when it says it
    is, or that UTF-8 cannot encode.
    """
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(base64.b64decode(body))
    return len(body.encode("utf-8"))


def _with_length(headers: dict[str, Any], value: Any) -> dict[str, Any]:
    """Headers are case-insensitive: drop every spelling of the framing headers first."""
    kept = {
        key: val
        for key, val in headers.items()
        if key.lower() not in ("content-length", "transfer-encoding")
    }
    kept["content-length"] = value
    return kept


# Every ASCII character stays as it is, `%` and the separators included.
_ASCII = "".join(map(chr, range(128)))


def ascii_query(query: str) -> str:
    """The query string with every non-ASCII character percent-encoded as UTF-8.

    Some clients send non-ASCII query strings unencoded, and API Gateway passes them on as
    they are in rawQueryString; a2wsgi decodes the query string as ASCII and would answer a
    plain-text 500. Encoded, they reach the app as the characters the client sent.
    """
    if query.isascii():
        return query
    return quote(query, safe=_ASCII)


def undecodable_path(path: str) -> str:
    """The path with each `%` written as `%25`, so that Mangum's unquote() gives it back as is.

    An HTTP API hands the function the path already percent-decoded, and Mangum decodes it
    again: `/api/%2569ris/analyze` would reach the app as `/api/iris/analyze` on an event that
    API Gateway routed as `/api/%69ris/analyze`, past the guarded routes. The app routes on the
    path API Gateway matched. (A REST API's payload 1.0 path arrives still encoded, so Mangum's
    one decoding is the right one there.)
    """
    return path.replace("%", "%25")


def _with_http_path(request_context: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of the v2 request context with another `http.path` (what Mangum routes on)."""
    return {**request_context, "http": {**request_context["http"], "path": path}}
