"""The sample database `make spendsense-db` writes: the same bytes every run, every account
type and six months of data, and every route answering 200 on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from spendsense.scripts import make_db
from spendsense_core.database import Database, LocalFile
from spendsense_core.schema import ASSET_TYPES, LIABILITY_TYPES
from tests.spendsense.test_routes import INSIGHT_ROUTES

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "spendsense" / "scripts" / "make_db.py"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "spendsense.db"
    make_db.write_database(path)
    return path


@pytest.fixture(scope="module")
def sample_client(sample: Path) -> TestClient:
    return TestClient(create_app(Database(LocalFile(sample))))


# How the Makefile runs the script: no .venv, the functions' task root on the path.
MAKE_ENVIRONMENT = {"PYTHONPATH": str(REPO / "spendsense" / "backend" / "src")}


def test_two_runs_write_the_same_bytes(tmp_path: Path) -> None:
    """As the Makefile runs it: the script alone, in fresh interpreters that see no installed
    package (-S: standard library and the task root only)."""
    outputs = [tmp_path / "first.db", tmp_path / "second.db"]
    for out in outputs:
        subprocess.run(
            [sys.executable, "-S", str(SCRIPT), "--out", str(out)],
            env=MAKE_ENVIRONMENT,
            check=True,
            capture_output=True,
        )

    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first.db", "second.db"]


def test_a_rerun_replaces_the_file(tmp_path: Path) -> None:
    out = tmp_path / "spendsense.db"
    out.write_bytes(b"an older file")

    make_db.write_database(out)

    assert out.read_bytes().startswith(b"SQLite format 3\x00")


def test_the_makefile_target_runs_the_script() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\nspendsense-db:\n", 1)[1].splitlines()[0]

    assert target.strip() == (
        "PYTHONPATH=spendsense/backend/src $(PYTHON) spendsense/scripts/make_db.py "
        "--out spendsense/data/spendsense.db"
    )
    assert "spendsense/data/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_sample_has_every_account_type_six_months_and_budgets(sample: Path) -> None:
    with Database(LocalFile(sample)).connection() as connection:
        types = {row[0] for row in connection.execute("SELECT DISTINCT type FROM accounts")}
        months = connection.execute(
            "SELECT COUNT(DISTINCT substr(date, 1, 7)), COUNT(DISTINCT category) FROM transactions"
        ).fetchone()
        budgets = connection.execute("SELECT COUNT(DISTINCT user_id) FROM budgets").fetchone()
        income = connection.execute("SELECT COUNT(*) FROM transactions WHERE amount_cents > 0")

        assert types == set(ASSET_TYPES) | set(LIABILITY_TYPES)
        assert months == (6, 10)
        assert budgets[0] >= 3
        assert income.fetchone()[0] > 0


def test_every_route_answers_the_sample(sample_client: TestClient) -> None:
    stats = sample_client.get("/api/stats").json()

    assert (stats["users"], stats["firstDate"], stats["lastDate"]) == (
        4,
        "2025-01-01",
        "2025-06-30",
    )
    assert sample_client.get("/health").status_code == 200
    for person in make_db.PEOPLE:
        for path in INSIGHT_ROUTES:
            answer = sample_client.get(path, params={"user_id": person.user_id})
            assert answer.status_code == 200, (path, person.user_id, answer.text)
            assert answer.json()["userId"] == person.user_id


def test_the_samples_budgets_are_tracked_and_some_are_over(sample_client: TestClient) -> None:
    statuses = [
        budget["status"]
        for person in make_db.PEOPLE
        for budget in sample_client.get(
            "/api/insights/budget-tracking", params={"user_id": person.user_id}
        ).json()["budgets"]
    ]

    assert {"over", "under"} <= set(statuses)
