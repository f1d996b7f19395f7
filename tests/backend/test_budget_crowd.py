"""Crowds of containers, each a process of its own running the real handler, against one table
on a moto server and an upstream that bills every byte it is sent (tests/backend/crowd.py).

With texts of 20,000 rare CJK characters, reported usage or not, the crowd never spends more
than the budget. With the counter's table missing, throttled or garbled, a container makes no
call the counter has not reserved, unless its team opted into an allowance: then no more calls
than that allowance.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from iris.budget import COUNTER_KEY_PREFIX, counter_key, utc_day
from tests.backend.crowd import container_environment, rare_cjk_text, run_crowd, worst_case
from tests.backend.loopback import FaultServer, aws_client, create_deployed_resources, moto_server

CONTAINERS, TEXTS_EACH = 4, 3
ALLOWANCE = 2


def spent(openai_api: Any, tag: str = "") -> list[int]:
    """What the upstream billed for each request whose text starts with `tag`."""
    return [
        sent["billed"]
        for sent in openai_api.requests
        if sent["json"]["messages"][-1]["content"].startswith(tag)
    ]


@contextmanager
def shared_table() -> Iterator[tuple[str, str]]:
    """A moto server holding the stack's cache table: (its URL, the table's name)."""
    with moto_server() as moto_url:
        table = f"iris-crowd-{uuid.uuid4().hex[:8]}"
        create_deployed_resources(moto_url, table=table, parameter="/iris/crowd/key", key="-")
        yield moto_url, table


@pytest.mark.parametrize("usage", [True, False], ids=["usage", "no-usage"])
def test_a_crowd_sending_cjk_texts_never_spends_more_than_the_budget(
    openai_api: Any, usage: bool
) -> None:
    openai_api.always(billed_in_bytes=True, usage=usage)
    texts = [
        [rare_cjk_text(f"c{c}t{t}", seed=c * TEXTS_EACH + t) for t in range(TEXTS_EACH)]
        for c in range(CONTAINERS)
    ]
    most = worst_case(texts[0][0])
    budget = int(4.5 * most)
    with shared_table() as (moto_url, table):
        environ = container_environment(
            base_url=openai_api.base_url, dynamodb_url=moto_url, table=table, budget=budget
        )
        answers = [a for each in run_crowd([(environ, t) for t in texts]) for a in each]
        items = aws_client("dynamodb", moto_url).scan(TableName=table)["Items"]

    billed = spent(openai_api)
    (counter,) = [i for i in items if i["pk"]["S"].startswith(COUNTER_KEY_PREFIX)]
    counted = int(counter["tokens"]["N"])
    assert len(answers) == CONTAINERS * TEXTS_EACH
    statuses = sorted(a["status"] for a in answers)
    assert statuses == [200] * len(billed) + [429] * (len(answers) - len(billed))
    assert all(
        a["body"]["error"]["code"] == "llm_budget_exhausted" for a in answers if a["status"] == 429
    )
    # Never more than the budget, and never less counted than billed.
    assert sum(billed) <= counted <= budget
    # The budget was spent, not refused early: a refusal needs the counter within one call of it.
    assert sum(billed) > budget - most


@pytest.fixture(params=["missing", "throttled", "garbled"])
def failing_counter(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A DynamoDB endpoint whose counter cannot reserve: (its URL, the table's name)."""
    if request.param == "throttled":
        with FaultServer("dynamodb", "throttled") as server:
            yield server.url, "iris-crowd-throttled"
        return
    with shared_table() as (moto_url, table):
        if request.param == "missing":
            aws_client("dynamodb", moto_url).delete_table(TableName=table)
        else:
            aws_client("dynamodb", moto_url).put_item(
                TableName=table,
                Item={"pk": {"S": counter_key(utc_day(time.time()))}, "tokens": {"S": "lots"}},
            )
        yield moto_url, table


def test_a_failing_counter_lets_no_unreserved_call_through_unless_a_team_opted_in(
    openai_api: Any, failing_counter: tuple[str, str]
) -> None:
    """Two containers: one as deployed by default, one with an allowance of ALLOWANCE calls."""
    openai_api.always(billed_in_bytes=True)
    dynamodb_url, table = failing_counter
    settings = {"base_url": openai_api.base_url, "dynamodb_url": dynamodb_url, "table": table}
    closed = container_environment(**settings, budget=10**9)
    opted_in = container_environment(
        **settings,
        budget=10**9,
        IRIS_LLM_BUDGET_FAIL_OPEN_CALLS_PER_CONTAINER=str(ALLOWANCE),
    )
    texts = {tag: [rare_cjk_text(f"{tag}{t}", seed=t) for t in range(4)] for tag in ("c", "o")}
    closed_answers, open_answers = run_crowd([(closed, texts["c"]), (opted_in, texts["o"])])

    assert spent(openai_api, "c") == []
    assert [a["status"] for a in closed_answers] == [503] * 4
    assert all(a["body"]["error"]["code"] == "llm_budget_unavailable" for a in closed_answers)
    assert all(a["headers"]["retry-after"] == "30" for a in closed_answers)
    billed = spent(openai_api, "o")
    assert [a["status"] for a in open_answers] == [200] * ALLOWANCE + [503] * 2
    # The documented bound: the allowance x the most one call costs, per container.
    assert len(billed) == ALLOWANCE
    assert sum(billed) <= ALLOWANCE * worst_case(texts["o"][0])
