"""What the program declares for a stack, from a run under Pulumi's mocks: no engine, no CLI, no
cloud. The mocks answer like AWS would (ARNs, endpoints, a pushed image digest), deterministically,
so the program's `apply` chains run and two runs of one commit print the same plan.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import runpy
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_root_resource, set_root_resource

from iris_infra.apps.iris.config import PROJECT

# The account the plan shows in ARNs: AWS's documentation example, never a real one.
PLAN_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# The version a published function reports as its newest.
PUBLISHED_VERSION = "7"
# The hosted zone the mocks give API Gateway's regional endpoints, which alias records name.
API_GATEWAY_REGIONAL_ZONE_ID = "ZLY8HYME6SFDD"
# How the engine marks a secret value inside resource inputs.
SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
SECRET_SHOWN = "[secret]"
UNKNOWN_SHOWN = "[unknown]"


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIGNATURE[0]) == SECRET_SIGNATURE[1]


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def physical_name(resource_name: str) -> str:
    """The name the mocks give a resource declared without one (Pulumi's auto-naming)."""
    return f"{resource_name}-{digest(resource_name)[:7]}"


def invoke_arn(function_arn: str, region: str) -> str:
    """What API Gateway integrations call: a function's, version's or alias's invoke ARN."""
    return (
        f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def _text_of(value: Any) -> str:
    """`value` as text with every secret marker removed (mock outputs derived from an input)."""
    if is_secret_value(value):
        return _text_of(value["value"])
    return str(value)


def _asset_digest(source: Any) -> str:
    """What a new upload of `source` is told apart by: a file's content, else its text."""
    if isinstance(source, pulumi.FileAsset):
        try:
            with Path(source.path).open("rb") as file:
                return hashlib.file_digest(file, "sha256").hexdigest()
        except OSError:
            return source.path
    return _text_of(source)


class PlanMocks(pulumi.runtime.Mocks):
    """Answers for every resource and call the program makes, as AWS would shape them."""

    def __init__(self, account_id: str = PLAN_ACCOUNT_ID, region: str = DEFAULT_REGION) -> None:
        self.account_id = account_id
        self.region = region
        # Some pushes report `repo:tag@sha256:...`, a form Lambda rejects (pitfall 15).
        self.tagged_repo_digests = False
        # The provider functions the program invoked (their tokens), in order.
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        name = args.inputs.get("name") or physical_name(args.name)
        outputs = {**args.inputs, "name": name, **self.computed(args, name)}
        resource_id = outputs.pop("id", f"{name}-id")
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append(args.token)
        account, region = self.account_id, self.region
        answers = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": account,
                "arn": f"arn:aws:iam::{account}:user/tester",
                "userId": "AIDATESTER",
                "id": account,
            },
            "aws:index/getRegion:getRegion": {
                "region": region,
                "name": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
                "id": region,
            },
            "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
                "authorizationToken": "QVdTOm1vY2stZWNyLXBhc3N3b3Jk",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": account,
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{account}.dkr.ecr.{region}.amazonaws.com",
                "registryId": args.args.get("registryId", account),
                "region": region,
                "userName": "AWS",
            },
        }
        if args.token not in answers:
            raise NotImplementedError(f"no mock answer for the call {args.token}")
        return answers[args.token]

    def computed(self, args: pulumi.runtime.MockResourceArgs, name: str) -> dict[str, Any]:
        """The outputs AWS computes for a new resource of `args.typ` named `name`."""
        account, region = self.account_id, self.region
        arn_prefix = f"arn:aws:{{}}:{region}:{account}"
        match args.typ:
            case "aws:ecr/repository:Repository":
                return {
                    "arn": f"{arn_prefix.format('ecr')}:repository/{name}",
                    "registryId": account,
                    "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}",
                }
            case "docker:index/image:Image":
                image_name = args.inputs["imageName"]
                repository = image_name.rsplit(":", 1)[0]
                reference = image_name if self.tagged_repo_digests else repository
                return {"repoDigest": f"{reference}@sha256:{digest(args.name, repository)}"}
            case "aws:ssm/parameter:Parameter":
                # SSM counts the changes of a value; a number that changes with the value stands
                # in for that count (it is not the value, nor reversible to it).
                value = _text_of(args.inputs.get("value"))
                return {
                    "arn": f"{arn_prefix.format('ssm')}:parameter{name}",
                    "version": 1 + int(digest(name, value)[:6], 16),
                }
            case "aws:iam/role:Role":
                # A role's ARN holds its path (`role/iris/dev/iris-dev`); its id is its name.
                path = args.inputs.get("path") or "/"
                return {"id": name, "arn": f"arn:aws:iam::{account}:role{path}{name}"}
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
                    "invokeArn": invoke_arn(arn, region),
                    "version": version,
                    "qualifiedArn": f"{arn}:{version}",
                    "qualifiedInvokeArn": invoke_arn(f"{arn}:{version}", region),
                }
            case "aws:lambda/alias:Alias":
                function = args.inputs["functionName"]
                arn = f"{arn_prefix.format('lambda')}:function:{function}:{name}"
                return {"arn": arn, "invokeArn": invoke_arn(arn, region)}
            case "aws:sns/topic:Topic":
                return {"arn": f"{arn_prefix.format('sns')}:{name}"}
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                return {"arn": f"{arn_prefix.format('cloudwatch')}:alarm:{name}"}
            case "aws:cloudwatch/dashboard:Dashboard":
                dashboard = args.inputs["dashboardName"]
                return {"dashboardArn": f"arn:aws:cloudwatch::{account}:dashboard/{dashboard}"}
            case "aws:apigatewayv2/api:Api":
                api_id = digest(args.name)[:10]
                return {
                    "id": api_id,
                    "apiEndpoint": f"https://{api_id}.execute-api.{region}.amazonaws.com",
                    "executionArn": f"{arn_prefix.format('execute-api')}:{api_id}",
                }
            case "aws:cloudwatch/eventRule:EventRule":
                return {"arn": f"{arn_prefix.format('events')}:rule/{name}"}
            case "aws:acm/certificate:Certificate":
                domain = args.inputs["domainName"]
                token = digest(args.name, domain)
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
            case "aws:s3/bucket:Bucket":
                # A bucket's id is its name; its ARN has no region or account.
                bucket = args.inputs.get("bucket") or name
                return {
                    "id": bucket,
                    "bucket": bucket,
                    "arn": f"arn:aws:s3:::{bucket}",
                    "region": region,
                    "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                }
            case "aws:s3/bucketObjectv2:BucketObjectv2":
                # In a versioned bucket every upload of new content is a new version id.
                bucket, key = args.inputs["bucket"], args.inputs["key"]
                content = _asset_digest(args.inputs.get("source"))
                return {
                    "id": key,
                    "arn": f"arn:aws:s3:::{bucket}/{key}",
                    "versionId": digest(bucket, key, content)[:32],
                }
            case "aws:route53/record:Record":
                return {"fqdn": name.rstrip(".")}
            case "aws:apigatewayv2/domainName:DomainName":
                domain = args.inputs["domainName"]
                return {
                    "id": domain,
                    "arn": f"arn:aws:apigateway:{region}::/domainnames/{domain}",
                    "apiMappingSelectionExpression": "$request.basepath",
                    "domainNameConfiguration": {
                        **args.inputs["domainNameConfiguration"],
                        "targetDomainName": (
                            f"d-{digest(domain)[:10]}.execute-api.{region}.amazonaws.com"
                        ),
                        "hostedZoneId": API_GATEWAY_REGIONAL_ZONE_ID,
                    },
                }
        return {"arn": f"{arn_prefix.format('mock')}:{args.typ}/{name}"}


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    # The logical name of the component it belongs to; None at the stack's top level.
    parent: str | None
    # As the engine receives them: secret values still carry the engine's secret marker.
    inputs: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    stack: str
    resources: tuple[PlannedResource, ...]
    # Name -> (value, whether the output is secret).
    outputs: dict[str, tuple[Any, bool]]
    warnings: tuple[str, ...] = ()
    # The provider functions it invoked (their tokens).
    calls: tuple[str, ...] = ()


class _PlanMonitor(MockMonitor):
    """The mock engine, also noting each resource's inputs and parent, which plain mocks
    are not told."""

    def __init__(self, mocks: PlanMocks) -> None:
        super().__init__(mocks)
        self.registered: list[PlannedResource] = []

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            parent_type, _, parent_name = request.parent.rpartition("::")
            inputs = pulumi.runtime.rpc.deserialize_properties(
                request.object, keep_unknowns=True, keep_internal=False
            )
            self.registered.append(
                PlannedResource(
                    request.type,
                    request.name,
                    None if parent_type.endswith("pulumi:pulumi:Stack") else parent_name,
                    dict(inputs),
                )
            )
        return super().RegisterResource(request)


class _Warnings(logging.Handler):
    """Collects what the program reports with pulumi.log.warn."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def ensure_open_event_loop() -> asyncio.AbstractEventLoop:
    """The thread's event loop, a new one if it has none or its loop was closed: the mock
    engine schedules every registration on it, and whatever ran on the thread before (a
    Lambda handler, `asyncio.run`) may have closed it or left none."""
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        loop = policy.new_event_loop()
        policy.set_event_loop(loop)
    return loop


def run_program(
    project_dir: Path,
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...] = (),
    project: str = PROJECT,
) -> Plan:
    """Run the `__main__.py` of `project` (its Pulumi.yaml's name) in `project_dir` for `stack`
    under the mocks, with `config` as the CLI would hand it over (namespaced keys, text
    values). Raises ConfigError, as `pulumi up` would, when the config is refused."""
    mocks = PlanMocks(region=config.get("aws:region") or DEFAULT_REGION)
    monitor = _PlanMonitor(mocks)
    warnings = _Warnings()
    logger = logging.getLogger(f"{__name__}.{stack}")
    logger.propagate = False
    logger.addHandler(warnings)
    # One root stack per run, as each `pulumi up` has its own.
    set_root_resource(None)  # type: ignore[arg-type]
    ensure_open_event_loop()
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor
    )
    pulumi.runtime.set_all_config(config, secret_keys=list(secret_keys))
    exported: dict[str, tuple[Any, bool]] = {}

    async def resolve(name: str, value: Any) -> None:
        output = pulumi.Output.from_input(value)
        exported[name] = (await output.future(with_unknowns=True), await output.is_secret())

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
        outputs = dict(get_root_resource().outputs)  # type: ignore[union-attr]
        return pulumi.Output.from_input(
            asyncio.gather(*(resolve(name, value) for name, value in outputs.items()))
        )

    try:
        program()
    finally:
        logger.removeHandler(warnings)
        pulumi.runtime.set_all_config({}, secret_keys=[])
    return Plan(
        stack,
        tuple(monitor.registered),
        exported,
        tuple(warnings.messages),
        tuple(dict.fromkeys(mocks.calls)),
    )
