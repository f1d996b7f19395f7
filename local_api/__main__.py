"""`python -m local_api [--app spendsense] --stack dev`: serve a program's API on 127.0.0.1 the
way its stack does."""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from werkzeug.serving import make_server

from local_api.apps import APPS, SetupError, build_api
from local_api.stack import (
    StackConfigError,
    load_cors_origins,
    load_deployment,
    validate_deployment,
    validate_origins,
)


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
    app = APPS[args.app]
    try:
        deployment = _deployment(args)
        if args.cors_origins is not None:
            origins = validate_origins(args.cors_origins, source="--cors-origins")
        else:
            origins = load_cors_origins(args.stack, app.project_dir, app.namespace)
        for name, value in app.function_environment(os.environ).items():
            os.environ.setdefault(name, value)
        setup = app.describe_setup(os.environ)
        api = build_api(app, origins, os.environ, deployment)
    except (StackConfigError, SetupError) as error:
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
    shape = app.describe_shape(deployment)
    parts = [
        f"{app.name} local API on http://{host}:{server.server_port}",
        f"stack {args.stack}",
        *([shape] if shape else []),
        f"CORS origins: {', '.join(origins) or 'none'}",
        setup,
        f"API keys: {'enforced' if app.api_keys_configured(os.environ) else 'not enforced'}",
    ]
    print(" | ".join(parts), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _deployment(args: argparse.Namespace) -> str | None:
    """The shape to serve: --deployment, else the stack's; None for a program of one shape."""
    app = APPS[args.app]
    if not app.deployments:
        if args.deployment is not None:
            raise StackConfigError(
                f"--deployment applies to programs of several shapes; {app.name} has one"
            )
        return None
    if args.deployment is not None:
        return validate_deployment(args.deployment, app.deployments, source="--deployment")
    return load_deployment(args.stack, app.project_dir, app.namespace, app.deployments)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_api",
        description=(
            "Serve a program's API locally with its stack's routes, functions, CORS and "
            "API-key check."
        ),
    )
    parser.add_argument(
        "--app", choices=sorted(APPS), default="iris", help="the program to serve (default iris)"
    )
    parser.add_argument("--stack", default="dev", help="Pulumi stack whose config to use")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--cors-origins",
        metavar="ORIGINS",
        help="comma-separated origins, instead of the stack's corsOrigins",
    )
    parser.add_argument(
        "--deployment",
        metavar="SHAPE",
        help="SpendSense's shape (split or single), instead of the stack's deployment",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
