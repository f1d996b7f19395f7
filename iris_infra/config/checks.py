"""Value checks that every program's config shares: Lambda's and API Gateway's limits, stack
names, CORS origins, alarm emails, pinned image URIs and custom domains. Each returns the
problems of one value, each naming the key, the value and what is allowed."""

from __future__ import annotations

import re

from iris_infra.components.names import STACK_NAME_PATTERN

# The image platform follows the function's architecture: a mismatch dies with "exec format error".
PLATFORMS = {"arm64": "linux/arm64", "x86_64": "linux/amd64"}

# The only values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# An HTTP API integration waits 30 s at most, whatever the function's own timeout.
API_GATEWAY_TIMEOUT_SECONDS = 30
# Lambda's shortest function timeout.
MIN_TIMEOUT_SECONDS = 1
# Lambda's limits on a function's memory and on its /tmp (ephemeral storage), in MB.
MEMORY_RANGE_MB = (128, 10_240)
EPHEMERAL_STORAGE_RANGE_MB = (512, 10_240)

# Lambda's default account concurrency quota is 1,000, and AWS keeps 100 of it unreserved for
# functions without a reservation: a reservation above quota - 100 fails the deploy with
# InvalidParameterValueException (PutFunctionConcurrency's API reference).
DEFAULT_ACCOUNT_CONCURRENCY = 1_000
UNRESERVED_CONCURRENCY = 100
MAX_CONCURRENCY = DEFAULT_ACCOUNT_CONCURRENCY - UNRESERVED_CONCURRENCY
CONCURRENCY_QUOTA_NOTE = (
    f"AWS keeps {UNRESERVED_CONCURRENCY} of the account's concurrency quota (1,000 by default, "
    f"often 10 on a new account) unreserved, so the value needs a quota of at least the value + "
    f"{UNRESERVED_CONCURRENCY}; see the quota with `aws lambda get-account-settings` and raise it "
    "with `aws service-quotas request-service-quota-increase --service-code lambda "
    "--quota-code L-B99A9384 --desired-value <value + 100>`"
)

# What imageUri must look like: a digest in a private ECR repository (Lambda pulls nothing else).
IMAGE_URI_FORM = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>"
_ECR_REGISTRY = re.compile(r"[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?")
# ECR's repository name pattern (2-256 characters), from its CreateRepository API reference.
_ECR_REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# One address, the shape SNS's email protocol accepts; SNS itself sends the confirmation.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_EMAIL_LENGTH = 254
# A custom domain is a lower-case host name: labels of 1-63 letters, digits or '-' (not at
# either end), at least two of them, 253 characters in all (RFC 1035; ACM's DomainName pattern).
MAX_DOMAIN_NAME_LENGTH = 253
DOMAIN_NAME_FORM = (
    "a lower-case host name such as api.example.com: at least two dot-separated labels of 1-63 "
    "letters, digits or '-' (not first or last), 253 characters at most, with no scheme, path, "
    "port or trailing dot"
)
_DOMAIN_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_NOT_IN_HOST_NAMES = {"/": "a path", ":": "a port", "*": "a wildcard: give one host name"}
# What `aws route53 list-hosted-zones` prints; the `/hostedzone/` prefix is accepted and dropped.
HOSTED_ZONE_ID_FORM = "Z followed by upper-case letters and digits, 32 characters at most"
HOSTED_ZONE_PREFIX = "/hostedzone/"
_HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
CERTIFICATE_ARN_FORM = "arn:aws[-<partition>]:acm:<region>:<12-digit account>:certificate/<uuid>"
_CERTIFICATE_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:acm:(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):[0-9]{12}:"
    r"certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)

# Stacks whose names start with this are production: stricter checks, louder warnings.
PRODUCTION_PREFIX = "prod"
# The longest name IRIS derives from it, iris-<stack>-llm-budget-80-percent, is far below every
# limit; 30 leaves every program's names (a bucket: 63 characters) room.
MAX_STACK_NAME_LENGTH = 30
_ORIGIN = re.compile(r"(https?)://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*)(:[0-9]{1,5})?")


def origin_problems(origins: tuple[str, ...], stack: str) -> list[str]:
    """corsOrigins: browser origins, and '*' alone and never on a production stack."""
    if not origins:
        return ["corsOrigins is empty; list the frontend origins, e.g. https://app.example.com"]
    problems = []
    if "*" in origins:
        if is_production(stack):
            problems.append(
                f"corsOrigins contains '*', which is refused on stack '{stack}' (stacks named "
                "prod*): list the frontend's origins, e.g. https://app.example.com"
            )
        elif len(origins) > 1:
            problems.append("corsOrigins mixes '*' with other origins; use '*' alone or none")
    for origin in origins:
        if origin != "*" and not _is_origin(origin):
            problems.append(
                f"corsOrigins entry {origin!r} is not an origin; use scheme://host[:port] with "
                "http or https and no trailing slash or path, e.g. https://app.example.com"
            )
    return problems


def _is_origin(origin: str) -> bool:
    match = _ORIGIN.fullmatch(origin)
    return bool(match) and (match.group(4) is None or 1 <= int(match.group(4)[1:]) <= 65_535)


def image_uri_problems(image_uri: str, aws_region: str | None = None) -> list[str]:
    """Why `image_uri` cannot be deployed as is, if it cannot: Lambda needs a digest (a tag is
    mutable, and `repo:tag@sha256:` is refused) in a private ECR repository of its own region."""
    reason = _image_uri_flaw(image_uri, aws_region)
    if reason is None:
        return []
    return [
        f"imageUri={image_uri!r} {reason}; expected {IMAGE_URI_FORM}, e.g. the stack's "
        "imageUri output or a digest listed by `aws ecr describe-images`"
    ]


def _image_uri_flaw(image_uri: str, aws_region: str | None) -> str | None:
    registry, slash, rest = image_uri.partition("/")
    reference, at, digest = rest.partition("@")
    registry_match = _ECR_REGISTRY.fullmatch(registry) if slash else None
    if registry_match is None:
        return (
            "is not in a private ECR registry: Lambda pulls images only from ECR, and this "
            "stack deploys only what is in its own repository"
        )
    repository, colon, _ = reference.partition(":")
    if colon and not at:
        return "names a tag, which can be moved to another image: give the image's digest"
    if colon:
        return "has a tag before its digest, a form Lambda refuses: drop the ':<tag>'"
    if not at:
        return "has no digest"
    if not _DIGEST.fullmatch(digest):
        return f"has a malformed digest {digest!r}"
    if not (2 <= len(repository) <= 256 and _ECR_REPOSITORY.fullmatch(repository)):
        return f"has an invalid ECR repository name {repository!r}"
    region = registry_match.group(1)
    if aws_region and region != aws_region:
        return (
            f"is in region {region}, not the stack's aws:region {aws_region}: Lambda pulls "
            "images only from its own region"
        )
    return None


def _is_email(value: str) -> bool:
    return len(value) <= MAX_EMAIL_LENGTH and bool(_EMAIL.fullmatch(value))


def domain_name_flaw(name: str) -> str | None:
    """Why `name` cannot be a custom domain, if it cannot."""
    if not name:
        return "is empty: give a host name, or remove the key"
    if "://" in name:
        return "is a URL, not a host name: drop the scheme"
    if name.endswith("."):
        return "ends with a dot: drop it"
    if name != name.lower():
        return f"has upper-case letters: use {name.lower()!r}"
    for character, what in _NOT_IN_HOST_NAMES.items():
        if character in name:
            return f"has {what}"
    labels = name.split(".")
    if len(labels) < 2:
        return "has one label: give the whole name, e.g. api.example.com"
    if len(name) > MAX_DOMAIN_NAME_LENGTH:
        return f"is {len(name)} characters long"
    bad = [label for label in labels if not _DOMAIN_LABEL.fullmatch(label)]
    if bad:
        return f"has the invalid label {bad[0]!r}"
    if labels[-1].isdigit():
        return "is an IP address, not a host name"
    return None


def hosted_zone_id_problems(zone_id: str) -> list[str]:
    """hostedZoneId: a Route 53 zone id as `aws route53 list-hosted-zones` prints it, without
    its `/hostedzone/` prefix (dropped when read)."""
    if _HOSTED_ZONE_ID.fullmatch(zone_id):
        return []
    return [
        f"hostedZoneId={zone_id!r} is not a Route 53 hosted zone id; expected "
        f"{HOSTED_ZONE_ID_FORM}, e.g. Z0123456789ABCDEFGHIJ from "
        "`aws route53 list-hosted-zones-by-name --dns-name <zone>`"
    ]


def certificate_arn_problems(arn: str, aws_region: str | None = None) -> list[str]:
    """Why `arn` cannot serve the API's custom domain, if it cannot: an HTTP API's domain is
    REGIONAL and takes only an ACM certificate from the API's own region."""
    match = _CERTIFICATE_ARN.fullmatch(arn)
    if match is None:
        return [
            f"certificateArn={arn!r} is not an ACM certificate ARN; expected "
            f"{CERTIFICATE_ARN_FORM}, e.g. from `aws acm list-certificates --region <region>`"
        ]
    region = match.group("region")
    if aws_region and region != aws_region:
        return [
            f"certificateArn={arn!r} is in region {region}, not the stack's aws:region "
            f"{aws_region}: an HTTP API's custom domain is REGIONAL and takes a certificate from "
            f"its own region; request or import one in {aws_region}"
        ]
    return []


def check_range(
    problems: list[str], key: str, value: int, low: int, high: int, note: str = ""
) -> None:
    if not low <= value <= high:
        problems.append(
            f"{key}={value} is out of range; allowed {low}-{high}" + (f" {note}" if note else "")
        )


def is_production(stack: str) -> bool:
    return stack.startswith(PRODUCTION_PREFIX)


def stack_name_problems(stack: str, longest: int = MAX_STACK_NAME_LENGTH) -> list[str]:
    """The stack's name goes into every physical name (iris_infra.names): one lower-case word,
    so that no stack's names start with another's; `longest` is what the longest name leaves."""
    if STACK_NAME_PATTERN.fullmatch(stack) and len(stack) <= longest:
        return []
    return [
        f"stack name {stack!r} cannot name this program's resources; use 1-{longest} lower-case "
        "letters and digits, starting with a letter (e.g. dev, prod, prodeu): every physical "
        "name is <app>-<stack>-..., and with a '-' or '_' in it one stack's names (iris-dev-...) "
        "would match another's (iris-dev-eu-...) in the deployer's policy; S3 and ECR take no "
        "upper case"
    ]


def timeout_problems(timeout_seconds: int, longer: str = "") -> list[str]:
    """timeoutSeconds behind an HTTP API; `longer` says what a longer job needs instead."""
    allowed = f"allowed {MIN_TIMEOUT_SECONDS}-{API_GATEWAY_TIMEOUT_SECONDS}"
    if timeout_seconds > API_GATEWAY_TIMEOUT_SECONDS:
        return [
            f"timeoutSeconds={timeout_seconds} is above {API_GATEWAY_TIMEOUT_SECONDS}: "
            f"an HTTP API integration cannot wait longer than {API_GATEWAY_TIMEOUT_SECONDS} s, "
            f"so a longer function timeout only turns slow answers into 503s; {allowed}"
            + (f"; {longer}" if longer else "")
        ]
    if timeout_seconds < MIN_TIMEOUT_SECONDS:
        return [f"timeoutSeconds={timeout_seconds} is out of range; {allowed}"]
    return []


def architecture_problems(architecture: str) -> list[str]:
    if architecture in PLATFORMS:
        return []
    return [f"architecture={architecture!r} is not allowed; use one of {', '.join(PLATFORMS)}"]


def log_retention_problems(days: int) -> list[str]:
    if days in LOG_RETENTION_DAYS:
        return []
    return [
        f"logRetentionDays={days} is not a CloudWatch Logs retention; "
        f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
    ]


def alarm_email_problems(alarm_email: str | None) -> list[str]:
    if alarm_email is None or _is_email(alarm_email):
        return []
    return [
        f"alarmEmail={alarm_email!r} is not an email address; give one address, "
        "e.g. ops@example.com, or remove the key for a stack without alarms"
    ]


def provisioned_concurrency_problems(value: int, reserved: int | None = None) -> list[str]:
    """provisionedConcurrency: within what a default account may reserve, and never above the
    function's own reservation when it has one."""
    if not 0 <= value <= MAX_CONCURRENCY:
        return [
            f"provisionedConcurrency={value} is out of range; allowed 0-{MAX_CONCURRENCY} "
            f"(0 = none): {CONCURRENCY_QUOTA_NOTE}"
        ]
    if reserved is not None and value > reserved:
        return [
            f"provisionedConcurrency={value} is above reservedConcurrency={reserved}: Lambda "
            "cannot provision more instances than the function may run; allowed "
            f"0-{reserved}, or raise reservedConcurrency"
        ]
    return []
