"""The S3 download itself, over real sockets: an answer that trickles is given up at the
attempt's deadline however it trickles, and an attempt, given up or failed, leaves no thread,
socket or file behind (before, each given-up attempt left its thread reading, with its socket
and partial file open, until the sender stopped). Over TLS too, with the SDK's CA setting."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from spendsense_core import s3_copy
from spendsense_core.sqlite_file import LoadError

SLACK_S = 1.5


@dataclass
class Endpoint:
    """A loopback endpoint; `handlers` lists the threads that answered its requests. A handler
    ends once it has answered, or once its client has gone (its next write fails)."""

    url: str
    handlers: list[threading.Thread]

    def wait_for_handlers(self) -> None:
        for handler in list(self.handlers):
            handler.join(timeout=5)


@contextmanager
def serving(
    answer: Any, context: ssl.SSLContext | None = None, scheme: str = "http"
) -> Iterator[Endpoint]:
    handlers: list[threading.Thread] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle(self) -> None:
            # The TLS handshake happens here, in the handler's thread, not in the server's
            # accept: a handshake the client refuses then ends in a handler the test waits
            # for, with its socket closed, instead of racing the descriptor count.
            handlers.append(threading.current_thread())
            if isinstance(self.connection, ssl.SSLSocket):
                try:
                    self.connection.do_handshake()
                except (ssl.SSLError, OSError):
                    return
            super().handle()

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            try:
                answer(self)
            except OSError:
                return  # the client has gone

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Endpoint(f"{scheme}://127.0.0.1:{server.server_port}", handlers)
    finally:
        server.shutdown()
        server.server_close()


def trickle(every_s: float, *, headers_too: bool) -> Any:
    """A GET answered a byte every `every_s`, from its headers or from its body on: each socket
    read gets a byte well within READ_TIMEOUT_S, so no read ever times out."""
    body_bytes = 100_000  # hours at this rate: only a client that hangs up ends it

    def answer(handler: BaseHTTPRequestHandler) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: binary/octet-stream\r\n"
            f"Content-Length: {body_bytes}\r\n\r\n"
        ).encode()
        if not headers_too:
            handler.wfile.write(head)
            head = b""
        for byte in (*(head[i : i + 1] for i in range(len(head))), *[b"x"] * body_bytes):
            time.sleep(every_s)
            handler.wfile.write(byte)
            handler.wfile.flush()

    return answer


def whole(content: bytes) -> Any:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "binary/octet-stream")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return answer


def open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def download_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "container-tmp"
    directory.mkdir()
    return directory


@contextmanager
def nothing_left_behind(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the SDK at `endpoint`; on exit, once its handlers have ended, no thread and no file
    descriptor more than before. The S3 client is made first: it is the container's, made once,
    not part of an attempt."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint.url)
    s3_copy.forget_client()
    s3_copy._s3()
    threads, descriptors = set(threading.enumerate()), open_descriptors()
    yield
    endpoint.wait_for_handlers()
    assert set(threading.enumerate()) - threads == set()
    assert open_descriptors() - descriptors == set()


def download(target: Path, deadline_s: float = s3_copy.DOWNLOAD_DEADLINE_S) -> str | None:
    """The LoadError's reason, or None when the download succeeded."""
    try:
        s3_copy.download_version("bucket", "spendsense.db", "v1", target, deadline_s=deadline_s)
    except LoadError as error:
        return error.reason
    return None


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_answer_is_given_up_at_the_deadline_and_leaves_nothing_behind(
    headers_too: bool, download_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pitfall 38 for S3: a byte every 0.1 s never trips the 2 s read timeout. Each attempt
    ends at its deadline; however many there are (each request retries a failed load), none
    leaves anything behind."""
    deadline_s = 0.5
    with serving(trickle(0.1, headers_too=headers_too)) as endpoint:
        with nothing_left_behind(endpoint, monkeypatch):
            reasons, elapsed = [], []
            for _ in range(3):
                started = time.monotonic()
                reasons.append(download(download_dir / "x.db", deadline_s))
                elapsed.append(time.monotonic() - started)

    assert reasons == ["download_deadline"] * 3
    assert max(elapsed) < deadline_s + SLACK_S
    assert len(endpoint.handlers) == 3
    assert list(download_dir.iterdir()) == []


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A certificate authority (its PEM file) and a server context whose certificate it signed,
    for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, *, ca: bool) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            builder = builder.add_extension(x509.SubjectAlternativeName([address]), False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    authority = certificate("test authority", ca_key, "test authority", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "test authority", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(authority.public_bytes(pem))
    (directory / "server.pem").write_bytes(server.public_bytes(pem))
    (directory / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return directory / "ca.pem", context


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_over_tls_the_download_trusts_what_the_sdk_trusts_and_leaves_nothing_behind(
    trusted: bool,
    certificates: tuple[Path, ssl.SSLContext],
    download_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authority, context = certificates
    content = os.urandom(300_000)
    if trusted:
        monkeypatch.setenv("AWS_CA_BUNDLE", str(authority))
    target = download_dir / "spendsense.db"
    with serving(whole(content), context, "https") as endpoint:
        with nothing_left_behind(endpoint, monkeypatch):
            reason = download(target)

    if trusted:
        assert reason is None
        assert [path.name for path in download_dir.iterdir()] == [target.name]
        assert target.read_bytes() == content
    else:
        assert reason == "SSLCertVerificationError"
        assert list(download_dir.iterdir()) == []


def test_without_credentials_the_download_is_a_load_error(
    download_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's own error, by its class name (pitfall 28: it has no response to read)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(download_dir / "no-credentials"))
    s3_copy.forget_client()

    assert download(download_dir / "x.db") == "NoCredentialsError"
    assert list(download_dir.iterdir()) == []
