"""POST /api/iris/analyze through the real Lambda handler: validation, the LLM, the SSM key.

Each case starts a fresh container (the app rebuilt from the environment) and sends complete
API Gateway events; the OpenAI API is a loopback HTTP server speaking OpenAI's shapes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from iris.analyze import LAMBDA_RESERVE_S, MAX_TEXT_CHARS, SERVICE_EXTENSION, AnalysisService
from iris.cache import MemoryCache
from iris.llm import Analysis, OfflineAnalyzer
from iris.settings import LLM_BUDGET_S
from lambda_kit import parameters
from tests.events import LambdaContext, http_api_v2_event, rest_v1_event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[http_api_v2_event, rest_v1_event], ids=["v2", "v1"])
def event(request: pytest.FixtureRequest) -> Any:
    return request.param


def error_of(answer: Any, status: int, code: str) -> str:
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error"}
    assert set(answer.body["error"]) == {"code", "message"}
    assert answer.body["error"]["code"] == code
    assert "Traceback" not in answer.raw_body
    return answer.body["error"]["message"]


# Requests the route refuses


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "says"),
    [
        ('{"text": "hi"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type", "JSON"),
        ('{"text": "hi"}', {}, 415, "unsupported_media_type", "JSON"),
        ('{"text": ', None, 400, "invalid_json", "not valid JSON"),
        ("", None, 400, "invalid_json", "not valid JSON"),
        ('["hello"]', None, 400, "invalid_field", "JSON object"),
        ('"hello"', None, 400, "invalid_field", "JSON object"),
        ("{}", None, 400, "invalid_field", "'text'"),
        ('{"text": 42}', None, 400, "invalid_field", "'text'"),
        ('{"text": null}', None, 400, "invalid_field", "'text'"),
        ('{"text": ["hi"]}', None, 400, "invalid_field", "'text'"),
        ('{"text": " \\n\\t "}', None, 400, "invalid_field", "non-blank string"),
    ],
    ids=[
        "text-plain",
        "no-content-type",
        "truncated",
        "empty",
        "array",
        "string",
        "missing",
        "number",
        "null",
        "list",
        "blank",
    ],
)
def test_invalid_requests_get_the_contracts_codes(
    start_container: Any,
    event: Any,
    body: str,
    headers: dict[str, str] | None,
    status: int,
    code: str,
    says: str,
) -> None:
    answer = start_container().analyze(body, event=event, headers=headers)

    assert says in error_of(answer, status, code)


def test_text_over_the_cap_is_refused_with_the_limit(start_container: Any, event: Any) -> None:
    container = start_container()

    at_limit = container.analyze({"text": "a" * MAX_TEXT_CHARS}, event=event)
    over = container.analyze({"text": "a" * (MAX_TEXT_CHARS + 1)}, event=event)

    assert at_limit.status == 200
    assert "20,000 characters" in error_of(over, 400, "text_too_long")


def test_the_longest_text_fits_under_the_default_body_limit(start_container: Any) -> None:
    """20,000 characters in the costliest JSON spelling (an escaped surrogate pair each)."""
    body = json.dumps({"text": "🌸" * MAX_TEXT_CHARS}, ensure_ascii=True)

    answer = start_container().analyze(body)

    assert answer.status == 200, answer.body
    assert answer.body["analysis"].startswith("Words: 0; sentences: 1; characters: 20000.")


def test_a_body_over_the_configured_limit_is_a_json_413(start_container: Any) -> None:
    answer = start_container(IRIS_MAX_BODY_BYTES="1000").analyze({"text": "a" * 1000})

    error_of(answer, 413, "body_too_large")


def test_fields_besides_text_are_ignored(start_container: Any) -> None:
    answer = start_container().analyze({"text": "A good day.", "language": "en", "n": 3})

    assert answer.status == 200
    assert answer.body == {
        "analysis": answer.body["analysis"],
        "model": "offline-v1",
        "cached": False,
        "complete": True,
        "promptVersion": "iris-analysis-1",
    }
    assert "Sentiment: positive" in answer.body["analysis"]


def test_each_answered_analysis_logs_whether_it_came_from_the_cache(
    start_container: Any, logs: Any
) -> None:
    """The stack's dashboard counts cache hits from these lines (a metric filter on them)."""
    container = start_container()
    first = container.analyze({"text": "Once."})
    second = container.analyze({"text": "Once."})

    served = [entry for entry in logs() if entry["message"] == "analysis served"]
    assert [(entry["cached"], entry["requestId"]) for entry in served] == [
        (False, first.request_id),
        (True, second.request_id),
    ]
    assert {entry["model"] for entry in served} == {"offline-v1"}


# The OpenAI provider


def test_openai_analysis_through_the_handler(
    openai_container: Any, openai_api: Any, event: Any
) -> None:
    text = "Grüße aus 東京: the launch went well."

    answer = openai_container().analyze({"text": text}, event=event)

    assert answer.status == 200, answer.body
    assert answer.body["analysis"] == "Summary: a test.\nSentiment: neutral.\nTopics: testing."
    assert answer.body["model"] == openai_api.model_snapshot
    assert answer.body["cached"] is False
    (sent,) = openai_api.requests
    assert sent["headers"]["Authorization"] == f"Bearer {openai_api.api_key}"
    assert sent["json"]["model"] == openai_api.model_alias
    assert sent["json"]["max_completion_tokens"] == 300
    assert sent["json"]["messages"][-1] == {"role": "user", "content": text}


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        ({"status": 401}, 502, "llm_auth_failed"),
        ({"status": 403}, 502, "llm_auth_failed"),
        ({"status": 429}, 502, "llm_rate_limited"),
        ({"status": 500}, 502, "llm_upstream_error"),
        ({"delay_s": 0.6}, 504, "llm_timeout"),
    ],
    ids=["401", "403", "429", "500", "timeout"],
)
def test_upstream_failures_answer_without_upstream_details(
    openai_container: Any,
    openai_api: Any,
    logs: Any,
    reply: dict[str, Any],
    status: int,
    code: str,
) -> None:
    openai_api.always(**reply)
    container = openai_container(OPENAI_TIMEOUT_S="0.3")

    answer = container.analyze({"text": "hello"})

    error_of(answer, status, code)
    logged = logs()
    (failure,) = [entry for entry in logged if entry["message"] == "analysis failed"]
    assert failure["level"] == ("ERROR" if code == "llm_auth_failed" else "WARNING")
    assert failure["code"] == code
    assert failure["requestId"] == answer.request_id
    assert failure.get("upstream_status") == reply.get("status")
    leaks = [openai_api.api_key, openai_api.api_key[-8:], *openai_api.error_messages]
    everything_logged = json.dumps(logged)
    for leak in leaks:
        assert leak not in answer.raw_body
        assert leak not in everything_logged
    assert len(openai_api.requests) == 1


def test_openai_without_a_key_is_a_503(start_container: Any, openai_api: Any) -> None:
    container = start_container(IRIS_LLM_PROVIDER="openai", OPENAI_BASE_URL=openai_api.base_url)

    answer = container.analyze({"text": "hello"})

    error_of(answer, 503, "llm_not_configured")
    assert openai_api.requests == []


# The deadline: the time the invocation has left bounds the LLM (pitfall 9)


def timed(container: Any, context: LambdaContext) -> tuple[Any, float]:
    """The answer to an analyze request sent with `context`, and the seconds it took."""
    started = time.monotonic()
    answer = container.analyze({"text": "hello"}, context=context)
    return answer, time.monotonic() - started


def test_a_retry_after_past_the_time_left_answers_at_once(
    openai_container: Any, openai_api: Any
) -> None:
    """The SDK would wait out the Retry-After and Lambda would time out: a bare gateway 503."""
    openai_api.always(429, headers={"retry-after": "5"})
    container = openai_container(OPENAI_MAX_RETRIES="1")

    answer, elapsed = timed(container, LambdaContext(remaining_ms=3_000))

    error_of(answer, 502, "llm_rate_limited")
    assert elapsed < 1.0
    assert len(openai_api.requests) == 1


def test_a_retry_after_that_fits_is_waited_and_retried(
    openai_container: Any, openai_api: Any
) -> None:
    openai_api.reply(429, headers={"retry-after": "0.2"})
    container = openai_container(OPENAI_MAX_RETRIES="1")

    answer, elapsed = timed(container, LambdaContext())

    assert answer.status == 200, answer.body
    assert answer.body["cached"] is False
    first, second = (sent["received_at"] for sent in openai_api.requests)
    assert 0.2 <= second - first <= elapsed < 1.0


def test_a_slow_upstream_is_a_json_504_before_the_invocation_ends(
    openai_container: Any, openai_api: Any, logs: Any
) -> None:
    openai_api.always(delay_s=3.0)
    container = openai_container(OPENAI_TIMEOUT_S="14", OPENAI_MAX_RETRIES="1")
    context = LambdaContext(remaining_ms=2_500)

    answer, elapsed = timed(container, context)

    error_of(answer, 504, "llm_timeout")
    assert elapsed < context.remaining_ms / 1000
    assert context.get_remaining_time_in_millis() > 500
    assert len(openai_api.requests) == 1
    (failure,) = [entry for entry in logs() if entry["message"] == "analysis failed"]
    assert (failure["error_type"], failure["attempts"]) == ("ReadTimeoutError", 1)


def test_with_too_little_time_left_the_upstream_is_not_called(
    openai_container: Any, openai_api: Any, logs: Any
) -> None:
    container = openai_container(OPENAI_MAX_RETRIES="1")

    answer, elapsed = timed(container, LambdaContext(remaining_ms=500))

    error_of(answer, 504, "llm_timeout")
    assert elapsed < 0.5
    assert openai_api.requests == []
    (failure,) = [entry for entry in logs() if entry["message"] == "analysis failed"]
    assert failure["reason"] == "no_time_left"


class SlowCache(MemoryCache):
    """A cache tier whose reads take as long as a struggling DynamoDB's."""

    def __init__(self, read_s: float) -> None:
        super().__init__(ttl_seconds=60)
        self.read_s = read_s

    def get(self, key: str) -> Any:
        time.sleep(self.read_s)
        return super().get(key)


def test_time_spent_reading_the_cache_counts(openai_container: Any, openai_api: Any) -> None:
    """The deadline is set when the request starts, not when the LLM is called."""
    container = openai_container(OPENAI_MAX_RETRIES="1")
    settings = container.app.extensions["iris.settings"]
    container.app.extensions[SERVICE_EXTENSION] = AnalysisService(settings, cache=SlowCache(1.2))

    answer, elapsed = timed(container, LambdaContext(remaining_ms=3_000))

    error_of(answer, 504, "llm_timeout")
    assert elapsed < 2.0
    assert openai_api.requests == []


class DeadlineRecorder(OfflineAnalyzer):
    def __init__(self) -> None:
        self.seconds_left: list[float] = []

    def analyze(self, text: str, deadline: float) -> Analysis:
        self.seconds_left.append(deadline - time.monotonic())
        return super().analyze(text, deadline)


@pytest.mark.parametrize(
    ("remaining_ms", "budget_s"),
    [
        (None, LLM_BUDGET_S),
        (30_000, LLM_BUDGET_S),
        (10_000, 10 - LAMBDA_RESERVE_S),
        (1_500, 1.5 - LAMBDA_RESERVE_S),
    ],
    ids=["no-lambda", "30s-left", "10s-left", "1.5s-left"],
)
def test_the_budget_is_capped_by_the_invocations_time_left(
    start_container: Any, remaining_ms: int | None, budget_s: float
) -> None:
    container = start_container()
    recorder = DeadlineRecorder()
    container.app.extensions[SERVICE_EXTENSION] = AnalysisService(
        container.app.extensions["iris.settings"], analyzer_factory=lambda _: recorder
    )

    if remaining_ms is None:
        # `flask run` and the Flask test client: no Lambda context in the environ.
        answer = container.app.test_client().post("/api/iris/analyze", json={"text": "hello"})
        assert answer.status_code == 200
    else:
        answer = container.analyze(
            {"text": "hello"}, context=LambdaContext(remaining_ms=remaining_ms)
        )
        assert answer.status == 200

    (seconds_left,) = recorder.seconds_left
    assert budget_s - 0.3 < seconds_left <= budget_s


# The key from SSM (the deployed set-up)


def test_the_key_is_read_from_ssm_once_per_container(
    openai_container: Any, openai_api: Any, key_parameter: Any
) -> None:
    container = openai_container(OPENAI_API_KEY="", OPENAI_API_KEY_PARAM=key_parameter.name)

    first = container.analyze({"text": "first"})
    # A container that read the key keeps it: the parameter is no longer needed.
    key_parameter.client.delete_parameter(Name=key_parameter.name)
    later = [container.analyze({"text": f"request {n}"}) for n in range(5)]
    restarted = openai_container(OPENAI_API_KEY="", OPENAI_API_KEY_PARAM=key_parameter.name)

    assert [answer.status for answer in [first, *later]] == [200] * 6
    assert {sent["headers"]["Authorization"] for sent in openai_api.requests} == {
        f"Bearer {key_parameter.value}"
    }
    assert len(openai_api.requests) == 6
    error_of(restarted.analyze({"text": "first"}), 503, "llm_not_configured")


def test_a_missing_key_parameter_is_a_503_until_it_exists(
    openai_container: Any, openai_api: Any, key_parameter: Any, logs: Any
) -> None:
    missing = "/iris/test/not-yet"
    container = openai_container(OPENAI_API_KEY="", OPENAI_API_KEY_PARAM=missing)

    refused = container.analyze({"text": "hello"})
    key_parameter.client.put_parameter(Name=missing, Value="sk-late", Type="SecureString")
    accepted = container.analyze({"text": "hello"})

    message = error_of(refused, 503, "llm_not_configured")
    assert missing not in message
    (failure,) = [entry for entry in logs() if entry["message"] == "analysis failed"]
    assert failure["level"] == "ERROR"
    assert failure["reason"] == "ParameterNotFound"
    assert failure["requestId"] == refused.request_id
    # A failed read is not remembered: the next request reads again and succeeds.
    assert accepted.status == 200
    assert openai_api.requests[0]["headers"]["Authorization"] == "Bearer sk-late"


# A key rotated outside a deployment (pitfall 27)


def test_a_refused_key_is_read_again_once_and_the_new_one_used(
    openai_container: Any, openai_api: Any, key_parameter: Any, logs: Any
) -> None:
    """An emergency `aws ssm put-parameter` reaches a warm container at its next 401."""
    container = openai_container(OPENAI_API_KEY="", OPENAI_API_KEY_PARAM=key_parameter.name)
    key_parameter.client.put_parameter(
        Name=key_parameter.name, Value="sk-rotated", Type="SecureString", Overwrite=True
    )
    openai_api.accepted_key = "sk-rotated"

    answer = container.analyze({"text": "rotated"})
    later = container.analyze({"text": "rotated again"})

    assert (answer.status, later.status) == (200, 200), answer.body
    assert [sent["headers"]["Authorization"] for sent in openai_api.requests] == [
        f"Bearer {key_parameter.value}",
        "Bearer sk-rotated",
        "Bearer sk-rotated",
    ]
    assert "sk-rotated" not in json.dumps(logs())


def test_a_refused_key_that_is_still_the_stored_one_is_a_502_without_a_retry(
    openai_container: Any, openai_api: Any, key_parameter: Any
) -> None:
    container = openai_container(
        OPENAI_API_KEY="", OPENAI_API_KEY_PARAM=key_parameter.name, OPENAI_MAX_RETRIES="1"
    )
    openai_api.accepted_key = "sk-someone-elses"

    answer = container.analyze({"text": "revoked"})

    error_of(answer, 502, "llm_auth_failed")
    assert len(openai_api.requests) == 1


def test_a_key_set_directly_is_not_read_again(openai_container: Any, openai_api: Any) -> None:
    openai_api.accepted_key = "sk-someone-elses"

    answer = openai_container(OPENAI_MAX_RETRIES="1").analyze({"text": "local key"})

    error_of(answer, 502, "llm_auth_failed")
    assert len(openai_api.requests) == 1


def test_a_revoked_key_is_not_read_again_on_every_request(
    openai_container: Any, openai_api: Any, key_parameter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standard parameters share 40 GetParameter calls a second per account and Region."""
    reads: list[str] = []
    real_read = parameters._read
    monkeypatch.setattr(parameters, "_read", lambda *a: reads.append(a[0]) or real_read(*a))
    openai_api.accepted_key = "sk-someone-elses"
    container = openai_container(OPENAI_API_KEY="", OPENAI_API_KEY_PARAM=key_parameter.name)

    answers = [container.analyze({"text": f"request {n}"}) for n in range(12)]

    assert {(answer.status, answer.body["error"]["code"]) for answer in answers} == {
        (502, "llm_auth_failed")
    }
    # The read at INIT, and one re-read after the first 401.
    assert reads == [key_parameter.name] * 2


# Only finished answers are cached (pitfall 39)


@pytest.mark.parametrize(
    ("reply", "complete"),
    [
        ({"finish_reason": "stop"}, True),
        ({"finish_reason": "length"}, False),
        ({"finish_reason": "content_filter"}, None),
        ({"finish_reason": "tool_calls"}, None),
        ({"no_choices": True}, None),
    ],
    ids=["stop", "length", "content_filter", "tool_calls", "no-choice"],
)
def test_only_a_finished_answer_is_cached_in_memory_and_dynamodb(
    openai_container: Any,
    openai_api: Any,
    cache_table: Any,
    reply: dict[str, Any],
    complete: bool | None,
) -> None:
    openai_api.always(**reply)
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name)

    first = container.analyze({"text": "finished or not"})
    again = container.analyze({"text": "finished or not"})
    restarted = openai_container(IRIS_CACHE_TABLE=cache_table.name)
    elsewhere = restarted.analyze({"text": "finished or not"})

    memory = container.app.extensions[SERVICE_EXTENSION].cache.front
    if complete is None:
        for answer in (first, again, elsewhere):
            error_of(answer, 502, "llm_upstream_error")
    else:
        assert first.status == 200, first.body
        assert (first.body["complete"], first.body["cached"]) == (complete, False)
        # A cached answer is complete by construction; an incomplete one is asked again.
        assert (again.body["cached"], again.body["complete"]) == (complete, complete)
        assert (elsewhere.body["cached"], elsewhere.body["complete"]) == (complete, complete)
    stored = 1 if complete else 0
    assert (len(memory), len(cache_table.items())) == (stored, stored)
    assert len(openai_api.requests) == 3 - 2 * stored


# Once per container (pitfall 23)


def test_the_llm_client_is_built_once_per_container_at_init(
    openai_container: Any, openai_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import iris.chat

    built: list[iris.chat.ChatCompletionsClient] = []

    class CountingClient(iris.chat.ChatCompletionsClient):
        def __init__(self, base_url: str | None) -> None:
            super().__init__(base_url)
            built.append(self)

    monkeypatch.setattr(iris.chat, "ChatCompletionsClient", CountingClient)
    container = openai_container()
    assert len(built) == 1, "built while the container started, before any request"

    answers = [container.analyze({"text": f"request {n}"}) for n in range(5)]
    openai_container().analyze({"text": "another container"})

    assert [answer.status for answer in answers] == [200] * 5
    assert len(built) == 2
    assert len(openai_api.requests) == 6


_COLD_START_PROBE = """
import json, sys

HEAVY = ("openai", "boto3", "botocore", "urllib3", "httpx", "httpx2", "pydantic", "flask_cors")
# Not SDKs, but code a container without a token budget or apiKeys has no use for.
HEAVY += ("iris.token_counter", "iris.authorizer_context")

def loaded():
    return sorted(name for name in HEAVY if name in sys.modules)

import lambda_handler
steps = {"INIT": [None, loaded()]}
from tests.events import LambdaContext, http_api_v2_event

for path, body in json.loads(sys.argv[1]):
    method = "POST" if body else "GET"
    event = http_api_v2_event(
        method, path, body=body, headers={"content-type": "application/json"} if body else {}
    )
    answer = lambda_handler.handler(event, LambdaContext())
    steps[f"{method} {path}"] = [answer["statusCode"], loaded()]
print(json.dumps(steps))
"""

_HEALTH = [["/health", None], ["/api/iris/health", None]]
_ANALYZE = ["/api/iris/analyze", '{"text": "A good day."}']


def cold_container(
    environ: dict[str, str], requests: list[list[str | None]], *, with_logs: bool = False
) -> Any:
    """What a fresh interpreter (a new container) has imported after INIT and each request,
    and, `with_logs`, the JSON lines it logged."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "backend" / "src"), str(ROOT)]),
        **environ,
    }
    probe = subprocess.run(
        [sys.executable, "-c", _COLD_START_PROBE, json.dumps(requests)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = probe.stdout.splitlines()
    steps = json.loads(lines[-1])
    if not with_logs:
        return steps
    return steps, [json.loads(line) for line in lines[:-1] if line.startswith('{"timestamp"')]


def test_a_local_offline_container_imports_no_sdk_at_all() -> None:
    """Local runs: neither INIT, /health nor an offline analysis pays for an SDK."""
    steps = cold_container({}, [*_HEALTH, _ANALYZE])

    assert steps == {
        "INIT": [None, []],
        "GET /health": [200, []],
        "GET /api/iris/health": [200, []],
        "POST /api/iris/analyze": [200, []],
    }


def test_a_deployed_container_loads_its_clients_at_init_and_never_openai() -> None:
    """Deployed, the AWS and HTTP clients load at INIT (Lambda's CPU burst), so no request
    imports anything; the openai package is never needed. SSM is unreachable here (a closed
    port): INIT goes on, and analyze answers the API's 503."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    deployed = {
        "IRIS_LLM_PROVIDER": "openai",
        "OPENAI_API_KEY_PARAM": "/iris/dev/openai-api-key",
        "IRIS_CACHE_TABLE": "iris-dev-analysis-cache",
        "AWS_ENDPOINT_URL_SSM": nowhere,
        "AWS_ENDPOINT_URL_DYNAMODB": nowhere,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Lambda sets both; botocore reads the second.
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }

    steps, logs = cold_container(deployed, [*_HEALTH, _ANALYZE], with_logs=True)

    # botocore's own session: `import boto3` is never paid for.
    clients = ["botocore", "urllib3"]
    assert steps == {
        "INIT": [None, clients],
        "GET /health": [200, clients],
        "GET /api/iris/health": [200, clients],
        "POST /api/iris/analyze": [503, clients],
    }
    reasons = {entry.get("reason") for entry in logs if "reason" in entry}
    assert reasons == {"EndpointConnectionError"}, "SSM was tried, and refused"
