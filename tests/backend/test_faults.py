"""Every dependency fault the API documents, in the deployed shape, over real sockets.

The function's dependencies are real servers on 127.0.0.1: moto in server mode plays SSM (the
OpenAI key) and DynamoDB (the cache), the OpenAI API is the loopback stub. One of them at a
time is replaced by a faulty endpoint (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_DYNAMODB`,
`OPENAI_BASE_URL`): refused, accepting and never answering, 5xx, throttled, or answering a 200
that is not JSON. A cache fault costs only the cache; a key or model fault is the API's
JSON 502/503/504, never a 500, and well inside API Gateway's 30 s.

Every cell stores the secrets in SSM as one of the canary keys, the ways an operator's
`put-parameter` can leave them (a trailing newline, CRLF, padding, a header injection,
non-ASCII), taken in turn, so the cells of each dependency meet every canary (`cells`); the
baseline meets all five. Whatever the fault, no log line the handlers write (tracebacks
included) and no answer carries the key (pitfall 37).
"""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import authorizer
from iris.budget import counter_key, utc_day
from iris.chat import MAX_ANSWER_BYTES
from lambda_kit.parameters import INIT_ATTEMPTS, REQUEST_ATTEMPTS
from tests.backend.loopback import (
    FAULTS,
    aws_client,
    closed_port_url,
    create_deployed_resources,
    fault_endpoint,
    moto_server,
)
from tests.backend.openai_stub import PORTAL_PAGE
from tests.events import LambdaContext, http_api_v2_event

# Every call to SSM or DynamoDB is bounded (lambda_kit.aws): 1 s to connect, 2 s (SSM) or 1 s
# (DynamoDB) to answer. The LLM gets OPENAI_TIMEOUT_S per attempt.
SSM_CALL_S = 3.0
DYNAMODB_CALL_S = 2.0
LLM_TIMEOUT_S = 1.0
SLACK_S = 1.5
GATEWAY_LIMIT_S = 30.0


@dataclass(frozen=True)
class Canary:
    """A secret as SSM holds it; `usable` when, stripped, an HTTP header can carry it."""

    stored: str
    usable: bool
    core: str = "sk-proj-Canary0nly4FaultCells7e6d5c4b3a2918"

    def leaks(self, text: str) -> list[str]:
        pieces = (self.core, self.core[:16], self.core[-12:])
        return [piece for piece in pieces if piece in text]


CORE = Canary.core
CANARIES = {
    "newline": Canary(f"{CORE}\n", usable=True),
    "crlf": Canary(f"{CORE}\r\n", usable=True),
    "padded": Canary(f"  \t{CORE} \t ", usable=True),
    "header-injection": Canary(f"{CORE}\r\nX-Header: x", usable=False),
    "non-ascii": Canary(f"{CORE}é", usable=False),
}


USABLE = {name: canary for name, canary in CANARIES.items() if canary.usable}


@pytest.fixture(params=CANARIES.values(), ids=CANARIES.keys())
def canary(request: pytest.FixtureRequest) -> Canary:
    return request.param


def cells(faults: Any, canaries: dict[str, Canary] = CANARIES) -> list[Any]:
    """Each fault once, with the canaries in turn: (fault, ..., canary) parameters.

    A fault is a name or a tuple of a name and what the test expects of it. Overriding the
    `canary` fixture this way keeps every canary in every dependency's cells without running
    each cell five times (a silent endpoint costs seconds a cell).
    """
    names = list(canaries)
    params = []
    for index, fault in enumerate(faults):
        values = fault if isinstance(fault, tuple) else (fault,)
        name = names[index % len(names)]
        params.append(pytest.param(*values, canaries[name], id=f"{values[0]}-{name}"))
    return params


class Output:
    """Everything the handlers wrote: stdout (the app's JSON lines), stderr, and the root
    logger's records (the runtime's handler in Lambda; Mangum logs there)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.text = ""

    def read(self) -> str:
        captured = self._capsys.readouterr()
        self.text += captured.out + captured.err
        return self.text


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Output:
    return Output(capsys)


@pytest.fixture
def logs(output: Output) -> Callable[[], list[dict[str, Any]]]:
    """The JSON log lines written so far; unlike conftest's, the output stays for the leak check."""
    return lambda: [json.loads(line) for line in output.read().splitlines() if line.startswith("{")]


@pytest.fixture
def answers() -> list[Any]:
    """Every answer a container or the authorizer gave in the test."""
    return []


@pytest.fixture(autouse=True)
def the_canary_never_leaks(
    canary: Canary, output: Output, answers: list[Any], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    caplog.set_level("INFO")
    yield
    written = output.read()
    assert written, "nothing was captured: the check would prove nothing"
    assert canary.leaks(written) == [], "the key reached a log line"
    assert canary.leaks(caplog.text) == [], "the key reached the root logger's handler"
    assert canary.leaks(json.dumps(answers)) == [], "the key reached an answer"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@dataclass
class Deployed:
    """One stack's worth of resources on the moto server."""

    moto_url: str
    table: str
    parameter: str

    def environment(self, **overrides: str) -> dict[str, str]:
        return {
            "IRIS_LLM_PROVIDER": "openai",
            "OPENAI_API_KEY_PARAM": self.parameter,
            "IRIS_CACHE_TABLE": self.table,
            "OPENAI_MODEL": "gpt-4o-mini",
            "OPENAI_TIMEOUT_S": str(LLM_TIMEOUT_S),
            "OPENAI_MAX_RETRIES": "1",
            "AWS_ENDPOINT_URL_SSM": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            **overrides,
        }

    def cached_items(self) -> list[dict[str, Any]]:
        return aws_client("dynamodb", self.moto_url).scan(TableName=self.table)["Items"]


@pytest.fixture
def deployed(moto_url: str, canary: Canary) -> Deployed:
    suffix = uuid.uuid4().hex[:8]
    resources = Deployed(moto_url, f"iris-faults-{suffix}", f"/iris/faults-{suffix}/openai")
    create_deployed_resources(
        moto_url, table=resources.table, parameter=resources.parameter, key=canary.stored
    )
    return resources


@dataclass
class Started:
    container: Any
    init_s: float


@pytest.fixture
def start(start_container: Callable[..., Any], answers: list[Any]) -> Callable[..., Started]:
    def timed_start(**environ: str) -> Started:
        started = time.monotonic()
        container = start_container(**environ)
        init_s = time.monotonic() - started
        handler = container.handler

        def recording(event: dict[str, Any], context: Any) -> dict[str, Any]:
            answers.append(handler(event, context))
            return answers[-1]

        container.handler = recording
        return Started(container, init_s)

    return timed_start


def analyze(container: Any, text: str) -> tuple[Any, float]:
    started = time.monotonic()
    answer = container.analyze({"text": text}, context=LambdaContext(remaining_ms=29_000))
    return answer, time.monotonic() - started


def assert_contract_error(answer: Any, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error"} and answer.body["error"]["code"] == code
    assert "Traceback" not in answer.raw_body


def assert_key_refused(openai_api: Any, *answers: Any) -> None:
    """What a key no header can carry gets, whatever else is down: 503, and no LLM call."""
    for answer in answers:
        assert_contract_error(answer, 503, "llm_not_configured")
    assert openai_api.requests == []


def test_the_healthy_deployed_shape_answers_and_caches(
    start: Any, deployed: Deployed, openai_api: Any, canary: Canary, logs: Any
) -> None:
    """The baseline every fault is measured against: key from SSM, cache in DynamoDB."""
    started = start(**deployed.environment(OPENAI_BASE_URL=openai_api.base_url))

    first, _ = analyze(started.container, "healthy")
    again = started.container.analyze({"text": "healthy"})
    restarted = start(**deployed.environment(OPENAI_BASE_URL=openai_api.base_url)).container
    elsewhere = restarted.analyze({"text": "healthy"})

    if not canary.usable:
        assert_key_refused(openai_api, first, again, elsewhere)
        failures = [entry for entry in logs() if entry["message"] == "analysis failed"]
        assert {(entry["reason"], entry["parameter"]) for entry in failures} == {
            ("key_not_header_safe", deployed.parameter)
        }
        assert deployed.cached_items() == []
        return
    assert (first.status, first.body["cached"], again.body["cached"]) == (200, False, True)
    assert elsewhere.body["cached"] is True
    assert len(deployed.cached_items()) == 1
    assert [sent["headers"]["Authorization"] for sent in openai_api.requests] == [
        f"Bearer {canary.core}"
    ]


# SSM (the OpenAI key): the answer is 503 llm_not_configured, INIT goes on regardless


@pytest.mark.parametrize(("fault", "canary"), cells(FAULTS))
def test_an_ssm_fault_is_a_503_and_never_holds_init(
    fault: str, start: Any, deployed: Deployed, openai_api: Any, logs: Any
) -> None:
    with fault_endpoint("ssm", fault) as server:
        ssm_url = server.url if server else closed_port_url()
        started = start(
            **deployed.environment(
                OPENAI_BASE_URL=openai_api.base_url, AWS_ENDPOINT_URL_SSM=ssm_url
            )
        )
        answer, elapsed = analyze(started.container, "no key")
        health = started.container.invoke(http_api_v2_event("GET", "/health"))

    assert_contract_error(answer, 503, "llm_not_configured")
    assert health.status == 200
    assert openai_api.requests == []
    assert started.init_s < INIT_ATTEMPTS * SSM_CALL_S + SLACK_S
    assert elapsed < REQUEST_ATTEMPTS * SSM_CALL_S + SLACK_S < GATEWAY_LIMIT_S
    (failure,) = [entry for entry in logs() if entry["message"] == "analysis failed"]
    if server is not None:
        # A page is no answer a second attempt would change; the others get two per request.
        per_request = 1 if fault == "not_json" else REQUEST_ATTEMPTS
        assert server.targets == ["AmazonSSM.GetParameter"] * (INIT_ATTEMPTS + per_request)
        assert (
            failure["reason"]
            == {
                "silent": "ReadTimeoutError",
                "5xx": "InternalServerError",
                "throttled": "ThrottlingException",
                "not_json": "malformed_answer",
            }[fault]
        )
    else:
        assert failure["reason"] == "EndpointConnectionError"


@pytest.mark.parametrize(("fault", "canary"), cells(FAULTS))
def test_an_ssm_fault_denies_in_the_authorizer_and_never_holds_init(
    fault: str, monkeypatch: pytest.MonkeyPatch, answers: list[Any]
) -> None:
    with fault_endpoint("ssm", fault) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", server.url if server else closed_port_url())
        monkeypatch.setenv("IRIS_API_KEYS_PARAM", "/iris/faults/api-keys")
        started = time.monotonic()
        importlib.reload(authorizer)
        init_s = time.monotonic() - started
        started = time.monotonic()
        answer = authorizer.handler(
            {"headers": {"x-api-key": "any"}, "requestContext": {}}, LambdaContext()
        )
        elapsed = time.monotonic() - started
        answers.append(answer)

    assert answer == {"isAuthorized": False}
    assert init_s < INIT_ATTEMPTS * SSM_CALL_S + SLACK_S
    assert elapsed < REQUEST_ATTEMPTS * SSM_CALL_S + SLACK_S


def test_the_authorizer_strips_its_keys_and_never_logs_them(
    moto_url: str, canary: Canary, monkeypatch: pytest.MonkeyPatch, answers: list[Any]
) -> None:
    """The API keys in SSM, stored as the canary: a key is compared stripped, never logged."""
    parameter = f"/iris/faults-{uuid.uuid4().hex[:8]}/api-keys"
    other_key = "iris-other-client-key-0123456789"
    aws_client("ssm", moto_url).put_parameter(
        Name=parameter, Value=f"{canary.stored},{other_key}", Type="SecureString"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_url)
    monkeypatch.setenv("IRIS_API_KEYS_PARAM", parameter)
    importlib.reload(authorizer)

    for presented in (canary.core, other_key, f"{canary.core}-guess"):
        event = {"headers": {"x-api-key": presented}, "requestContext": {"requestId": "r"}}
        answers.append(authorizer.handler(event, LambdaContext()))

    slot = {"isAuthorized": True, "context": {"keySlot": "key-1"}}
    # A stored key a header cannot carry matches no header at all.
    assert answers[0] == (slot if canary.usable else {"isAuthorized": False})
    assert answers[1:] == [
        {"isAuthorized": True, "context": {"keySlot": "key-2"}},
        {"isAuthorized": False},
    ]


# DynamoDB (the cache): a fault costs the cache, never the request


@pytest.mark.parametrize(("fault", "canary"), cells(FAULTS))
def test_a_dynamodb_fault_costs_only_the_cache(
    fault: str, start: Any, deployed: Deployed, openai_api: Any, canary: Canary
) -> None:
    with fault_endpoint("dynamodb", fault) as server:
        dynamodb_url = server.url if server else closed_port_url()
        container = start(
            **deployed.environment(
                OPENAI_BASE_URL=openai_api.base_url, AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url
            )
        ).container
        first, elapsed = analyze(container, "cache down")
        second, _ = analyze(container, "cache down")

    assert elapsed < DYNAMODB_CALL_S + SLACK_S
    if not canary.usable:
        assert_key_refused(openai_api, first, second)
        if server is not None:
            assert server.targets == ["DynamoDB_20120810.GetItem"] * 2
        return
    assert (first.status, first.body["cached"]) == (200, False)
    # The memory tier in front of DynamoDB still works.
    assert (second.status, second.body["cached"]) == (200, True)
    assert len(openai_api.requests) == 1
    # One timeout per request at most: after a read that timed out, no write is tried.
    if server is not None:
        expected = ["DynamoDB_20120810.GetItem"]
        if fault != "silent":
            expected.append("DynamoDB_20120810.PutItem")
        assert server.targets == expected


@pytest.mark.parametrize("canary", [CANARIES["padded"]], ids=["padded"])
def test_the_logged_warning_of_a_silent_table_names_the_timeout(
    start: Any, deployed: Deployed, openai_api: Any, logs: Any
) -> None:
    """A timeout has no AWS error code: the warning must not crash reading one (pitfall 28)."""
    with fault_endpoint("dynamodb", "silent") as server:
        assert server is not None
        container = start(
            **deployed.environment(
                OPENAI_BASE_URL=openai_api.base_url, AWS_ENDPOINT_URL_DYNAMODB=server.url
            )
        ).container
        analyze(container, "slow table")

    (warning,) = [entry for entry in logs() if entry["message"] == "cache read failed"]
    assert (warning["error_type"], warning["error_code"]) == ("ReadTimeoutError", None)
    assert not [entry for entry in logs() if entry["message"] == "cache write failed"]


# DynamoDB (the token budget's counter): a fault stops uncached analyses with the API's 503
# and no model call, unless the team opted into an allowance; never a 500, one timeout at most

BUDGET = "1000000"
# What each fault reads as: a 200 that is not DynamoDB's answer holds no count.
COUNTER_FAULT_REASONS = {"not_json": "malformed_counter", "silent": "earlier_timeout"}


def counter_failures(logs: Any) -> list[dict[str, Any]]:
    return [line for line in logs() if line["message"] == "llm budget counter failed"]


# The budget reserves only around a model call, which a key no header can carry never makes.
@pytest.mark.parametrize(("fault", "canary"), cells(FAULTS, USABLE))
def test_a_dynamodb_fault_stops_the_model_call_with_its_own_503(
    fault: str, start: Any, deployed: Deployed, openai_api: Any, logs: Any
) -> None:
    with fault_endpoint("dynamodb", fault) as server:
        dynamodb_url = server.url if server else closed_port_url()
        container = start(
            **deployed.environment(
                OPENAI_BASE_URL=openai_api.base_url,
                AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url,
                IRIS_LLM_DAILY_TOKEN_BUDGET=BUDGET,
            )
        ).container
        answer, elapsed = analyze(container, "budget blind")

    assert_contract_error(answer, 503, "llm_budget_unavailable")
    assert answer.headers["retry-after"] == "30"
    assert openai_api.requests == []
    # One timeout per request at most, the cache's and the counter's together.
    assert elapsed < DYNAMODB_CALL_S + SLACK_S
    (failed,) = counter_failures(logs)
    assert (failed["step"], failed["admitted"]) == ("reserve", False)
    assert failed["reason"] == COUNTER_FAULT_REASONS.get(fault, "call_failed")
    if server is not None:
        # After the cache's read timed out, the counter is not even asked.
        reserved = [] if fault == "silent" else ["DynamoDB_20120810.UpdateItem"]
        assert server.targets == ["DynamoDB_20120810.GetItem", *reserved]


@pytest.mark.parametrize(("fault", "canary"), cells(FAULTS, USABLE))
def test_with_an_allowance_a_dynamodb_fault_lets_the_call_through_unreserved(
    fault: str, start: Any, deployed: Deployed, openai_api: Any, logs: Any
) -> None:
    with fault_endpoint("dynamodb", fault) as server:
        dynamodb_url = server.url if server else closed_port_url()
        container = start(
            **deployed.environment(
                OPENAI_BASE_URL=openai_api.base_url,
                AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url,
                IRIS_LLM_DAILY_TOKEN_BUDGET=BUDGET,
                IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER="1",
            )
        ).container
        answer, elapsed = analyze(container, "budget blind")
        refused, _ = analyze(container, "allowance spent")

    assert (answer.status, answer.body["cached"]) == (200, False)
    assert_contract_error(refused, 503, "llm_budget_unavailable")
    assert len(openai_api.requests) == 1
    assert elapsed < DYNAMODB_CALL_S + SLACK_S
    failed = [(line["step"], line.get("admitted")) for line in counter_failures(logs)]
    # The unreserved call is counted once the counter answers: here it never does.
    assert failed == [("reserve", True), ("count", None), ("reserve", False)]


@pytest.mark.parametrize("canary", USABLE.values(), ids=USABLE.keys())
def test_a_garbled_counter_item_stops_the_model_call(
    start: Any, deployed: Deployed, openai_api: Any, logs: Any
) -> None:
    """The counter item itself holds garbage (a string where the count should be)."""
    day = utc_day(time.time())
    aws_client("dynamodb", deployed.moto_url).put_item(
        TableName=deployed.table,
        Item={"pk": {"S": counter_key(day)}, "tokens": {"S": "lots"}},
    )
    container = start(
        **deployed.environment(
            OPENAI_BASE_URL=openai_api.base_url, IRIS_LLM_DAILY_TOKEN_BUDGET=BUDGET
        )
    ).container

    answer, _ = analyze(container, "garbled counter")

    assert_contract_error(answer, 503, "llm_budget_unavailable")
    assert openai_api.requests == []
    (failed,) = counter_failures(logs)
    assert (failed["step"], failed["reason"]) == ("reserve", "malformed_counter")
    assert len(deployed.cached_items()) == 1, "only the garbled item: nothing was analyzed"


# The OpenAI endpoint: 502 or 504, nothing cached


# A key no header can carry makes no model call at all (the baseline and the SSM and DynamoDB
# cells hold that), so the model's faults meet the canaries that reach it.
@pytest.mark.parametrize(
    ("fault", "status", "code", "canary"),
    cells(
        [
            ("refused", 502, "llm_upstream_error"),
            ("silent", 504, "llm_timeout"),
            ("5xx", 502, "llm_upstream_error"),
            ("throttled", 502, "llm_rate_limited"),
            ("not_json", 502, "llm_upstream_error"),
            # A byte every 0.2 s: each socket read is quick, the whole answer never (pitfall 38).
            ("drip", 504, "llm_timeout"),
            ("oversized", 502, "llm_upstream_error"),
        ],
        USABLE,
    ),
)
def test_an_llm_fault_is_a_json_502_or_504(
    fault: str,
    status: int,
    code: str,
    start: Any,
    deployed: Deployed,
    openai_api: Any,
    canary: Canary,
) -> None:
    if fault == "drip":
        openai_api.always(drip_s=0.2)
    elif fault == "oversized":
        openai_api.always(content="x" * MAX_ANSWER_BYTES)
    elif fault == "silent":
        openai_api.always(delay_s=LLM_TIMEOUT_S * 3)
    elif fault == "5xx":
        openai_api.always(500)
    elif fault == "throttled":
        openai_api.always(429, headers={"retry-after-ms": "50"})
    elif fault == "not_json":
        openai_api.always(page=PORTAL_PAGE)
    base_url = closed_port_url() + "/v1" if fault == "refused" else openai_api.base_url
    container = start(**deployed.environment(OPENAI_BASE_URL=base_url)).container

    answer, elapsed = analyze(container, "model down")

    assert_contract_error(answer, status, code)
    assert PORTAL_PAGE not in answer.raw_body
    # Two attempts (OPENAI_MAX_RETRIES=1), except for answers no retry would change.
    attempts = 1 if fault in ("not_json", "oversized") else 2
    if fault != "refused":
        assert len(openai_api.requests) == attempts
    assert elapsed < attempts * LLM_TIMEOUT_S + 0.5 + SLACK_S < GATEWAY_LIMIT_S
    assert deployed.cached_items() == []
