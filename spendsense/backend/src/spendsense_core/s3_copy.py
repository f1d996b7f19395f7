"""Download one version of an S3 object to a local file, in one attempt bounded in time that
leaves nothing behind when it fails: no thread, no socket, no file.

botocore signs the request: a presigned GET of that version, from the SDK's own credentials,
Region and endpoint (`AWS_ENDPOINT_URL_S3`), made without a network call. bounded_get.py sends
it in the calling thread, every socket read held to the attempt's deadline, and closes its
connection whatever ends it. botocore's own HTTP stack could not: its reads wait for a whole
chunk, and an answer that trickles a byte per read never trips a read timeout (pitfall 38),
so an attempt given up on had to be left to a thread that kept its socket and partial file
until the sender stopped. Both are imported on first use (the Lambda base image ships
botocore; a local run reading DB_PATH needs neither).

The presigned URL carries the access key id (and, on Lambda, the session token), never the
secret key, and allows that one GET for a minute; it is sent once, over TLS, and never logged.
Every failure is a LoadError whose reason is an S3 error code, an exception's class name or a
code of bounded_get.py: never a message, a URL or a credential.
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
# The whole attempt (connection, request, headers and body) inside the 10 s INIT, beside the
# file's checks; at S3's in-region rates this is a few hundred MB.
DOWNLOAD_DEADLINE_S = 5.0
# The presigned request is sent at once; it only has to outlive the attempt.
_PRESIGNED_FOR_S = 60

_lock = threading.Lock()
_client: Any = None


def download_version(
    bucket: str, key: str, version: str, target: Path, *, deadline_s: float = DOWNLOAD_DEADLINE_S
) -> None:
    """Write the object version to `target`, which appears only once the download is whole."""
    from spendsense_core.bounded_get import get_to_file

    deadline = time.monotonic() + deadline_s
    url = _presigned_url(bucket, key, version)
    part = target.with_name(f"{target.name}.part-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        get_to_file(url, part, deadline, connect_s=CONNECT_TIMEOUT_S, read_s=READ_TIMEOUT_S)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def forget_client() -> None:
    """Drop the S3 client, as a new container starts without one."""
    global _client
    with _lock:
        _client = None


def _presigned_url(bucket: str, key: str, version: str) -> str:
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:
        raise LoadError("botocore_missing") from None
    try:
        return _s3().generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key, "VersionId": version},
            ExpiresIn=_PRESIGNED_FOR_S,
        )
    except BotoCoreError as error:
        # No credentials, no Region: errors of the SDK's own settings.
        raise LoadError(type(error).__name__) from None


def _s3() -> Any:
    global _client
    with _lock:
        if _client is None:
            import botocore.session
            from botocore.config import Config

            # Signature V4 in every Region; presigning makes no request, so no timeouts or
            # retries apply to the client itself.
            _client = botocore.session.get_session().create_client(
                "s3", config=Config(signature_version="s3v4")
            )
        return _client
