"""The day's token counter in the cache table (moto), and the analyze route spending through it.

The counter reserves only while the day's total fits, settles without going below 0, and reads a
garbled item as garbage rather than as room to spend. Through the real handler: the 429 of a
spent budget and the 503 of a failed counter, the reservation an answer without usage keeps, a
refused call's given back, and the DynamoDB round trips of a first analyze: the reservation takes
the place of the read it replaced, on the items the function's role may update.
"""

from __future__ import annotations

import fnmatch
import re
import time
from typing import Any

import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from iris.budget import (
    COUNTER_KEY_PREFIX,
    EXHAUSTED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    UNAVAILABLE_RETRY_AFTER_S,
    CounterError,
    CounterFull,
    counter_key,
    seconds_to_midnight,
    utc_day,
    worst_case_tokens,
)
from iris.llm import SYSTEM_PROMPT
from iris.token_counter import DynamoDBCounter, _tokens
from iris_infra.apps.iris.functions import TOKEN_COUNTER_KEY_PREFIX
from lambda_kit import aws
from tests.backend.openai_stub import Reply, total_tokens

DAY = "2027-01-15"
KEY = {"pk": {"S": counter_key(DAY)}}
# OPENAI_MAX_TOKENS of the test containers (tests/backend/conftest.py).
MAX_TOKENS = 300


def counter_item(cache_table: Any) -> dict[str, Any] | None:
    return cache_table.client.get_item(TableName=cache_table.name, Key=KEY).get("Item")


def worst_case(text: str) -> int:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]
    return worst_case_tokens(messages, MAX_TOKENS)


# The counter


def test_the_counter_reserves_only_while_the_days_total_fits(cache_table: Any) -> None:
    counter = DynamoDBCounter(cache_table.name)
    assert counter.reserve(DAY, 600, 1_000, expires_at=42) == 600
    with pytest.raises(CounterFull) as full:
        counter.reserve(DAY, 401, 1_000, expires_at=42)
    assert full.value.total == 600
    assert counter.reserve(DAY, 400, 1_000, expires_at=42) == 1_000
    assert counter_item(cache_table) == {**KEY, "tokens": {"N": "1000"}, "expires_at": {"N": "42"}}


def test_a_settle_gives_back_only_what_the_counter_still_holds(cache_table: Any) -> None:
    counter = DynamoDBCounter(cache_table.name)
    counter.reserve(DAY, 600, 1_000, expires_at=42)
    assert counter.settle(DAY, -100, expires_at=42) == 500
    # An operator lowered the day's count meanwhile: nothing is given back below 0.
    assert counter.settle(DAY, -501, expires_at=42) is None
    assert counter.settle(DAY, 25, expires_at=42) == 525


@pytest.mark.parametrize(
    ("tokens", "outcome"),
    [
        ({"S": "lots"}, "malformed_counter"),
        ({"N": "-5"}, "malformed_counter"),
        ({"N": "12.5"}, "malformed_counter"),
        ({"NULL": True}, "malformed_counter"),
        ({"NS": ["1"]}, "malformed_counter"),
        ({"BOOL": True}, "malformed_counter"),
        ({"N": "9" * 38}, "full"),
        (None, "reserved"),
    ],
    ids=["string", "negative", "fraction", "null", "number-set", "bool", "huge", "no-count"],
)
def test_a_garbled_counter_item_is_never_room_to_spend(
    cache_table: Any, tokens: dict[str, Any] | None, outcome: str
) -> None:
    """A count of the wrong type or below 0 fails the reservation's condition and reads as
    garbage (the route answers 503); a huge one is a spent day (429); an item without a count
    is a day with nothing counted yet."""
    item = {**KEY, **({"tokens": tokens} if tokens else {})}
    cache_table.client.put_item(TableName=cache_table.name, Item=item)
    counter = DynamoDBCounter(cache_table.name)
    if outcome == "reserved":
        assert counter.reserve(DAY, 600, 1_000, expires_at=42) == 600
        return
    with pytest.raises(CounterFull if outcome == "full" else CounterError) as refused:
        counter.reserve(DAY, 600, 1_000, expires_at=42)
    if outcome == "full":
        assert refused.value.total == 10**38 - 1
    else:
        assert refused.value.reason == outcome


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(
    item=st.one_of(
        st.none(),
        st.text(),
        st.dictionaries(
            st.sampled_from(["tokens", "pk"]),
            st.one_of(
                st.none(),
                st.text(),
                st.dictionaries(
                    st.sampled_from(["N", "S", "NULL"]),
                    st.one_of(st.text(), st.integers(), st.booleans(), st.none()),
                ),
            ),
        ),
    )
)
def test_a_count_is_read_as_a_whole_number_or_as_garbage(item: Any) -> None:
    try:
        count = _tokens(item)
    except CounterError as error:
        assert error.reason == "malformed_counter"
        return
    text = item["tokens"]["N"]
    assert text.isascii() and text.isdigit() and count == int(text) >= 0


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "ResourceNotFoundException", "ThrottlingException"]
)
def test_a_refused_call_is_a_counter_failure_not_a_full_day(cache_table: Any, code: str) -> None:
    with Stubber(aws.client("dynamodb")) as stub:
        stub.add_client_error("update_item", service_error_code=code, http_status_code=400)
        with pytest.raises(CounterError) as failed:
            DynamoDBCounter(cache_table.name).reserve(DAY, 600, 1_000, expires_at=42)
    assert (failed.value.reason, failed.value.detail["error_code"]) == ("call_failed", code)
    assert not failed.value.timed_out


# The route


def stub_tokens(openai_api: Any) -> int:
    return sum(total_tokens(Reply(), sent["json"]) for sent in openai_api.requests)


def today_item(cache_table: Any) -> dict[str, Any]:
    (item,) = [i for i in cache_table.items() if i["pk"]["S"].startswith(COUNTER_KEY_PREFIX)]
    return item


def test_a_call_that_does_not_fit_answers_429_with_retry_after_and_cached_texts_still_200(
    openai_container: Any, openai_api: Any, cache_table: Any, logs: Any
) -> None:
    # Room for one call's worst case: once it is settled, not for another one.
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name,
        IRIS_LLM_DAILY_TOKEN_BUDGET=str(worst_case("spend the day")),
    )
    first = container.analyze({"text": "spend the day"})
    before = seconds_to_midnight(time.time())
    refused = container.analyze({"text": "one more"})
    after = seconds_to_midnight(time.time())
    again = container.analyze({"text": "spend the day"})

    assert (first.status, first.body["cached"]) == (200, False)
    assert refused.status == 429
    assert refused.body == {"error": {"code": "llm_budget_exhausted", "message": EXHAUSTED_MESSAGE}}
    assert min(before, after) <= int(refused.headers["retry-after"]) <= max(before, after)
    assert (again.status, again.body["cached"]) == (200, True)
    assert len(openai_api.requests) == 1
    (refusal,) = [line for line in logs() if line["message"] == "analysis refused"]
    assert refusal["requestId"] == refused.request_id
    assert (refusal["code"], refusal["day_tokens"]) == (
        "llm_budget_exhausted",
        stub_tokens(openai_api),
    )


def test_the_counter_is_one_item_a_day_that_expires_two_days_after_it(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="100000"
    )
    for text in ("count me", "and me", "count me"):
        assert container.analyze({"text": text}).status == 200
    now = time.time()

    item = today_item(cache_table)
    assert item["pk"]["S"] == f"llm-tokens#{utc_day(now)}"
    # Each reservation settled to the usage its answer reported.
    assert int(item["tokens"]["N"]) == stub_tokens(openai_api) > 0
    assert len(openai_api.requests) == 2
    next_midnight = (int(now) // 86_400 + 1) * 86_400
    assert int(item["expires_at"]["N"]) == next_midnight + 2 * 86_400
    cache_keys = [i["pk"]["S"] for i in cache_table.items() if i["pk"] != item["pk"]]
    assert cache_keys and all(re.fullmatch(r"[0-9a-f]{64}", key) for key in cache_keys)


def test_without_a_budget_nothing_is_counted(
    openai_container: Any, cache_table: Any, logs: Any
) -> None:
    container = openai_container(IRIS_CACHE_TABLE=cache_table.name)
    assert container.analyze({"text": "free"}).status == 200
    assert [i for i in cache_table.items() if i["pk"]["S"].startswith(COUNTER_KEY_PREFIX)] == []
    assert not [line for line in logs() if "budget" in line["message"] or "llm" in line["message"]]


def test_an_answer_without_usage_keeps_its_reservation(
    openai_container: Any, openai_api: Any, cache_table: Any, logs: Any
) -> None:
    openai_api.always(usage=False)
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="9999"
    )
    assert container.analyze({"text": "no usage here"}).status == 200

    (sent,) = openai_api.requests
    expected = worst_case_tokens(sent["json"]["messages"], sent["json"]["max_completion_tokens"])
    assert int(today_item(cache_table)["tokens"]["N"]) == expected == worst_case("no usage here")
    (line,) = [line for line in logs() if line["message"] == "llm tokens counted"]
    assert (line["tokens"], line["day_tokens"], line["estimated"]) == (expected, expected, True)


@pytest.mark.parametrize(
    ("reply", "status", "counted"),
    [
        ({"status": 429}, 502, "nothing"),
        ({"status": 400}, 502, "nothing"),
        ({"status": 500}, 502, "worst case"),
        ({"content": ""}, 502, "usage"),
    ],
    ids=["rate-limited", "bad-request", "server-error", "empty-answer"],
)
def test_what_a_failed_call_leaves_counted(
    openai_container: Any,
    openai_api: Any,
    cache_table: Any,
    reply: dict[str, Any],
    status: int,
    counted: str,
) -> None:
    """A call the upstream refused (4xx) gives its reservation back; a 5xx may have run and
    keeps it; an answer judged unusable was paid for and is settled to its usage."""
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="99999"
    )
    openai_api.always(**reply)
    assert container.analyze({"text": "upstream trouble"}).status == status
    expected = {
        "nothing": 0,
        "worst case": worst_case("upstream trouble"),
        "usage": total_tokens(Reply(content=""), openai_api.requests[-1]["json"]),
    }[counted]
    assert int(today_item(cache_table)["tokens"]["N"]) == expected


def test_a_counter_that_fails_answers_503_and_makes_no_model_call(
    openai_container: Any, openai_api: Any, cache_table: Any, logs: Any
) -> None:
    cache_table.client.delete_table(TableName=cache_table.name)
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="100000"
    )
    answer = container.analyze({"text": "no table"})

    assert answer.status == 503
    assert answer.body == {
        "error": {"code": "llm_budget_unavailable", "message": UNAVAILABLE_MESSAGE}
    }
    assert answer.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_S)
    assert openai_api.requests == []
    logged = logs()
    (failed,) = [line for line in logged if line["message"] == "llm budget counter failed"]
    assert (failed["step"], failed["error_code"], failed["admitted"]) == (
        "reserve",
        "ResourceNotFoundException",
        False,
    )
    (refusal,) = [line for line in logged if line["message"] == "analysis refused"]
    assert (refusal["code"], refusal["reason"]) == ("llm_budget_unavailable", "call_failed")


def test_an_opted_in_container_answers_while_its_allowance_lasts(
    openai_container: Any, openai_api: Any, cache_table: Any
) -> None:
    cache_table.client.delete_table(TableName=cache_table.name)
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name,
        IRIS_LLM_DAILY_TOKEN_BUDGET="100000",
        IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER="2",
    )
    statuses = [container.analyze({"text": f"no table {n}"}).status for n in range(4)]
    assert statuses == [200, 200, 503, 503]
    assert len(openai_api.requests) == 2


def test_the_first_analyze_makes_no_more_dynamodb_round_trips_than_before(
    openai_container: Any, cache_table: Any
) -> None:
    """Before reservations, a first analyze read the cache, read the counter (its container's
    view), counted after the call and wrote the cache: four round trips. The reservation takes
    the counter read's place; every counter call is an UpdateItem of a key the function's role
    may update (LeadingKeys), every cache call a GetItem or PutItem of a cache key."""
    container = openai_container(
        IRIS_CACHE_TABLE=cache_table.name, IRIS_LLM_DAILY_TOKEN_BUDGET="100000"
    )
    calls: list[tuple[str, str]] = []
    aws.client("dynamodb").meta.events.register(
        "before-parameter-build.dynamodb",
        lambda params, model, **_: calls.append(
            (model.name, params.get("Key", params.get("Item"))["pk"]["S"])
        ),
    )
    assert container.analyze({"text": "count my round trips"}).status == 200

    assert [operation for operation, _ in calls] == [
        "GetItem",
        "UpdateItem",
        "UpdateItem",
        "PutItem",
    ]
    for operation, key in calls:
        if operation == "UpdateItem":
            assert fnmatch.fnmatchcase(key, f"{TOKEN_COUNTER_KEY_PREFIX}*")
        else:
            assert re.fullmatch(r"[0-9a-f]{64}", key)
