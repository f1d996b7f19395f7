"""One HTTP(S) GET written to a file, every step of it held to a deadline, in the calling thread.

A socket read timeout bounds one read only, and an answer that trickles (a byte per read, in
its status line, its headers or its body) never trips it (pitfall 38). Here every read of the
answer goes through a _DeadlineReader, which gives the socket at most `read_s` and never more
than what is left before the deadline, so the GET ends by its deadline however the answer
comes, then closes its connection (and the answer's hold on the socket) whatever ended it.
TLS trusts the certificates the AWS SDK would: AWS_CA_BUNDLE when set, else the system's.
Failures are LoadErrors: an S3 error's code, an exception's class name, or `connect_timeout`,
`read_timeout`, `download_deadline`, `incomplete_download`, `http_<status>`.
"""

from __future__ import annotations

import functools
import http.client
import io
import os
import re
import socket
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from spendsense_core.sqlite_file import LoadError

__all__ = ["get_to_file"]

_CHUNK_BYTES = 1 << 20
# An S3 error is a small XML document; only its code is read.
_ERROR_BODY_BYTES = 16 * 1024
_ERROR_CODE = re.compile(rb"<Code>([A-Za-z0-9.]{1,64})</Code>")


class _DeadlinePassed(Exception):
    """The deadline passed before a read could end."""


def get_to_file(url: str, part: Path, deadline: float, *, connect_s: float, read_s: float) -> None:
    """GET `url` into `part` by `deadline` (time.monotonic()); raises LoadError."""
    address = urlsplit(url)
    host, port = address.hostname or "", address.port
    connection = _connection(address.scheme, host, port, deadline, connect_s, read_s)
    response = None
    try:
        try:
            connection.connect()
        except TimeoutError:
            raise LoadError("connect_timeout") from None
        connection.request("GET", f"{address.path}?{address.query}")
        response = connection.getresponse()
        if response.status != 200:
            match = _ERROR_CODE.search(response.read(_ERROR_BODY_BYTES))
            raise LoadError(match[1].decode() if match else f"http_{response.status}")
        _write_body(response, part)
    except _DeadlinePassed:
        raise LoadError("download_deadline") from None
    except TimeoutError:
        raise LoadError("read_timeout") from None
    except (OSError, http.client.HTTPException) as error:
        # Refused or reset connections, TLS failures, answers that are not HTTP.
        raise LoadError(type(error).__name__) from None
    finally:
        # An answer that ends the connection ("Connection: close") holds the socket itself.
        if response is not None:
            response.close()
        connection.close()


def _write_body(response: http.client.HTTPResponse, part: Path) -> None:
    expected = response.length
    written = 0
    with part.open("wb") as file:
        while chunk := response.read(_CHUNK_BYTES):
            file.write(chunk)
            written += len(chunk)
    if expected is not None and written != expected:
        raise LoadError("incomplete_download")


def _connection(
    scheme: str, host: str, port: int | None, deadline: float, connect_s: float, read_s: float
) -> http.client.HTTPConnection:
    left = deadline - time.monotonic()
    if left <= 0:
        raise LoadError("download_deadline")
    timeout = min(connect_s, left)
    if scheme == "https":
        # The certificates the SDK would trust: AWS_CA_BUNDLE when set, else the system's.
        context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    # Its answer is read through a reader that holds every read to the deadline.
    answer = functools.partial(_Response, deadline=deadline, read_s=read_s)
    connection.response_class = answer  # type: ignore[assignment]
    return connection


class _Response(http.client.HTTPResponse):
    """An answer whose status line, headers and body are all read by a _DeadlineReader."""

    def __init__(
        self, sock: socket.socket, *args: Any, deadline: float, read_s: float, **kwargs: Any
    ) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()
        self.fp = io.BufferedReader(_DeadlineReader(sock, deadline, read_s))


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes, each read given at most `read_s` and never past `deadline`.

    It reads through the socket's own raw file, as http.client does: the socket stays open
    until that is closed too, whoever closes the connection first."""

    def __init__(self, sock: socket.socket, deadline: float, read_s: float) -> None:
        self._sock = sock
        self._file = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._read_s = read_s

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _DeadlinePassed
        self._sock.settimeout(min(self._read_s, left))
        try:
            return self._file.readinto(buffer)
        except TimeoutError:
            if time.monotonic() >= self._deadline:
                raise _DeadlinePassed from None
            raise

    def close(self) -> None:
        self._file.close()
        super().close()
