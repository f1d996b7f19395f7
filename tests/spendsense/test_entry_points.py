"""SpendSense's Lambda entry points, whole: `handler.handler` (the FastAPI app) and an insight's
`insights.net_worth.handler`, through the handler kit, with real-shaped API Gateway events.

What only SpendSense's entry points add to the kit is checked here: the database loaded at INIT,
retried by the first request that needs it and a JSON 503 while it cannot be had; and, with
SPENDSENSE_REQUIRE_AUTHORIZER=true (the stack sets it beside apiKeys), /api/* served only to
requests that SpendSense's X-API-Key authorizer passed (pitfall 41), however the path is spelt.
The kit's own behaviour on these entry points is in tests/backend/test_handler.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_kit.guard import UNAUTHORIZED_MESSAGE
from lambda_kit.settings import SettingsError
from tests.events import LambdaContext, http_api_v2_event, rest_v1_event
from tests.spendsense.entry_points import load_authorizer

API = "handler.handler"
NET_WORTH = "insights.net_worth.handler"
# (command, guarded path, query) of each kind of entry point.
ENTRY_POINTS = [
    pytest.param(API, "/api/stats", "", id="api"),
    pytest.param(NET_WORTH, "/api/insights/net-worth", "user_id=u-1", id="insight"),
]
CONTEXT = {"keySlot": "key-1"}
API_KEY = "spendsense-test-key-5a1c9e3b7d"


def answer_of(handler: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of the handler's answer, after what every answer shares."""
    context = LambdaContext()
    answer = handler(event, context)
    assert answer["headers"]["content-type"] == "application/json", answer
    assert answer["headers"]["x-request-id"] == context.aws_request_id
    return answer["statusCode"], json.loads(answer["body"])


def log_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# The database: loaded at INIT, retried, 503 meanwhile


@pytest.mark.parametrize(("command", "path", "query"), ENTRY_POINTS)
def test_the_database_is_loaded_at_init_not_by_the_first_request(
    start_entry: Callable[..., Any],
    hand_database: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    path: str,
    query: str,
) -> None:
    handler = start_entry(command, DB_PATH=str(hand_database))
    init = log_lines(capsys.readouterr().out)

    status, body = answer_of(handler, http_api_v2_event("GET", path, query=query))

    assert status == 200, body
    (loaded,) = [line for line in init if line["message"] == "database loaded"]
    assert loaded["logger"] == "spendsense.data" and "requestId" not in loaded
    assert [line["message"] for line in log_lines(capsys.readouterr().out)] == []


@pytest.mark.parametrize(("command", "path", "query"), ENTRY_POINTS)
def test_without_the_database_a_json_503_then_the_next_request_loads_it(
    start_entry: Callable[..., Any],
    hand_database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    path: str,
    query: str,
) -> None:
    """INIT goes on without it; each request tries again, and answers once it can."""
    later = tmp_path / "spendsense.db"
    handler = start_entry(command, DB_PATH=str(later))
    event = http_api_v2_event("GET", path, query=query)
    context = LambdaContext()
    capsys.readouterr()

    unavailable = handler(event, context)
    shutil.copyfile(hand_database, later)
    status, body = answer_of(handler, event)

    assert unavailable["statusCode"] == 503
    assert json.loads(unavailable["body"])["error"]["code"] == "data_unavailable"
    assert unavailable["headers"]["x-request-id"] == context.aws_request_id
    assert status == 200, body
    failed, loaded = log_lines(capsys.readouterr().out)
    assert (failed["message"], failed["reason"]) == ("database unavailable", "FileNotFoundError")
    assert failed["requestId"] == context.aws_request_id
    assert loaded["message"] == "database loaded"


@pytest.mark.parametrize("command", [API, NET_WORTH])
def test_health_and_the_kits_answers_need_no_database(
    start_entry: Callable[..., Any], tmp_path: Path, command: str
) -> None:
    handler = start_entry(command, DB_PATH=str(tmp_path / "missing.db"))

    assert handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None) == {
        "warmed": True
    }
    if command == API:
        assert answer_of(handler, http_api_v2_event("GET", "/health")) == (200, {"status": "ok"})


# The authorizer guard (pitfall 41)


def spellings(path: str) -> list[str]:
    """The path as an event may carry it after API Gateway's decoding, other than it is."""
    tail = path.removeprefix("/api/")
    return [
        "/%61pi/" + tail,
        "/api%2F" + tail,
        "/api%2f" + tail,
        "/api/%25" + f"{ord(tail[0]):02x}" + tail[1:],
        "/API/" + tail,
        "//api//" + tail,
        path + "/",
        "/api",
    ]


@pytest.fixture
def guarded(start_entry: Callable[..., Any], hand_database: Path) -> Callable[[str], Any]:
    return lambda command: start_entry(
        command, DB_PATH=str(hand_database), SPENDSENSE_REQUIRE_AUTHORIZER="true"
    )


def unauthorized(status: int, body: dict[str, Any]) -> bool:
    return (status, body) == (
        401,
        {"error": {"code": "unauthorized", "message": UNAUTHORIZED_MESSAGE}},
    )


@pytest.mark.parametrize(("command", "path", "query"), ENTRY_POINTS)
def test_with_the_guard_no_spelling_of_an_api_path_is_served_without_the_authorizer(
    guarded: Callable[[str], Any], command: str, path: str, query: str
) -> None:
    handler = guarded(command)
    events = [
        *(http_api_v2_event("GET", spelt, query=query) for spelt in [path, *spellings(path)]),
        http_api_v2_event("GET", path, query=query, route_key=f"GET {path}"),
        rest_v1_event("GET", "/api/%2573tats" if command == API else path),
    ]

    for event in events:
        assert unauthorized(*answer_of(handler, event)), event[
            "rawPath" if "rawPath" in event else "path"
        ]


@pytest.mark.parametrize(("command", "path", "query"), ENTRY_POINTS)
@pytest.mark.parametrize(
    "authorizer",
    [{"lambda": {}}, {"lambda": {"keySlot": "admin"}}, {"keySlot": "key-1"}, {"jwt": {}}, None],
    ids=["empty", "not-a-slot", "outside-lambda", "jwt", "null"],
)
def test_anything_but_the_authorizers_context_is_refused(
    guarded: Callable[[str], Any], command: str, path: str, query: str, authorizer: Any
) -> None:
    event = http_api_v2_event("GET", path, query=query)
    event["requestContext"]["authorizer"] = authorizer

    assert unauthorized(*answer_of(guarded(command), event))


@pytest.mark.parametrize(("command", "path", "query"), ENTRY_POINTS)
def test_the_spendsense_authorizers_own_answer_is_served(
    guarded: Callable[[str], Any],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    path: str,
    query: str,
) -> None:
    """The context the function checks for is the one SpendSense's authorizer returns."""
    handler = guarded(command)
    monkeypatch.setenv("SPENDSENSE_API_KEYS", API_KEY)
    event = http_api_v2_event("GET", path, query=query, headers={"x-api-key": API_KEY})
    decision = load_authorizer().handler({**event, "identitySource": [API_KEY]}, None)
    assert decision["isAuthorized"] is True
    event["requestContext"]["authorizer"] = {"lambda": decision["context"]}

    status, body = answer_of(handler, event)

    assert status == 200, body
    # With the context, only the path API Gateway matched is the route's own.
    event["requestContext"]["http"]["path"] = spellings(path)[0]
    assert answer_of(handler, event)[0] == 404


def test_with_the_guard_open_paths_stay_open(guarded: Callable[[str], Any]) -> None:
    handler = guarded(API)

    assert answer_of(handler, http_api_v2_event("GET", "/health")) == (200, {"status": "ok"})
    assert answer_of(handler, http_api_v2_event("GET", "/apiary"))[0] == 404


@pytest.mark.parametrize(("command", "path", "query"), ENTRY_POINTS)
def test_without_the_setting_nothing_is_refused(
    start_entry: Callable[..., Any], hand_database: Path, command: str, path: str, query: str
) -> None:
    """No apiKeys: no authorizer and no context, and the routes are served as before."""
    handler = start_entry(command, DB_PATH=str(hand_database))

    assert answer_of(handler, http_api_v2_event("GET", path, query=query))[0] == 200


def test_a_refusal_is_logged_with_the_route_only(
    guarded: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    handler = guarded(NET_WORTH)
    event = http_api_v2_event(
        "GET", "/api/insights/net-worth", query="user_id=u-1", headers={"x-api-key": API_KEY}
    )
    context = LambdaContext()
    capsys.readouterr()

    handler(event, context)

    (line,) = log_lines(capsys.readouterr().out)
    assert line["message"] == "unauthorized: no authorizer context on a guarded path"
    assert (line["level"], line["logger"]) == ("WARNING", "spendsense")
    assert (line["routeKey"], line["requestId"]) == ("$default", context.aws_request_id)
    assert API_KEY not in json.dumps(line) and "u-1" not in json.dumps(line)


def test_a_bad_setting_fails_init_naming_the_variable(
    start_entry: Callable[..., Any], hand_database: Path
) -> None:
    with pytest.raises(SettingsError, match="SPENDSENSE_REQUIRE_AUTHORIZER='yes' is not allowed"):
        start_entry(API, DB_PATH=str(hand_database), SPENDSENSE_REQUIRE_AUTHORIZER="yes")
