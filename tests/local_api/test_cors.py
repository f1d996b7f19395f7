"""The gateway's CORS rules, and their equality with the stack's configuration."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers

from iris_infra.apps.iris import routes as iris_routes
from iris_infra.apps.spendsense import routes as spendsense_routes
from local_api import cors
from local_api.apps import IRIS, SPENDSENSE
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


@pytest.mark.parametrize(("app", "rules"), [(IRIS, iris_routes), (SPENDSENSE, spendsense_routes)])
def test_each_app_answers_cors_with_its_own_stacks_lists(app, rules) -> None:
    """The local run answers CORS exactly as that app's deployed API does: the stack passes the
    same module's lists to HttpApi (tests/spendsense_infra and the held IRIS plans check that)."""
    policy = app.cors(("http://localhost:5173",))
    assert policy.allow_methods == rules.CORS_ALLOW_METHODS
    assert policy.allow_headers == rules.CORS_ALLOW_HEADERS
    assert policy.expose_headers == rules.CORS_EXPOSE_HEADERS
    assert policy.max_age_seconds == rules.CORS_MAX_AGE_SECONDS
    assert (cors.CORS_ALLOW_METHODS, cors.CORS_EXPOSE_HEADERS) == (
        iris_routes.CORS_ALLOW_METHODS,
        iris_routes.CORS_EXPOSE_HEADERS,
    )
