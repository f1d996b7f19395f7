"""botocore's cut-down models (lambda_kit.aws_models), which each image writes at build time.

The list of calls in each Dockerfile is held to the calls its code makes, read from the code;
the cut-down models to what the full ones do for those calls: the same endpoints, the same
presigned URLs, the same answers and modelled errors from moto. The entry-point tests run both
images' functions on them (tests/backend/test_entrypoint.py, tests/spendsense/test_entrypoint.py).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambda_kit import aws_models
from tests.backend.dockerfile import Dockerfile, read_dockerfile

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "iris": REPO / "backend" / "Dockerfile",
    "spendsense": REPO / "spendsense" / "backend" / "Dockerfile",
}
CALLS = {
    "ssm": ["GetParameter"],
    "dynamodb": ["GetItem", "PutItem", "UpdateItem"],
    "s3": ["GetObject"],
}
# Where the client factories take the service's name as their first argument.
CLIENT_FACTORIES = {"client", "create_client"}
# What names a client method by a string: its first argument, or the keyword.
BY_NAME = {
    "getattr": (1, None),
    "generate_presigned_url": (0, "ClientMethod"),
    "get_paginator": (0, "operation_name"),
    "can_paginate": (0, "operation_name"),
    "_make_api_call": (0, "operation_name"),
}


def _name_of(call: ast.Call) -> str | None:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else None


def _text(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _argument(call: ast.Call, position: int, keyword: str | None) -> str | None:
    if len(call.args) > position:
        return _text(call.args[position])
    return next((_text(k.value) for k in call.keywords if k.arg == keyword), None)


def made_calls(dockerfile: Dockerfile) -> dict[str, set[str]]:
    """{service: operations} the image's code may call: the services named to a client factory
    (`aws.client("ssm")`, `create_client("s3", ...)`), then every method of their clients the
    code names anywhere (called or not: `call = client.put_item` counts), or names by a string
    (`getattr`, presigning, paginators, `_make_api_call`). Waiters are refused: their names
    are not their operations'."""
    trees = [
        ast.parse(path.read_text(encoding="utf-8"))
        for source, _ in dockerfile.code_sources(REPO)
        for path in source.rglob("*.py")
    ]
    nodes = [node for tree in trees for node in ast.walk(tree)]
    calls = [node for node in nodes if isinstance(node, ast.Call)]
    attributes = {node.attr for node in nodes if isinstance(node, ast.Attribute)}
    named = {
        _argument(call, *BY_NAME[name]) for call in calls if (name := _name_of(call)) in BY_NAME
    }
    assert "get_waiter" not in attributes, "a waiter's operations are not in its name: list them"

    services = {
        _text(call.args[0]) for call in calls if _name_of(call) in CLIENT_FACTORIES and call.args
    }
    session = botocore.session.get_session()
    made: dict[str, set[str]] = {}
    for service in services - {None}:
        operations = session.get_service_model(service).operation_names
        by_name = {xform_name(name): name for name in operations} | {
            name: name for name in operations
        }
        made[service] = {by_name[name] for name in (attributes | named) - {None} if name in by_name}
    return made


@pytest.mark.parametrize("app", sorted(DOCKERFILES))
def test_each_image_keeps_the_models_of_exactly_the_calls_its_code_makes(app: str) -> None:
    """A call the code adds without the Dockerfile listing it would be missing from the
    deployed client (AttributeError at run time); one listed but no longer made is dead."""
    dockerfile = read_dockerfile(DOCKERFILES[app])
    listed = {service: set(operations) for service, operations in dockerfile.aws_calls.items()}

    assert listed == made_calls(dockerfile)


@pytest.mark.parametrize("app", sorted(DOCKERFILES))
def test_botocore_reads_the_models_the_image_writes(app: str) -> None:
    """The step runs once the kit is in the task root, with the runtime's botocore on its
    path, and AWS_DATA_PATH names the directory it writes."""
    dockerfile = read_dockerfile(DOCKERFILES[app])
    variables, arguments = dockerfile.aws_models_step
    order = [(name, argument) for name, argument in dockerfile.instructions]
    copies_kit = order.index(("COPY", "lambda_kit/ ${LAMBDA_TASK_ROOT}/lambda_kit/"))
    models_step = next(i for i, (name, arg) in enumerate(order) if "aws_models" in arg)

    assert copies_kit < models_step
    assert variables == {"PYTHONPATH": "${LAMBDA_RUNTIME_DIR}:${LAMBDA_TASK_ROOT}"}
    places = {"LAMBDA_TASK_ROOT": "/var/task"}
    assert arguments[0] == "${LAMBDA_TASK_ROOT}/aws-models"
    assert dockerfile.environment(places)["AWS_DATA_PATH"] == "/var/task/aws-models"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("aws-models")
    aws_models.write(directory, CALLS)
    return directory


def session_on(directory: Path | None) -> botocore.session.Session:
    session = botocore.session.Session()
    if directory is not None:
        session.set_config_variable("data_path", str(directory))
    return session


def client(service: str, directory: Path | None, region: str = "eu-west-1", **options: Any) -> Any:
    return session_on(directory).create_client(
        service,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**options),
    )


def test_the_models_hold_the_listed_operations_and_what_they_reach(models: Path) -> None:
    operations = {
        service: sorted(client(service, models).meta.service_model.operation_names)
        for service in CALLS
    }
    dynamodb = client("dynamodb", models).meta.service_model
    written = sorted(path.relative_to(models).as_posix() for path in models.rglob("*.json"))

    assert operations == {
        "ssm": ["GetParameter"],
        # The endpoint discovery operation, which botocore looks for by its mark.
        "dynamodb": ["DescribeEndpoints", "GetItem", "PutItem", "UpdateItem"],
        "s3": ["GetObject"],
    }
    assert "ConditionalCheckFailedException" in dynamodb.shape_names
    assert "ScanInput" not in dynamodb.shape_names
    assert dynamodb.operation_model("UpdateItem").documentation == ""
    # Service models only: botocore's endpoint data stays its own (see the presigned URL).
    assert [name for name in written if not name.endswith("/service-2.json")] == []
    # 54 KB here, against 1.5 MB of JSON in the three full models.
    assert sum(path.stat().st_size for path in models.rglob("*.json")) < 100_000


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"])
@pytest.mark.parametrize("service", sorted(CALLS))
def test_the_endpoints_are_those_of_the_full_models(
    models: Path, service: str, region: str
) -> None:
    assert client(service, models, region).meta.endpoint_url == (
        client(service, None, region).meta.endpoint_url
    )


def test_a_presigned_url_is_that_of_the_full_models(models: Path) -> None:
    """SpendSense downloads its database through a presigned GetObject URL (Signature V4).
    With endpoint data of its own (a cut-down endpoints.json), botocore would presign for
    the Regional host instead of the one it uses."""
    params = {"Bucket": "spendsense-dev-data-123456789012", "Key": "data/db", "VersionId": "v1"}

    def presigned(directory: Path | None) -> tuple[str, dict[str, list[str]]]:
        s3 = client("s3", directory, signature_version="s3v4")
        url = s3.generate_presigned_url("get_object", Params=params)
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        for varying in ("X-Amz-Date", "X-Amz-Signature"):
            query.pop(varying)
        return f"{parts.scheme}://{parts.netloc}{parts.path}", query

    assert presigned(models) == presigned(None)


@mock_aws
def test_the_calls_answer_and_fail_as_modelled(models: Path) -> None:
    setup_ssm, setup_dynamodb = client("ssm", None), client("dynamodb", None)
    setup_ssm.put_parameter(Name="/iris/dev/key", Value="sk-canary", Type="SecureString")
    setup_dynamodb.create_table(
        TableName="iris-dev-cache",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ssm, dynamodb = client("ssm", models), client("dynamodb", models)
    key = {"pk": {"S": "llm-tokens#2026-12-07"}}

    parameter = ssm.get_parameter(Name="/iris/dev/key", WithDecryption=True)
    dynamodb.update_item(
        TableName="iris-dev-cache",
        Key=key,
        UpdateExpression="ADD tokens :n",
        ConditionExpression="attribute_not_exists(tokens) OR tokens <= :room",
        ExpressionAttributeValues={":n": {"N": "7"}, ":room": {"N": "3"}},
    )
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName="iris-dev-cache",
            Key=key,
            UpdateExpression="ADD tokens :n",
            ConditionExpression="tokens <= :room",
            ExpressionAttributeValues={":n": {"N": "7"}, ":room": {"N": "3"}},
        )
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/iris/dev/missing", WithDecryption=True)

    assert parameter["Parameter"]["Value"] == "sk-canary"
    assert dynamodb.get_item(TableName="iris-dev-cache", Key=key)["Item"]["tokens"] == {"N": "7"}
    assert not hasattr(dynamodb, "scan")


@pytest.mark.parametrize(
    ("service", "operation", "code"),
    [
        ("ssm", "get_parameter", "ThrottlingException"),
        ("dynamodb", "update_item", "ThrottlingException"),
        ("s3", "get_object", "NoSuchBucket"),
    ],
)
def test_an_error_the_operation_does_not_list_keeps_its_class(
    models: Path, service: str, operation: str, code: str
) -> None:
    """botocore maps an error code to its modelled class whichever operation answered it;
    an error shape left out would turn it into a bare ClientError."""
    cut = client(service, models)
    params = {
        "get_parameter": {"Name": "/iris/dev/key"},
        "update_item": {"TableName": "t", "Key": {"pk": {"S": "k"}}},
        "get_object": {"Bucket": "b", "Key": "k"},
    }[operation]
    with Stubber(cut) as stub:
        stub.add_client_error(operation, code, "slow down", http_status_code=400)
        with pytest.raises(getattr(cut.exceptions, code)) as raised:
            getattr(cut, operation)(**params)

    assert raised.value.response["Error"]["Code"] == code


def test_only_descriptions_are_emptied() -> None:
    model = {
        "metadata": {"protocol": "json"},
        "documentation": "The service.",
        "operations": {
            "Get": {"name": "Get", "input": {"shape": "In"}, "documentation": "Gets."},
            "Drop": {"name": "Drop", "input": {"shape": "Gone"}},
        },
        "shapes": {
            "In": {
                "type": "structure",
                "members": {"documentation": {"shape": "Text", "documentation": "A field."}},
            },
            "Text": {"type": "string"},
            "Gone": {"type": "structure", "members": {}},
            "Oops": {"type": "structure", "members": {}, "exception": True},
        },
    }

    trimmed = aws_models.trimmed_service_model(model, ["Get"])

    assert trimmed["documentation"] == ""
    assert trimmed["operations"] == {
        "Get": {"name": "Get", "input": {"shape": "In"}, "documentation": ""}
    }
    assert trimmed["shapes"]["In"]["members"] == {
        "documentation": {"shape": "Text", "documentation": ""}
    }
    assert sorted(trimmed["shapes"]) == ["In", "Oops", "Text"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ssm:GetParameterz"], "ssm has no operation 'GetParameterz' (did you mean GetParameter"),
        (["dynamdb:GetItem"], "botocore has no service 'dynamdb' (did you mean dynamodb"),
        (["dynamodb"], "'dynamodb': expected service:Operation[,Operation...]"),
        (["dynamodb:"], "'dynamodb:': expected service:Operation[,Operation...]"),
    ],
)
def test_a_wrong_name_stops_the_build_with_one_line(
    arguments: list[str], message: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lambda_kit.aws_models", str(tmp_path / "models"), *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.startswith(f"lambda_kit.aws_models: {message}")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "models").exists()


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=5))
def test_any_arguments_parse_or_are_refused_by_name(arguments: list[str]) -> None:
    try:
        calls = aws_models.parse_calls(arguments)
    except aws_models.ModelError as error:
        assert any(repr(argument) in str(error) for argument in arguments)
        return
    for service, operations in calls.items():
        assert service and operations and all(operations)
        assert all(f"{service}:" in " ".join(arguments) for _ in operations)
