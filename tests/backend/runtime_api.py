"""A loopback Lambda Runtime API: the part of the Lambda service a runtime client talks to.

Only what `awslambdaric` uses: hand out the next invocation, take its response or error, and
take an initialisation error. Once the queued events are used up, the next `next` is held open
(as Lambda does between invocations) until the server stops.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.events import ACCOUNT_ID

API_PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT_ID}:function:iris-dev-api"
TRACE_ID = "Root=1-5e7fe714-fee6909429159440eb352c40;Parent=53995c3f42cd8ad8;Sampled=0"


@dataclass(frozen=True)
class Outcome:
    """What the runtime client posted back: a response, an invocation error or an init error."""

    kind: str
    request_id: str | None
    body: Any
    error_type: str | None = None


class RuntimeApi:
    def __init__(self, invocations: list[tuple[str, dict[str, Any]]]) -> None:
        self._pending: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        for invocation in invocations:
            self._pending.put(invocation)
        self._outcomes: queue.Queue[Outcome] = queue.Queue()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, timeout_s: float) -> list[Outcome]:
        """The first `count` outcomes, in the order they arrived; fewer if the time runs out."""
        deadline = time.monotonic() + timeout_s
        outcomes: list[Outcome] = []
        while len(outcomes) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                outcomes.append(self._outcomes.get(timeout=min(remaining, 0.2)))
            except queue.Empty:
                continue
        return outcomes

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            # The runtime client keeps its connection alive between requests.
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._reply(404, {"errorMessage": f"unknown path {self.path}"})
                    return
                try:
                    request_id, event = api._pending.get_nowait()
                except queue.Empty:
                    api._stopping.wait()
                    self.close_connection = True
                    return
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header(
                    "Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)
                )
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", TRACE_ID)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else None
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                parts = self.path.removeprefix(API_PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api._outcomes.put(Outcome("init_error", None, body, error_type))
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "response":
                    api._outcomes.put(Outcome("response", parts[1], body))
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] == "error":
                    api._outcomes.put(Outcome("error", parts[1], body, error_type))
                else:
                    self._reply(404, {"errorMessage": f"unknown path {self.path}"})
                    return
                self._reply(202, {"status": "OK"})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reports what matters."""

        return Handler
