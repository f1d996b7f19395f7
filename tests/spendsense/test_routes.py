"""Every route of the API on the hand-built database (tests/spendsense/conftest.py).

The expected numbers are worked out by hand in each test from the rows in conftest.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from spendsense_core.database import Database, LocalFile
from spendsense_core.schema import SCHEMA_SQL

WEEKLY = "/api/insights/weekly-recap"
SPENDING = "/api/insights/spending-analysis"
TRACKING = "/api/insights/budget-tracking"
SUGGESTION = "/api/insights/budget-suggestion"
NET_WORTH = "/api/insights/net-worth"
INSIGHT_ROUTES = (WEEKLY, SPENDING, TRACKING, SUGGESTION, NET_WORTH)


def get_json(client: TestClient, path: str, **params: str) -> Any:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def test_health_touches_no_data(
    client_for: Callable[[Database], TestClient], tmp_path: Path
) -> None:
    missing = client_for(Database(LocalFile(tmp_path / "absent.db")))

    assert get_json(missing, "/health") == {"status": "ok"}


def test_stats_cover_the_whole_database(client: TestClient) -> None:
    assert get_json(client, "/api/stats") == {
        "users": 3,
        "accounts": 8,
        "transactions": 17,
        "firstDate": "2024-11-30",
        "lastDate": "2025-03-15",
    }


def test_weekly_recap_is_the_7_days_ending_as_of_both_edges_included(client: TestClient) -> None:
    # 03-09 groceries 2500, 03-12 dining 1250 and income 300000, 03-14 refund 500,
    # 03-15 dining 2250; 03-08 is outside.
    assert get_json(client, WEEKLY, user_id="u-1", as_of="2025-03-15") == {
        "userId": "u-1",
        "from": "2025-03-09",
        "to": "2025-03-15",
        "spentCents": 2_500 + 1_250 + 2_250,
        "incomeCents": 300_000 + 500,
        "transactions": 5,
        "byCategory": {"dining": 1_250 + 2_250, "groceries": 2_500},
    }


def test_as_of_defaults_to_the_users_latest_transaction_date(client: TestClient) -> None:
    explicit = get_json(client, WEEKLY, user_id="u-1", as_of="2025-03-15")

    assert get_json(client, WEEKLY, user_id="u-1") == explicit
    recap = get_json(client, WEEKLY, user_id="u-3")
    assert (recap["from"], recap["to"], recap["spentCents"]) == ("2024-12-30", "2025-01-05", 1_234)


def test_a_user_without_transactions_is_answered_for_the_databases_latest_day(
    client: TestClient,
) -> None:
    assert get_json(client, WEEKLY, user_id="u-2") == {
        "userId": "u-2",
        "from": "2025-03-09",
        "to": "2025-03-15",
        "spentCents": 0,
        "incomeCents": 0,
        "transactions": 0,
        "byCategory": {},
    }


def test_a_database_without_transactions_is_answered_for_today_in_utc(
    client_for: Callable[[Database], TestClient], tmp_path: Path
) -> None:
    path = tmp_path / "new.db"
    connection = sqlite3.connect(path)
    connection.executescript(SCHEMA_SQL + "INSERT INTO users VALUES ('u-9', 'New');")
    connection.close()
    client = client_for(Database(LocalFile(path)))

    before = datetime.now(UTC).date().isoformat()
    recap = get_json(client, WEEKLY, user_id="u-9")
    after = datetime.now(UTC).date().isoformat()

    assert recap["to"] in {before, after}
    assert get_json(client, "/api/stats")["firstDate"] is None


def test_a_week_without_spending_has_no_categories(client: TestClient) -> None:
    recap = get_json(client, WEEKLY, user_id="u-1", as_of="2025-03-07")

    # 03-01 dining 500 is the only transaction of 03-01..03-07.
    assert (recap["from"], recap["spentCents"], recap["byCategory"]) == (
        "2025-03-01",
        500,
        {"dining": 500},
    )
    assert get_json(client, WEEKLY, user_id="u-1", as_of="2025-06-01")["byCategory"] == {}


def test_spending_analysis_ranks_the_30_days_ending_as_of(client: TestClient) -> None:
    # 02-14..03-15: housing 100000; dining 1000 + 500 + 1250 + 2250 = 5000; utilities 5000;
    # groceries 1000 + 2500 = 3500. 02-13 (travel) and the refund are out. Total 113500.
    assert get_json(client, SPENDING, user_id="u-1") == {
        "userId": "u-1",
        "from": "2025-02-14",
        "to": "2025-03-15",
        "totalSpentCents": 113_500,
        "categories": [
            {"category": "housing", "spentCents": 100_000, "share": 0.8811},  # 0.881057
            # a tie on spentCents: category order
            {"category": "dining", "spentCents": 5_000, "share": 0.0441},  # 0.044053
            {"category": "utilities", "spentCents": 5_000, "share": 0.0441},
            {"category": "groceries", "spentCents": 3_500, "share": 0.0308},  # 0.030837
        ],
    }


def test_spending_analysis_without_spending_is_empty(client: TestClient) -> None:
    answer = get_json(client, SPENDING, user_id="u-2", as_of="2025-03-15")

    assert (answer["totalSpentCents"], answer["categories"]) == (0, [])


@pytest.mark.parametrize(
    ("spent", "total", "share"),
    [
        (1, 3, 0.3333),
        (2, 3, 0.6667),
        (1, 20_000, 0.0001),  # exactly 0.00005: half up
        (1, 20_001, 0.0),
        (7, 7, 1.0),
        (0, 0, 0.0),
    ],
)
def test_shares_round_half_up_to_4_decimals(spent: int, total: int, share: float) -> None:
    from spendsense_core.insights.spending_analysis import share as compute_share

    assert compute_share(spent, total) == share


def test_budget_tracking_is_the_month_so_far_over_and_under(client: TestClient) -> None:
    # March 1..15: dining 500 + 1250 + 2250 = 4000 (02-28 is February); groceries
    # 1000 + 2500 = 3500, exactly the limit; travel nothing.
    assert get_json(client, TRACKING, user_id="u-1") == {
        "userId": "u-1",
        "month": "2025-03",
        "budgets": [
            {
                "category": "dining",
                "limitCents": 3_000,
                "spentCents": 4_000,
                "remainingCents": -1_000,
                "status": "over",
            },
            {
                "category": "groceries",
                "limitCents": 3_500,
                "spentCents": 3_500,
                "remainingCents": 0,
                "status": "under",
            },
            {
                "category": "travel",
                "limitCents": 10_000,
                "spentCents": 0,
                "remainingCents": 10_000,
                "status": "under",
            },
        ],
    }


def test_budget_tracking_stops_at_as_of(client: TestClient) -> None:
    answer = get_json(client, TRACKING, user_id="u-1", as_of="2025-03-01")

    assert [(budget["category"], budget["spentCents"]) for budget in answer["budgets"]] == [
        ("dining", 500),
        ("groceries", 0),
        ("travel", 0),
    ]


def test_budget_tracking_of_a_user_without_budgets(client: TestClient) -> None:
    assert get_json(client, TRACKING, user_id="u-3") == {
        "userId": "u-3",
        "month": "2025-01",
        "budgets": [],
    }


def test_budget_suggestion_averages_the_3_full_months_before(client: TestClient) -> None:
    # 2024-12-01..2025-02-28 (2024-11-30 and March are out); average = total // 3,
    # suggested = the average rounded up to a multiple of 1000.
    assert get_json(client, SUGGESTION, user_id="u-1") == {
        "userId": "u-1",
        "months": ["2024-12", "2025-01", "2025-02"],
        "suggestions": [
            {"category": "dining", "averageSpentCents": 333, "suggestedLimitCents": 1_000},
            # 3000 / 3 = 1000 exactly: already a multiple
            {"category": "entertainment", "averageSpentCents": 1_000, "suggestedLimitCents": 1_000},
            # 10000 + 10001 + 1 = 20002 -> 6667 (rounded down) -> 7000
            {"category": "groceries", "averageSpentCents": 6_667, "suggestedLimitCents": 7_000},
            {"category": "housing", "averageSpentCents": 33_333, "suggestedLimitCents": 34_000},
            {"category": "travel", "averageSpentCents": 16_666, "suggestedLimitCents": 17_000},
            {"category": "utilities", "averageSpentCents": 1_666, "suggestedLimitCents": 2_000},
        ],
    }


def test_budget_suggestion_months_cross_the_year(client: TestClient) -> None:
    answer = get_json(client, SUGGESTION, user_id="u-3", as_of="2025-02-01")

    # 2024-11..2025-01: u-3's 1234 on 2025-01-05 -> 411 -> 1000.
    assert answer["months"] == ["2024-11", "2024-12", "2025-01"]
    assert answer["suggestions"] == [
        {"category": "groceries", "averageSpentCents": 411, "suggestedLimitCents": 1_000}
    ]


def test_net_worth_is_assets_less_liabilities(client: TestClient) -> None:
    assert get_json(client, NET_WORTH, user_id="u-1") == {
        "userId": "u-1",
        "assetsCents": 250_000 + 1_000_000 + 500_000,
        "liabilitiesCents": 75_000 + 400_000,
        "netWorthCents": 1_750_000 - 475_000,
    }
    assert get_json(client, NET_WORTH, user_id="u-3")["netWorthCents"] == 10_000 - 50_000
    assert get_json(client, NET_WORTH, user_id="u-2") == {
        "userId": "u-2",
        "assetsCents": 0,
        "liabilitiesCents": 0,
        "netWorthCents": 0,
    }


@pytest.mark.parametrize("path", INSIGHT_ROUTES)
def test_every_insight_names_its_user(client: TestClient, path: str) -> None:
    assert get_json(client, path, user_id="u-3", as_of="2025-01-31")["userId"] == "u-3"


def test_the_app_is_built_whole_before_its_first_request(
    client_for: Callable[[Database], TestClient], hand_database: Path
) -> None:
    """Starlette would build its middleware stack in the first request, off INIT's CPU burst."""
    client = client_for(Database(LocalFile(hand_database)))

    assert client.app.middleware_stack is not None  # type: ignore[attr-defined]
