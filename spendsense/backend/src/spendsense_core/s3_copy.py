"""Download one version of an S3 object to a local file, in one bounded attempt.

botocore is imported on first use (the Lambda base image ships it with boto3; a local run
reading DB_PATH never needs it). botocore's own session, not boto3's: the same client for
60-90 ms less of a cold start (`import boto3` and its session layer), which every function
pays. The endpoint comes from the SDK's own settings (`AWS_ENDPOINT_URL_S3`).
Every failure is a LoadError whose reason is an error code or class name: never a message,
a URL or a credential.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from spendsense_core.sqlite_file import LoadError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DOWNLOAD_DEADLINE_S",
    "READ_TIMEOUT_S",
    "download_version",
    "forget_client",
]

CONNECT_TIMEOUT_S = 1.0
# Per socket read: S3 answers in milliseconds inside a region.
READ_TIMEOUT_S = 2.0
# The whole attempt, request and body, held by the caller's clock: a read timeout bounds each
# socket read only, and a body that trickles (a byte per read) never trips it, nor does a
# deadline checked between reads, which each wait for a whole chunk. So the attempt runs on a
# thread of its own and is given up when the deadline passes, inside the 10 s INIT; at S3's
# in-region rates this is a few hundred MB.
DOWNLOAD_DEADLINE_S = 5.0
_CHUNK_BYTES = 1 << 20

_lock = threading.Lock()
_client: Any = None


def download_version(
    bucket: str, key: str, version: str, target: Path, *, deadline_s: float = DOWNLOAD_DEADLINE_S
) -> None:
    """Write the object version to `target`, which appears only once the download is whole."""
    part = target.with_name(f"{target.name}.part-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        _download(bucket, key, version, part, time.monotonic() + deadline_s)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def forget_client() -> None:
    """Drop the S3 client, as a new container starts without one."""
    global _client
    with _lock:
        _client = None


def _download(bucket: str, key: str, version: str, part: Path, deadline: float) -> None:
    """One attempt on a daemon thread, waited for until `deadline`. A thread given up on runs
    until its own reads end, then removes what it wrote: nothing it writes is ever opened."""
    failure: list[BaseException] = []
    given_up = threading.Event()

    def attempt() -> None:
        try:
            _fetch(bucket, key, version, part, deadline)
        except BaseException as error:  # handed to the waiting thread
            failure.append(error)
        finally:
            if given_up.is_set():
                part.unlink(missing_ok=True)

    worker = threading.Thread(target=attempt, name="spendsense-s3-download", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        given_up.set()
        raise LoadError("download_deadline")
    if failure:
        raise failure[0]


def _fetch(bucket: str, key: str, version: str, part: Path, deadline: float) -> None:
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        client = _s3()
    except ImportError:
        raise LoadError("botocore_missing") from None
    try:
        answer = client.get_object(Bucket=bucket, Key=key, VersionId=version)
        expected = answer.get("ContentLength")
        written = _write_body(answer["Body"], part, deadline)
    except ClientError as error:
        raise LoadError(error.response.get("Error", {}).get("Code") or "ClientError") from None
    except BotoCoreError as error:
        # Timeouts, refused connections, no Region: errors without a response.
        raise LoadError(type(error).__name__) from None
    except OSError as error:
        raise LoadError(type(error).__name__) from None
    if expected is not None and written != expected:
        raise LoadError("incomplete_download")


def _write_body(body: Any, part: Path, deadline: float) -> int:
    written = 0
    try:
        with part.open("wb") as file:
            while chunk := body.read(_CHUNK_BYTES):
                if time.monotonic() > deadline:
                    raise LoadError("download_deadline")
                file.write(chunk)
                written += len(chunk)
    finally:
        body.close()
    return written


def _s3() -> Any:
    global _client
    with _lock:
        if _client is None:
            import botocore.session
            from botocore.config import Config

            _client = botocore.session.get_session().create_client(
                "s3",
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=READ_TIMEOUT_S,
                    retries={"mode": "standard", "total_max_attempts": 1},
                ),
            )
        return _client
