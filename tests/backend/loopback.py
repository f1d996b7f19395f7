"""Real servers on 127.0.0.1 for the deployed shape: moto in server mode, and faulty endpoints.

moto's server app plays SSM, DynamoDB and S3 over HTTP, as the functions reach them through
`AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_S3`; a `FaultServer`
takes one service's place and misbehaves the way real endpoints do. Both run without pytest, so
the benchmarks use them too.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

REGION = "eu-west-1"
FAULTS = ("refused", "silent", "5xx", "throttled", "not_json")

# How AWS's JSON protocols answer a server error and throttling, per service.
_AWS_PROTOCOL = {
    "ssm": (
        "application/x-amz-json-1.1",
        {"__type": "InternalServerError", "message": "An internal error occurred."},
        {"__type": "ThrottlingException", "message": "Rate exceeded"},
    ),
    "dynamodb": (
        "application/x-amz-json-1.0",
        {
            "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
            "message": "Internal server error",
        },
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was "
            "exceeded. Consider increasing your provisioning level with the UpdateTable API.",
        },
    ),
}
PORTAL_PAGE = b"<!doctype html><html><body><h1>Sign in to continue</h1></body></html>"
# S3 speaks XML, and says "slow down" with a 503.
_S3_ANSWERS = {
    "5xx": (500, "application/xml", b"<Error><Code>InternalError</Code><Message>We encountered "
            b"an internal error. Please try again.</Message></Error>"),
    "throttled": (503, "application/xml", b"<Error><Code>SlowDown</Code><Message>Please reduce "
                  b"your request rate.</Message></Error>"),
    "not_json": (200, "text/html", PORTAL_PAGE),
}  # fmt: skip


def closed_port_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class FaultServer:
    """Answers every request to an AWS JSON API with one fault.

    `silent` accepts the connection and the request and never answers (until the server
    stops); `5xx` and `throttled` answer as the service does; `not_json` answers 200 with
    an HTML page, as a proxy or captive portal would. `targets` lists each request's
    X-Amz-Target (e.g. "DynamoDB_20120810.GetItem").
    """

    def __init__(self, service: str, fault: str) -> None:
        if fault not in FAULTS[1:]:
            raise ValueError(f"a server cannot play {fault!r}; use closed_port_url()")
        self.service = service
        self.fault = fault
        self.targets: list[str] = []
        self._released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.targets.append(self.headers.get("x-amz-target", self.path))
                if server.fault == "silent":
                    server._released.wait(60)
                    return
                status, content_type, body = server._answer()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.send_header("x-amzn-requestid", "fault-00000000")
                self.end_headers()
                self.wfile.write(body)

            # S3's GetObject is a GET; the JSON APIs are all POSTs.
            do_GET = do_POST  # noqa: N815

            def log_message(self, *_: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"

    def _answer(self) -> tuple[int, str, bytes]:
        if self.service == "s3":
            return _S3_ANSWERS[self.fault]
        content_type, server_error, throttled = _AWS_PROTOCOL[self.service]
        if self.fault == "5xx":
            return 500, content_type, json.dumps(server_error).encode()
        if self.fault == "throttled":
            return 400, content_type, json.dumps(throttled).encode()
        return 200, "text/html", PORTAL_PAGE

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._released.set()
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def fault_endpoint(service: str, fault: str) -> Iterator[FaultServer | None]:
    """The URL to point `service` at for `fault`: a closed port, or a running FaultServer."""
    if fault == "refused":
        yield None
        return
    with FaultServer(service, fault) as server:
        yield server


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode on 127.0.0.1, one request at a time; yields its base URL.

    DynamoDB applies each write atomically; moto's ThreadedMotoServer does not: its UpdateItem
    checks the condition, then writes, and two first writes of one item each create it, while
    other requests' threads run in between (measured: a crowd of containers lost one of its
    reservations). Serving one request at a time gives back the atomicity the tests rely on.
    """
    app = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def atomic_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with one_at_a_time:
            return list(app(environ, start_response))

    server = make_server(
        "127.0.0.1", 0, atomic_app, threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def aws_client(service: str, endpoint: str) -> Any:
    """A test-side client for one of the servers (the app makes its own); moto takes any
    credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_deployed_resources(endpoint: str, *, table: str, parameter: str, key: str) -> None:
    """What the stack declares, on a moto server: the key's SecureString and the cache table."""
    aws_client("ssm", endpoint).put_parameter(
        Name=parameter, Value=key, Type="SecureString", Overwrite=True
    )
    dynamodb = aws_client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
