"""The deployed data path over real sockets: one S3 object version downloaded to the
container's disk, checked, opened read-only; or, when it cannot be had, a 503 and a log line.

moto in server mode plays S3 (`AWS_ENDPOINT_URL_S3`, as the function reaches it); a fault
server takes its place for a refused connection, silence, a 5xx, throttling and an HTML page.
"""

from __future__ import annotations

import importlib
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.main
from spendsense_core import s3_copy
from spendsense_core.database import Database, S3Version, forget_container_database
from spendsense_core.sqlite_file import LoadError
from tests.backend.loopback import FAULTS, aws_client, closed_port_url, fault_endpoint, moto_server
from tests.spendsense.conftest import BROKEN_KINDS, broken_copy

# Distinct values, so a test can prove they never reach a log line.
ACCESS_KEY_ID = "AKIASPENDSENSETEST01"
SECRET_ACCESS_KEY = "spendsense-secret-access-key-never-logged"
SLACK_S = 1.5
# A kind of each of the loader's refusals (test_database.py tries every kind on a local file):
# the downloaded copy is opened as a function opens it, immutable, main file alone.
S3_KINDS = (
    "html-page",
    "cut-in-half",
    "garbage-pages",
    "other-schema",
    "endless-view-users",
    "invalid-utf8-category",
    "amount-of-minus-2^63",
    "amounts-adding-past-the-bound",
)
assert set(S3_KINDS) <= set(BROKEN_KINDS)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def s3_admin(moto_url: str) -> Any:
    """The test's own client for the moto server (the app makes its own)."""
    return aws_client("s3", moto_url)


@dataclass
class Bucket:
    """A versioned bucket on the moto server, as the stack declares it."""

    admin: Any
    name: str

    def put(self, key: str, content: bytes) -> str:
        return self.admin.put_object(Bucket=self.name, Key=key, Body=content)["VersionId"]


@pytest.fixture
def bucket(moto_url: str, s3_admin: Any, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    s3_copy.forget_client()
    name = f"spendsense-test-{uuid.uuid4().hex[:8]}"
    s3_admin.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3_admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return Bucket(s3_admin, name)


@pytest.fixture
def download_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "container-tmp"
    directory.mkdir()
    return directory


def users_in(database: Database) -> int:
    with database.connection() as connection:
        (users,) = connection.execute("SELECT COUNT(*) FROM users").fetchone()
    return users


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.message == "database unavailable"]


def assert_no_credentials_logged(caplog: pytest.LogCaptureFixture) -> None:
    """No credential in the function's logs. moto's own access log ("werkzeug") stands for
    S3's side: the presigned request's URL shows it the key id, never the secret key."""
    for record in caplog.records:
        logged = str(vars(record))
        assert SECRET_ACCESS_KEY not in logged
        if record.name != "werkzeug":
            assert ACCESS_KEY_ID not in logged


def test_the_pinned_version_is_downloaded_checked_and_opened_read_only(
    bucket: Bucket, hand_database: Path, download_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version = bucket.put("data/spendsense.db", hand_database.read_bytes())
    source = S3Version(bucket.name, "data/spendsense.db", version)
    database = Database(source, download_dir)

    with caplog.at_level(logging.INFO, logger="spendsense.data"):
        assert database.prepare() is True
    stats = TestClient(api.main.create_app(database)).get("/api/stats")
    with database.connection() as connection:
        with pytest.raises(Exception, match="readonly"):
            connection.execute("DELETE FROM users")
    database.close()

    assert (stats.status_code, stats.json()["users"]) == (200, 3)
    # Only the whole file, under its version's own name: no partial download left behind.
    assert [path.name for path in download_dir.iterdir()] == [source.file_name()]
    assert (download_dir / source.file_name()).read_bytes() == hand_database.read_bytes()
    (loaded,) = [record for record in caplog.records if record.message == "database loaded"]
    assert (loaded.bucket, loaded.version) == (bucket.name, version)  # type: ignore[attr-defined]
    assert_no_credentials_logged(caplog)


def test_each_version_is_its_own_database(
    bucket: Bucket, hand_database: Path, download_dir: Path, tmp_path: Path
) -> None:
    """A new object version is a new database; a function pinned to the old one keeps it."""
    old = bucket.put("spendsense.db", hand_database.read_bytes())
    sample = tmp_path / "sample.db"
    from tests.spendsense.test_sample_database import make_db

    make_db.write_database(sample)
    new = bucket.put("spendsense.db", sample.read_bytes())

    pinned_old = Database(S3Version(bucket.name, "spendsense.db", old), download_dir)
    pinned_new = Database(S3Version(bucket.name, "spendsense.db", new), download_dir)

    assert (users_in(pinned_old), users_in(pinned_new)) == (3, 4)
    pinned_old.close()
    pinned_new.close()


@pytest.mark.parametrize(
    ("case", "reasons"),
    [("missing-object", {"NoSuchKey", "NoSuchVersion"}), ("wrong-version", {"NoSuchVersion"})],
)
def test_an_object_version_that_is_not_there_is_data_unavailable(
    case: str,
    reasons: set[str],
    bucket: Bucket,
    hand_database: Path,
    download_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = bucket.put("spendsense.db", hand_database.read_bytes())
    bucket.put("spendsense.db", b"a newer version")
    if case == "missing-object":
        source = S3Version(bucket.name, "never-uploaded.db", version)
    else:
        source = S3Version(bucket.name, "spendsense.db", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    database = Database(source, download_dir)

    with caplog.at_level(logging.WARNING, logger="spendsense.data"):
        loaded = database.prepare()
        answer = TestClient(api.main.create_app(database)).get("/api/stats")

    assert loaded is False
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "data_unavailable"
    (init, request) = failures(caplog)
    assert init.reason in reasons and request.reason == init.reason  # type: ignore[attr-defined]
    assert (init.bucket, init.key, init.version) == (source.bucket, source.key, source.version)  # type: ignore[attr-defined]
    assert list(download_dir.iterdir()) == []
    assert_no_credentials_logged(caplog)


@pytest.mark.parametrize("fault", FAULTS)
def test_an_s3_fault_costs_one_bounded_attempt_at_init_and_one_per_request(
    fault: str,
    bucket: Bucket,
    download_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bound_s = s3_copy.CONNECT_TIMEOUT_S + s3_copy.READ_TIMEOUT_S + SLACK_S
    with fault_endpoint("s3", fault) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url if server else closed_port_url())
        s3_copy.forget_client()
        database = Database(S3Version(bucket.name, "spendsense.db", "v1"), download_dir)
        client = TestClient(api.main.create_app(database))
        with caplog.at_level(logging.WARNING, logger="spendsense.data"):
            started = time.monotonic()
            loaded = database.prepare()
            init_s = time.monotonic() - started
            started = time.monotonic()
            answer = client.get("/api/insights/net-worth", params={"user_id": "u-1"})
            request_s = time.monotonic() - started
        health = client.get("/health")

    assert loaded is False
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "data_unavailable"
    assert health.status_code == 200
    assert init_s < bound_s and request_s < bound_s
    expected = {
        "refused": "ConnectionRefusedError",
        "silent": "read_timeout",
        "5xx": "InternalError",
        "throttled": "SlowDown",
        "not_json": "not_sqlite",
    }[fault]
    assert [record.reason for record in failures(caplog)] == [expected, expected]  # type: ignore[attr-defined]
    if server is not None:
        # No retries inside an attempt: one GET at INIT, one for the request.
        assert len(server.targets) == 2
        assert all(target.startswith(f"/{bucket.name}/spendsense.db") for target in server.targets)
    assert list(download_dir.iterdir()) == []
    assert_no_credentials_logged(caplog)


@pytest.mark.parametrize("name", S3_KINDS)
def test_a_corrupt_object_is_never_opened_and_leaves_nothing_behind(
    name: str,
    bucket: Bucket,
    hand_database: Path,
    download_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    content, reason = broken_copy(hand_database.read_bytes(), tmp_path, name)
    version = bucket.put("spendsense.db", content)
    database = Database(S3Version(bucket.name, "spendsense.db", version), download_dir)

    with caplog.at_level(logging.WARNING, logger="spendsense.data"):
        loaded = database.prepare()
        answer = TestClient(api.main.create_app(database)).get("/api/stats")

    assert loaded is False
    assert answer.status_code == 503
    assert [record.reason for record in failures(caplog)] == [reason, reason]  # type: ignore[attr-defined]
    assert list(download_dir.iterdir()) == []


def test_a_download_past_its_deadline_is_abandoned(
    bucket: Bucket, hand_database: Path, download_dir: Path
) -> None:
    version = bucket.put("spendsense.db", hand_database.read_bytes())
    target = download_dir / "spendsense.db"

    with pytest.raises(LoadError) as raised:
        s3_copy.download_version(bucket.name, "spendsense.db", version, target, deadline_s=0)

    assert raised.value.reason == "download_deadline"
    assert list(download_dir.iterdir()) == []


def test_without_botocore_the_download_is_a_load_error(
    bucket: Bucket, download_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local run may lack the AWS SDK (the Lambda base image ships it)."""
    monkeypatch.setitem(sys.modules, "botocore.exceptions", None)

    with pytest.raises(LoadError) as raised:
        s3_copy.download_version(bucket.name, "spendsense.db", "v1", download_dir / "x.db")

    assert raised.value.reason == "botocore_missing"


def test_the_deployed_app_loads_its_database_at_init(
    bucket: Bucket,
    hand_database: Path,
    download_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the function's environment holds: bucket, key and version, no DB_PATH."""
    version = bucket.put("spendsense.db", hand_database.read_bytes())
    monkeypatch.setenv("SPENDSENSE_DB_BUCKET", bucket.name)
    monkeypatch.setenv("SPENDSENSE_DB_KEY", "spendsense.db")
    monkeypatch.setenv("SPENDSENSE_DB_VERSION", version)
    monkeypatch.setattr(tempfile, "tempdir", str(download_dir))
    forget_container_database()
    try:
        module = importlib.reload(api.main)
        downloaded = [path.name for path in download_dir.iterdir()]
        stats = TestClient(module.app).get("/api/stats")
    finally:
        for name in ("SPENDSENSE_DB_BUCKET", "SPENDSENSE_DB_KEY", "SPENDSENSE_DB_VERSION"):
            monkeypatch.delenv(name)
        forget_container_database()
        importlib.reload(api.main)

    assert downloaded == [S3Version(bucket.name, "spendsense.db", version).file_name()]
    assert stats.json()["users"] == 3
