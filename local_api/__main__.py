"""`python -m local_api --stack dev`: serve the IRIS API on 127.0.0.1 the way the stack does."""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from werkzeug.serving import make_server

from iris.settings import Settings, SettingsError
from local_api import PROJECT_DIR
from local_api.gateway import api_keys_configured, build_api, function_environment
from local_api.stack import StackConfigError, load_cors_origins, validate_origins


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    # One JSON log line at a time, even when stdout is a pipe.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    try:
        return _serve(args)
    except KeyboardInterrupt:
        return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        if args.cors_origins is not None:
            origins = validate_origins(args.cors_origins, source="--cors-origins")
        else:
            origins = load_cors_origins(args.stack, PROJECT_DIR)
        for name, value in function_environment(os.environ).items():
            os.environ.setdefault(name, value)
        settings = Settings.from_env(os.environ)
        api = build_api(origins, os.environ)
    except (StackConfigError, SettingsError) as error:
        print(f"local_api: error: {error}", file=sys.stderr)
        return 2

    # A busy port ends the process with werkzeug's own message ("Port ... is in use").
    server = make_server(args.host, args.port, api, threaded=True)
    # A process manager's SIGTERM stops the server as cleanly as Ctrl-C does. SIGINT gets the
    # same handler: a shell starts a background job with SIGINT ignored, and Python then keeps
    # it ignored, so Ctrl-C (or `kill -INT`) would not stop the server.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"IRIS local API on http://{host}:{server.server_port}"
        f" | stack {args.stack}"
        f" | CORS origins: {', '.join(origins) or 'none'}"
        f" | LLM provider: {settings.llm_provider}"
        f" | API keys: {'enforced' if api_keys_configured(os.environ) else 'not enforced'}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_api",
        description="Serve the IRIS API locally with the stack's routes, CORS and API-key check.",
    )
    parser.add_argument("--stack", default="dev", help="Pulumi stack whose config to use")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--cors-origins",
        metavar="ORIGINS",
        help="comma-separated origins, instead of the stack's iris-infra:corsOrigins",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
