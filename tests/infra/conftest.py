"""Pulumi mocks for the infra tests: every resource is recorded with its type, name and inputs.

The mocks answer like AWS would (ARNs, endpoints, a pushed image digest) so the program's
`apply` chains run; calls answer in the provider's camelCase.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime.mocks import MockMonitor

from iris_infra.config import PROJECT, StackConfig
from tests.infra.stack_files import read_stack_settings

# pulumi_aws loads its modules on first use, and loading `lambda_` warns about a deprecated
# resource this program never uses. Load every module the program uses once, here, so that
# warnings stay errors everywhere else.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\.")
    PROGRAM_RESOURCE_TYPES = (
        aws.apigatewayv2.Api,
        aws.cloudwatch.LogGroup,
        aws.dynamodb.Table,
        aws.ecr.Repository,
        aws.iam.Role,
        aws.lambda_.Function,
        aws.sns.Topic,
        aws.ssm.Parameter,
    )

PROJECT_DIR = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"

# Distinctive secret values: finding one anywhere but its SSM parameter is a leak.
OPENAI_KEY_SENTINEL = "sk-SENTINEL-openai-4f1c9e7a"
API_KEYS_SENTINEL = "SENTINEL-apikey-one-8d2b,SENTINEL-apikey-two-3e6f"
SENTINELS = (OPENAI_KEY_SENTINEL, *API_KEYS_SENTINEL.split(","))


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    # For each input, the names of the resources whose outputs it was built from.
    dependencies: dict[str, set[str]] = field(default_factory=dict)


# How the engine marks a secret value inside resource inputs.
SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIGNATURE[0]) == SECRET_SIGNATURE[1]


def plain(value: Any) -> Any:
    """`value` with every secret marker removed, for asserting on what is inside."""
    if is_secret_value(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


# The version a published function reports as its newest.
PUBLISHED_VERSION = "7"


def invoke_arn(function_arn: str) -> str:
    """What API Gateway integrations call: a function's, version's or alias's invoke ARN."""
    return (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def physical_name(resource_name: str) -> str:
    """The name the mocks give a resource declared without one (Pulumi's auto-naming)."""
    return f"{resource_name}-{_digest(resource_name)[:7]}"


def repository_url(resource_name: str) -> str:
    """The URL the mocks give the ECR repository declared as `resource_name`."""
    return f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{physical_name(resource_name)}"


# The hosted zone of API Gateway's regional endpoints in REGION, which alias records name.
API_GATEWAY_REGIONAL_ZONE_ID = "ZLY8HYME6SFDD"


class DependencyRecordingMonitor(MockMonitor):
    """The mock engine, also noting which resources each input of a new resource came from
    (what orders the real deployment), which plain mocks are not told."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):
        self.recording.dependencies[(request.type, request.name)] = {
            key: {urn.rsplit("::", 1)[-1] for urn in value.urns}
            for key, value in request.propertyDependencies.items()
        }
        return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.dependencies: dict[tuple[str, str], dict[str, set[str]]] = {}
        # The provider functions the program invoked (their tokens), in order.
        self.calls: list[str] = []
        # Some pushes report `repo:tag@sha256:...`, a form Lambda rejects (PITFALLS 15).
        self.tagged_repo_digests = False

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        name = args.inputs.get("name") or physical_name(args.name)
        outputs = {**args.inputs, "name": name, **self._computed(args, name)}
        resource_id = outputs.pop("id", f"{name}-id")
        dependencies = self.dependencies.get((args.typ, args.name), {})
        self.resources.append(
            Recorded(args.typ, args.name, resource_id, dict(args.inputs), outputs, dependencies)
        )
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append(args.token)
        answers = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/tester",
                "userId": "AIDATESTER",
                "id": ACCOUNT_ID,
            },
            "aws:index/getRegion:getRegion": {
                "region": REGION,
                "name": REGION,
                "endpoint": f"ec2.{REGION}.amazonaws.com",
                "description": "Europe (Ireland)",
                "id": REGION,
            },
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
                "authorizationToken": "QVdTOm1vY2stZWNyLXBhc3N3b3Jk",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": ACCOUNT_ID,
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com",
                "registryId": args.args.get("registryId", ACCOUNT_ID),
                "region": REGION,
                "userName": "AWS",
            },
        }
        if args.token not in answers:
            raise NotImplementedError(f"no mock answer for the call {args.token}")
        return answers[args.token]

    def _computed(self, args: pulumi.runtime.MockResourceArgs, name: str) -> dict[str, Any]:
        arn_prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}"
        match args.typ:
            case "aws:ecr/repository:Repository":
                return {
                    "arn": f"{arn_prefix.format('ecr')}:repository/{name}",
                    "registryId": ACCOUNT_ID,
                    "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{name}",
                }
            case "docker:index/image:Image":
                image_name = args.inputs["imageName"]
                repository = image_name.rsplit(":", 1)[0]
                reference = image_name if self.tagged_repo_digests else repository
                return {"repoDigest": f"{reference}@sha256:{_digest(args.name, repository)}"}
            case "aws:ssm/parameter:Parameter":
                # SSM counts the changes of a value; a number that changes with the value stands
                # in for that count (it is not the value, nor reversible to it).
                value = str(plain(args.inputs.get("value")))
                return {
                    "arn": f"{arn_prefix.format('ssm')}:parameter{name}",
                    "version": 1 + int(_digest(name, value)[:6], 16),
                }
            case "aws:iam/role:Role":
                return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}
            case "aws:cloudwatch/logGroup:LogGroup":
                return {"arn": f"{arn_prefix.format('logs')}:log-group:{name}"}
            case "aws:dynamodb/table:Table":
                return {"arn": f"{arn_prefix.format('dynamodb')}:table/{name}"}
            case "aws:lambda/function:Function":
                arn = f"{arn_prefix.format('lambda')}:function:{name}"
                # A published function reports its newest version; otherwise only $LATEST.
                version = PUBLISHED_VERSION if args.inputs.get("publish") else "$LATEST"
                return {
                    "arn": arn,
                    "invokeArn": invoke_arn(arn),
                    "version": version,
                    "qualifiedArn": f"{arn}:{version}",
                    "qualifiedInvokeArn": invoke_arn(f"{arn}:{version}"),
                }
            case "aws:lambda/alias:Alias":
                function = args.inputs["functionName"]
                arn = f"{arn_prefix.format('lambda')}:function:{function}:{name}"
                return {"arn": arn, "invokeArn": invoke_arn(arn)}
            case "aws:sns/topic:Topic":
                return {"arn": f"{arn_prefix.format('sns')}:{name}"}
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                return {"arn": f"{arn_prefix.format('cloudwatch')}:alarm:{name}"}
            case "aws:cloudwatch/dashboard:Dashboard":
                dashboard = args.inputs["dashboardName"]
                return {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{dashboard}"}
            case "aws:apigatewayv2/api:Api":
                api_id = _digest(args.name)[:10]
                return {
                    "id": api_id,
                    "apiEndpoint": f"https://{api_id}.execute-api.{REGION}.amazonaws.com",
                    "executionArn": f"{arn_prefix.format('execute-api')}:{api_id}",
                }
            case "aws:cloudwatch/eventRule:EventRule":
                return {"arn": f"{arn_prefix.format('events')}:rule/{name}"}
            case "aws:acm/certificate:Certificate":
                domain = args.inputs["domainName"]
                token = _digest(args.name, domain)
                certificate_id = uuid.UUID(token[:32])
                return {
                    "arn": f"{arn_prefix.format('acm')}:certificate/{certificate_id}",
                    "status": "PENDING_VALIDATION",
                    "domainValidationOptions": [
                        {
                            "domainName": domain,
                            "resourceRecordName": f"_{token[:32]}.{domain}.",
                            "resourceRecordType": "CNAME",
                            "resourceRecordValue": f"_{token[32:]}.acm-validations.aws.",
                        }
                    ],
                }
            case "aws:route53/record:Record":
                return {"fqdn": name.rstrip(".")}
            case "aws:apigatewayv2/domainName:DomainName":
                domain = args.inputs["domainName"]
                return {
                    "id": domain,
                    "arn": f"arn:aws:apigateway:{REGION}::/domainnames/{domain}",
                    "apiMappingSelectionExpression": "$request.basepath",
                    "domainNameConfiguration": {
                        **args.inputs["domainNameConfiguration"],
                        "targetDomainName": (
                            f"d-{_digest(domain)[:10]}.execute-api.{REGION}.amazonaws.com"
                        ),
                        "hostedZoneId": API_GATEWAY_REGIONAL_ZONE_ID,
                    },
                }
        return {"arn": f"{arn_prefix.format('mock')}:{args.typ}/{name}"}

    def use(self, stack: str = "dev", *, preview: bool = False) -> RecordingMocks:
        """Fresh records and a mocked engine for `stack`, with no config set."""
        settle_previous_program()
        self.resources.clear()
        self.tagged_repo_digests = False
        self.dependencies.clear()
        self.calls.clear()
        pulumi.runtime.set_mocks(
            self,
            project=PROJECT,
            stack=stack,
            preview=preview,
            monitor=DependencyRecordingMonitor(self),
        )
        pulumi.runtime.set_all_config({}, secret_keys=[])
        return self

    is_secret = staticmethod(is_secret_value)
    plain = staticmethod(plain)

    def of_type(self, type_: str) -> list[Recorded]:
        return [resource for resource in self.resources if resource.type == type_]

    def resource(self, type_: str, name: str) -> Recorded:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(found) == 1, f"expected one {type_} named {name}, found {len(found)}"
        return found[0]

    def inputs_json(self, exclude_type: str | None = None) -> str:
        """Every recorded input as one JSON text, for searching values that must not be there."""
        return json.dumps([r.inputs for r in self.resources if r.type != exclude_type], default=str)


# Long enough for any registration of the program under test; it ends much sooner.
SETTLE_TIMEOUT_S = 10


def settle_previous_program() -> None:
    """Let the registrations a failed program left running finish now.

    When a program raises (a refused imageUri inside an apply, say), the engine stops waiting
    for its other registrations at the first failure; they go on whenever the event loop runs
    next, which is the next test's program, and would land in that test's records.
    """
    loop = asyncio.get_event_loop_policy().get_event_loop()
    if loop.is_closed() or loop.is_running():
        return
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=SETTLE_TIMEOUT_S))


MOCKS = RecordingMocks()


@dataclass(frozen=True)
class Sentinels:
    openai_api_key: str = OPENAI_KEY_SENTINEL
    api_keys: str = API_KEYS_SENTINEL
    every_value: tuple[str, ...] = SENTINELS


def _resolve(program: Callable[[], Any]) -> Any:
    """Run `program` under the mocks and return what it returned, every Output resolved.

    Assertions then run on plain values after the engine finished, so a check can never be
    skipped silently: if the program's outputs never resolve, there is no value and this raises.
    """
    resolved: list[Any] = []

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        return pulumi.Output.from_input(program()).apply(resolved.append)

    run()
    if not resolved:
        raise AssertionError("the program's outputs never resolved (unknown in a preview?)")
    return resolved[0]


@pytest.fixture
def mocks() -> Iterator[RecordingMocks]:
    yield MOCKS.use()
    pulumi.runtime.set_all_config({}, secret_keys=[])


@pytest.fixture
def resolve() -> Callable[[Callable[[], Any]], Any]:
    return _resolve


@pytest.fixture
def sentinels() -> Sentinels:
    return Sentinels()


def stack_file_config(stack: str, **overrides: Any) -> StackConfig:
    """A validated config from the committed stack file, with sentinel secrets and overrides
    (an override of None removes the key)."""
    raw: dict[str, Any] = {
        **read_stack_settings(stack, PROJECT_DIR),
        "openaiApiKey": OPENAI_KEY_SENTINEL,
        "apiKeys": API_KEYS_SENTINEL,
        **overrides,
    }
    return StackConfig.from_raw(stack, {k: v for k, v in raw.items() if v is not None})


@pytest.fixture
def stack_config() -> Callable[..., StackConfig]:
    return stack_file_config


@pytest.fixture
def engine_config() -> Callable[..., None]:
    """Set config the way the Pulumi CLI hands it to the program: namespaced keys, text values."""

    def set_config(values: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> None:
        pulumi.runtime.set_all_config(
            {
                f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
                for key, value in values.items()
            },
            secret_keys=[f"{PROJECT}:{key}" for key in secret_keys],
        )

    return set_config


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR
