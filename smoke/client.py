"""HTTP for the smoke test: a timeout on every request, no redirect followed, and an API key
that no repr, error or output line shows.

urllib rather than a third-party client keeps the tool free of dependencies. Proxies from the
environment (HTTPS_PROXY, NO_PROXY, ...) are used, except for loopback addresses, so a local
API is reached directly.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

API_KEY_HEADER = "X-API-Key"
USER_AGENT = "iris-smoke/1"


class Secret:
    """A value kept out of every repr and str."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True)
class HttpRequest:
    """One request; `api_key` becomes the X-API-Key header only when the request is sent."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    api_key: Secret | None = None


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Message
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        """The body as JSON, or ValueError."""
        return json.loads(self.body.decode("utf-8"))


class TransportError(Exception):
    """No HTTP answer: refused, timed out, TLS or name resolution failed. The message is
    written here, never taken from a request."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to check, not to follow: the API never sends one."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        proxies = {} if is_loopback(urlsplit(base_url).hostname) else None
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler(proxies), _NoRedirect()
        )

    def send(self, request: HttpRequest) -> HttpReply:
        outgoing = urllib.request.Request(
            self.base_url + request.path,
            data=request.body,
            method=request.method,
            headers={"User-Agent": USER_AGENT, **dict(request.headers)},
        )
        if request.api_key is not None:
            outgoing.add_header(API_KEY_HEADER, request.api_key.reveal())
        try:
            with self._opener.open(outgoing, timeout=self.timeout_s) as response:
                return HttpReply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return HttpReply(error.code, error.headers, _read_error_body(error))
        except urllib.error.URLError as error:
            raise TransportError(self._describe(error.reason)) from None
        except (OSError, http.client.HTTPException) as error:
            raise TransportError(self._describe(error)) from None

    def _describe(self, error: object) -> str:
        if isinstance(error, TimeoutError):
            return f"no answer within {self.timeout_s:g} s"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, socket.gaierror):
            return f"cannot resolve {urlsplit(self.base_url).hostname}"
        if isinstance(error, ssl.SSLError):
            return f"TLS failed: {error.reason or type(error).__name__}"
        if isinstance(error, http.client.RemoteDisconnected | ConnectionResetError):
            return "the server closed the connection without answering"
        if isinstance(error, OSError) and error.strerror:
            return f"{type(error).__name__}: {error.strerror}"
        return type(error).__name__ if isinstance(error, BaseException) else str(error)


def _read_error_body(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
