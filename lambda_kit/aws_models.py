"""botocore's service models cut down to the calls a function makes, written at image build.

A botocore client reads and parses its service's whole model when it is created: SSM's is
0.95 MB of JSON and DynamoDB's 0.56 MB, for the one or three operations a function calls, and
every cold start paid for them (inside IRIS's INIT, the SSM client took 27 ms on its full model
and 7 ms on a cut-down one; docs/performance.md has the figures). botocore looks for models
first in the directories that `AWS_DATA_PATH` names (its own, documented search path), so each
image runs

    python -m lambda_kit.aws_models <directory> ssm:GetParameter dynamodb:GetItem,PutItem,...

with the image's own botocore and sets `AWS_DATA_PATH` to that directory. Each service model
keeps the operations named (and the discovery operation a model marks, as botocore reads it),
every shape they reach, every modelled error, and all the rest of the model as it was; only
descriptions are emptied. botocore's endpoint data (endpoints.json) is left whole: with a copy
from elsewhere, botocore hands its legacy endpoint to the endpoint rules as if it were a custom
one, which changes S3's presigned URLs. What is not listed is not in the client: a call the list
forgets fails in the tests that run each image's entry point, and
tests/backend/test_aws_models.py holds each Dockerfile's list to the calls its code makes.

The command checks what it wrote: each client is created from it and has each listed method.
An unknown service or operation stops the build with the name and what was meant, and writes
nothing.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["ModelError", "parse_calls", "trimmed_service_model", "write"]


class ModelError(ValueError):
    """A service or an operation that the installed botocore does not know."""


def parse_calls(arguments: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """`service:Operation[,Operation...]` arguments as {service: operations}."""
    calls: dict[str, tuple[str, ...]] = {}
    for argument in arguments:
        service, colon, operations = argument.partition(":")
        names = tuple(name for name in operations.split(",") if name)
        if not colon or not service or not names:
            raise ModelError(f"{argument!r}: expected service:Operation[,Operation...]")
        calls[service] = tuple(dict.fromkeys((*calls.get(service, ()), *names)))
    return calls


def _unknown(what: str, name: str, known: Iterable[str]) -> ModelError:
    close = difflib.get_close_matches(name, list(known), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return ModelError(f"{what} {name!r}{hint}")


def _reached_shapes(shapes: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    reached: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        shape = shapes[name]
        pending.extend(shape[part]["shape"] for part in ("member", "key", "value") if part in shape)
        pending.extend(member["shape"] for member in shape.get("members", {}).values())
    return reached


def _without_descriptions(value: Any) -> Any:
    # Emptied, not removed: botocore reads some `documentation` keys (clientContextParams). Only
    # text is a description: a structure member may be named "documentation" too.
    if isinstance(value, dict):
        return {
            key: ""
            if key == "documentation" and isinstance(item, str)
            else _without_descriptions(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_descriptions(item) for item in value]
    return value


def trimmed_service_model(
    model: Mapping[str, Any], operations: Iterable[str], service: str = "service"
) -> dict[str, Any]:
    """`model` (a service-2 document) with only `operations`, the operation a model marks for
    endpoint discovery, the shapes they reach and every error shape."""
    known = model["operations"]
    kept: dict[str, Any] = {}
    for name in operations:
        if name not in known:
            raise _unknown(f"{service} has no operation", name, known)
        kept[name] = known[name]
    kept.update({name: op for name, op in known.items() if op.get("endpointoperation")})
    roots = [
        reference["shape"]
        for operation in kept.values()
        for reference in (
            *(operation[part] for part in ("input", "output") if part in operation),
            *operation.get("errors", ()),
        )
    ]
    # Every modelled error, not only those the operations list: botocore maps an error code to
    # its class (`client.exceptions.ThrottlingException`) and its fields from these shapes.
    roots += [name for name, shape in model["shapes"].items() if shape.get("exception")]
    reached = _reached_shapes(model["shapes"], roots)
    trimmed = {
        **model,
        "operations": kept,
        "shapes": {name: shape for name, shape in model["shapes"].items() if name in reached},
    }
    return _without_descriptions(trimmed)


def write(directory: Path, calls: Mapping[str, Iterable[str]]) -> list[Path]:
    """Write the cut-down models of `calls` under `directory` from the installed botocore, check
    that clients created from them have every listed method, and return the files written."""
    import botocore.loaders
    import botocore.session
    from botocore import xform_name

    loader = botocore.loaders.Loader()
    available = loader.list_available_services("service-2")
    documents: dict[Path, dict[str, Any]] = {}
    for service, operations in calls.items():
        if service not in available:
            raise _unknown("botocore has no service", service, available)
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_service_model(service, "service-2", version)
        path = Path(service, version, "service-2.json")
        documents[path] = trimmed_service_model(model, operations, service)
    # Written only once every name is known: a wrong one leaves nothing behind.
    written = [_write_json(directory / path, document) for path, document in documents.items()]

    session = botocore.session.Session()
    session.set_config_variable("data_path", str(directory))
    for service, operations in calls.items():
        client = session.create_client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        missing = [name for name in operations if not hasattr(client, xform_name(name))]
        if missing:
            raise ModelError(f"the written {service} model lacks {', '.join(missing)}")
    return written


def _write_json(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write (AWS_DATA_PATH)")
    parser.add_argument("calls", nargs="+", help="service:Operation[,Operation...]")
    args = parser.parse_args(argv)
    try:
        written = write(args.directory, parse_calls(args.calls))
    except ModelError as error:
        print(f"lambda_kit.aws_models: {error}", file=sys.stderr)
        return 2
    size = sum(path.stat().st_size for path in written)
    print(f"lambda_kit.aws_models: {len(written)} files, {size:,} bytes in {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
