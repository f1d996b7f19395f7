"""The gateway's CORS rules, and their equality with the stack's configuration."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers

from local_api import cors
from local_api.cors import CorsPolicy, is_preflight


@pytest.mark.parametrize(
    ("allowed", "origin", "answer"),
    [
        (("https://app.example.com",), "https://app.example.com", "https://app.example.com"),
        (("https://app.example.com",), "https://app.example.com:8443", None),
        (("https://app.example.com",), "http://app.example.com", None),
        (("https://app.example.com",), "https://app.example.com.evil.example", None),
        (("https://app.example.com",), "null", None),
        (("https://app.example.com",), None, None),
        (("*",), "https://anything.example", "*"),
        # Only a lone "*" is a wildcard: both validators refuse "https://*", so it matches nothing.
        (("https://*",), "https://anything.example", None),
    ],
)
def test_allowed_origin(allowed: tuple[str, ...], origin: str | None, answer: str | None) -> None:
    assert CorsPolicy(allow_origins=allowed).allowed_origin(origin) == answer


@pytest.mark.parametrize(
    ("method", "origin", "requested", "expected"),
    [
        ("OPTIONS", "https://a.example", "POST", True),
        ("OPTIONS", None, "POST", False),
        ("OPTIONS", "https://a.example", None, False),
        ("GET", "https://a.example", "POST", False),
    ],
)
def test_a_preflight_needs_origin_and_requested_method(
    method: str, origin: str | None, requested: str | None, expected: bool
) -> None:
    assert is_preflight(method, origin, requested) is expected


def test_apply_replaces_the_function_cors_headers() -> None:
    headers = Headers(
        [
            ("Access-Control-Allow-Origin", "*"),
            ("access-control-allow-headers", "*"),
            ("Content-Type", "application/json"),
        ]
    )

    CorsPolicy(allow_origins=("https://a.example",)).apply(headers, "https://a.example")

    assert sorted(headers.items()) == [
        ("Content-Type", "application/json"),
        ("access-control-allow-origin", "https://a.example"),
        ("access-control-expose-headers", "x-request-id,retry-after"),
    ]


def test_local_cors_equals_the_stack() -> None:
    """The local run answers CORS exactly as the deployed API does (its routes are the stack's
    own table: tests/local_api/test_routes.py)."""
    from iris_infra import http_api  # here, not at the top: it imports Pulumi

    assert cors.CORS_ALLOW_METHODS == tuple(http_api.CORS_ALLOW_METHODS)
    assert cors.CORS_ALLOW_HEADERS == tuple(http_api.CORS_ALLOW_HEADERS)
    assert cors.CORS_EXPOSE_HEADERS == tuple(http_api.CORS_EXPOSE_HEADERS)
    assert cors.CORS_MAX_AGE_SECONDS == http_api.CORS_MAX_AGE_SECONDS
