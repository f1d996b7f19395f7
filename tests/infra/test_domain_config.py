"""The custom-domain settings: customDomain is a host name and needs hostedZoneId or
certificateArn, both in their AWS forms; the certificate is in the stack's own region; none of
the other keys applies without customDomain. Every refusal names the key, the value and what is
allowed."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from iris_infra.apps.iris.config import StackConfig
from iris_infra.config.errors import ConfigError

VALID = {"openaiApiKey": "sk-test"}
ZONE = "Z0123456789ABCDEFGHIJ"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f3c7a52-9b1e-4d6a-8c2f-5e7d9a1b3c4d"
DOMAIN = "api.example.com"
HOST_NAME_FORM = "expected a lower-case host name such as api.example.com"


def config(raw: dict[str, Any], aws_region: str | None = None) -> StackConfig:
    return StackConfig.from_raw("dev", {**VALID, **raw}, aws_region=aws_region)


def problems(raw: dict[str, Any], aws_region: str | None = None) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        config(raw, aws_region)
    return caught.value.problems


@pytest.mark.parametrize(
    "domain",
    [
        "api.example.com",
        "example.com",
        "a.b",
        "iris-api.eu.example.co.uk",
        "1api.example.com",
        "xn--bcher-kva.example",
        f"{'a' * 63}.example.com",
        # 253 characters: four labels of 63 and one of 1, separated by dots.
        ".".join(["a" * 63] * 3 + ["b" * 61]),
    ],
)
def test_host_names_are_accepted(domain):
    assert len(domain) <= 253
    assert config({"customDomain": domain, "hostedZoneId": ZONE}).custom_domain == domain


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("https://api.example.com", "is a URL, not a host name: drop the scheme"),
        ("api.example.com/", "has a path"),
        ("api.example.com/v1", "has a path"),
        ("api.example.com:443", "has a port"),
        ("api.example.com.", "ends with a dot: drop it"),
        ("API.Example.com", "has upper-case letters: use 'api.example.com'"),
        ("localhost", "has one label"),
        ("*.example.com", "has a wildcard"),
        ("-api.example.com", "has the invalid label '-api'"),
        ("api-.example.com", "has the invalid label 'api-'"),
        ("api..example.com", "has the invalid label ''"),
        ("api_v1.example.com", "has the invalid label 'api_v1'"),
        ("ápi.example.com", "has the invalid label 'ápi'"),
        ("api example.com", "has the invalid label 'api example'"),
        (f"{'a' * 64}.example.com", f"has the invalid label '{'a' * 64}'"),
        (".".join(["a" * 63] * 4), "is 255 characters long"),
        ("192.168.0.10", "is an IP address, not a host name"),
        ("", "is empty"),
    ],
)
def test_a_custom_domain_that_is_not_a_host_name_is_refused(domain, reason):
    (problem,) = problems({"customDomain": domain, "hostedZoneId": ZONE})
    assert problem.startswith(f"customDomain={domain!r} {reason}")
    assert HOST_NAME_FORM in problem


def test_surrounding_spaces_are_trimmed_like_other_text_settings():
    assert config({"customDomain": f"  {DOMAIN} ", "hostedZoneId": ZONE}).custom_domain == DOMAIN


def test_a_custom_domain_needs_a_zone_or_a_certificate():
    (problem,) = problems({"customDomain": DOMAIN})
    assert problem.startswith(f"customDomain='{DOMAIN}' needs hostedZoneId")
    assert "or certificateArn" in problem


@pytest.mark.parametrize(
    ("raw", "zone", "certificate"),
    [
        ({"hostedZoneId": ZONE}, ZONE, None),
        ({"hostedZoneId": f"/hostedzone/{ZONE}"}, ZONE, None),
        ({"certificateArn": CERTIFICATE}, None, CERTIFICATE),
        ({"hostedZoneId": ZONE, "certificateArn": CERTIFICATE}, ZONE, CERTIFICATE),
    ],
    ids=["zone", "zone-as-the-cli-prints-it", "certificate", "both"],
)
def test_a_zone_a_certificate_or_both_are_accepted(raw, zone, certificate):
    accepted = config({"customDomain": DOMAIN, **raw}, aws_region="eu-west-1")
    assert (accepted.hosted_zone_id, accepted.certificate_arn) == (zone, certificate)


@pytest.mark.parametrize(
    "zone",
    ["z0123456789", "Z0123-456", "Zabc123", "Z" + "A" * 32, "0123456789ABC", "/hostedzone/", "Z"],
)
def test_a_malformed_zone_id_is_refused(zone):
    (problem,) = problems({"customDomain": DOMAIN, "hostedZoneId": zone})
    assert problem.startswith(f"hostedZoneId={zone.removeprefix('/hostedzone/')!r} is not a")
    assert "Z followed by upper-case letters and digits, 32 characters at most" in problem


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:acm:eu-west-1:12345678901:certificate/0f3c7a52-9b1e-4d6a-8c2f-5e7d9a1b3c4d",
        "arn:aws:acm:eu-west-1:123456789012:certificate/0f3c7a52",
        "arn:aws:acm:eu-west-1:123456789012:certificate/0F3C7A52-9B1E-4D6A-8C2F-5E7D9A1B3C4D",
        "arn:aws:iam::123456789012:server-certificate/iris",
        "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0f3c7a52-9b1e-4d6a-8c2f-5e7d9a1b3c4d",
        "arn:aws:acm:europe:123456789012:certificate/0f3c7a52-9b1e-4d6a-8c2f-5e7d9a1b3c4d",
        "0f3c7a52-9b1e-4d6a-8c2f-5e7d9a1b3c4d",
    ],
)
def test_a_malformed_certificate_arn_is_refused(arn):
    (problem,) = problems({"customDomain": DOMAIN, "certificateArn": arn})
    assert problem.startswith(f"certificateArn={arn!r} is not an ACM certificate ARN")
    assert "arn:aws[-<partition>]:acm:<region>:<12-digit account>:certificate/<uuid>" in problem


@pytest.mark.parametrize(
    ("arn", "region"),
    [
        (CERTIFICATE, "eu-west-1"),
        (CERTIFICATE, None),
        (CERTIFICATE.replace("eu-west-1", "us-gov-west-1").replace(":aws:", ":aws-us-gov:"), None),
        (CERTIFICATE.replace("eu-west-1", "cn-north-1").replace(":aws:", ":aws-cn:"), "cn-north-1"),
    ],
)
def test_certificate_arns_of_every_partition_are_accepted(arn, region):
    assert config({"customDomain": DOMAIN, "certificateArn": arn}, region).certificate_arn == arn


def test_a_certificate_from_another_region_is_refused():
    # A common slip: the us-east-1 certificate that CloudFront needs.
    arn = CERTIFICATE.replace("eu-west-1", "us-east-1")
    (problem,) = problems({"customDomain": DOMAIN, "certificateArn": arn}, "eu-west-1")
    assert problem == (
        f"certificateArn={arn!r} is in region us-east-1, not the stack's aws:region eu-west-1: "
        "an HTTP API's custom domain is REGIONAL and takes a certificate from its own region; "
        "request or import one in eu-west-1"
    )


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ({"hostedZoneId": ZONE}, f"hostedZoneId={ZONE!r}"),
        ({"certificateArn": CERTIFICATE}, f"certificateArn={CERTIFICATE!r}"),
        ({"disableExecuteApiEndpoint": "true"}, "disableExecuteApiEndpoint=true"),
    ],
)
def test_domain_settings_without_a_custom_domain_are_refused(raw, shown):
    (problem,) = problems(raw)
    key = next(iter(raw))
    assert problem == (
        f"{shown} is set but customDomain is not: it only applies to a custom domain; set "
        f"customDomain too, or remove it with `pulumi config rm {key} --stack dev`"
    )


def test_every_stray_domain_setting_is_reported_at_once():
    refused = problems(
        {"hostedZoneId": ZONE, "certificateArn": CERTIFICATE, "disableExecuteApiEndpoint": True}
    )
    assert [problem.split("=")[0] for problem in refused] == [
        "hostedZoneId",
        "certificateArn",
        "disableExecuteApiEndpoint",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("True", True), (True, True), ("false", False), (False, False)],
)
def test_disable_execute_api_endpoint_is_a_flag(value, expected):
    raw = {"customDomain": DOMAIN, "hostedZoneId": ZONE, "disableExecuteApiEndpoint": value}
    assert config(raw).disable_execute_api_endpoint is expected


@pytest.mark.parametrize("value", ["yes", "1", 1, "on"])
def test_a_disable_execute_api_endpoint_that_is_not_a_flag_is_refused(value):
    raw = {"customDomain": DOMAIN, "hostedZoneId": ZONE, "disableExecuteApiEndpoint": value}
    assert problems(raw) == (
        f"disableExecuteApiEndpoint={value!r} is not a boolean; use true or false",
    )


def test_the_flag_left_at_its_default_needs_no_custom_domain():
    assert config({"disableExecuteApiEndpoint": "false"}).disable_execute_api_endpoint is False


def test_turning_the_default_endpoint_off_with_dns_kept_elsewhere_is_warned_about():
    raw = {"customDomain": DOMAIN, "certificateArn": CERTIFICATE, "disableExecuteApiEndpoint": True}
    (warning,) = config(raw).warnings()
    assert "https://api.example.com" in warning and "dnsTarget" in warning
    assert config({**raw, "hostedZoneId": ZONE}).warnings() == []


def test_without_a_custom_domain_nothing_changes():
    plain = config({})
    assert (plain.custom_domain, plain.hosted_zone_id, plain.certificate_arn) == (None,) * 3
    assert plain.disable_execute_api_endpoint is False


def test_from_pulumi_checks_the_certificate_against_aws_region(mocks, engine_config):
    engine_config(
        {
            "openaiApiKey": "sk-x",
            "customDomain": DOMAIN,
            "certificateArn": CERTIFICATE.replace("eu-west-1", "us-east-1"),
        },
        secret_keys=("openaiApiKey",),
    )
    pulumi.runtime.set_config("aws:region", "eu-west-1")
    with pytest.raises(ConfigError) as caught:
        StackConfig.from_pulumi()
    (problem,) = caught.value.problems
    assert "is in region us-east-1, not the stack's aws:region eu-west-1" in problem


def test_from_pulumi_reads_the_domain_settings_as_the_cli_stores_them(
    mocks, engine_config, resolve
):
    engine_config(
        {
            "openaiApiKey": "sk-x",
            "customDomain": DOMAIN,
            "hostedZoneId": f"/hostedzone/{ZONE}",
            "disableExecuteApiEndpoint": "true",
        },
        secret_keys=("openaiApiKey",),
    )
    pulumi.runtime.set_config("aws:region", "eu-west-1")

    def program():
        read = StackConfig.from_pulumi()
        return [
            read.custom_domain,
            read.hosted_zone_id,
            read.disable_execute_api_endpoint,
            read.aws_region,
        ]

    assert resolve(program) == [DOMAIN, ZONE, True, "eu-west-1"]
