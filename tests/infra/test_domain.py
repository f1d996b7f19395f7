"""The API on a custom domain (pitfall 34): in a Route 53 zone, a certificate validated through
a record in the zone, a REGIONAL TLS 1.2 domain name on the *validated* certificate, a mapping to
the $default stage and alias records at the domain's target; with a certificate brought along, the
same domain name and mapping and nothing in ACM or Route 53. Outputs follow the domain, and a
stack without customDomain declares exactly what it did before."""

from __future__ import annotations

import json
import re
import runpy

import pulumi
import pytest

from iris_infra import ConfigError, CustomDomain, CustomDomainArgs, build_stack
from tests.infra.conftest import API_GATEWAY_REGIONAL_ZONE_ID

DOMAIN = "api.example.com"
ZONE = "Z0123456789ABCDEFGHIJ"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f3c7a52-9b1e-4d6a-8c2f-5e7d9a1b3c4d"

API = "aws:apigatewayv2/api:Api"
STAGE = "aws:apigatewayv2/stage:Stage"
ACM_CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
DOMAIN_NAME = "aws:apigatewayv2/domainName:DomainName"
MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
RECORD = "aws:route53/record:Record"
COMPONENT = "iris:index:CustomDomain"
DOMAIN_TYPES = {COMPONENT, ACM_CERTIFICATE, VALIDATION, DOMAIN_NAME, MAPPING, RECORD}

ZONE_PATH = {"customDomain": DOMAIN, "hostedZoneId": ZONE}
CERTIFICATE_PATH = {"customDomain": DOMAIN, "certificateArn": CERTIFICATE}
BOTH = {**ZONE_PATH, **CERTIFICATE_PATH}


def build(resolve, config) -> dict:
    def program():
        outputs = build_stack(config)
        return {
            "apiUrl": outputs.api_url,
            "healthUrl": outputs.health_url,
            "analyzeUrl": outputs.analyze_url,
            "executeApiUrl": outputs.execute_api_url,
            "dnsTarget": outputs.dns_target,
            "corsOrigins": outputs.cors_origins,
        }

    return resolve(program)


def the(mocks, type_: str):
    (found,) = mocks.of_type(type_)
    return found


def alias_records(mocks):
    return {r.inputs["type"]: r for r in mocks.of_type(RECORD) if "aliases" in r.inputs}


# Route 53 path: certificate → validation record → validation → domain name → mapping, aliases.


def test_the_certificate_is_requested_for_the_domain_with_dns_validation(
    mocks, resolve, stack_config
):
    build(resolve, stack_config("dev", **ZONE_PATH))
    certificate = mocks.resource(ACM_CERTIFICATE, "iris-domain-certificate")
    assert certificate.inputs == {
        "domainName": DOMAIN,
        "validationMethod": "DNS",
        # What the deployer's policy lets it delete by (StackNames.tags).
        "tags": {"stack": "iris-dev"},
    }


def test_the_validation_record_is_the_certificates_own_in_the_zone(mocks, resolve, stack_config):
    build(resolve, stack_config("dev", **ZONE_PATH))
    certificate = the(mocks, ACM_CERTIFICATE)
    (option,) = certificate.outputs["domainValidationOptions"]
    record = mocks.resource(RECORD, "iris-domain-validation-record")
    assert record.inputs["zoneId"] == ZONE
    assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (
        option["resourceRecordName"],
        option["resourceRecordType"],
        [option["resourceRecordValue"]],
    )
    assert record.inputs["ttl"] > 0
    assert record.inputs["allowOverwrite"] is True
    assert record.dependencies["name"] == {"iris-domain-certificate"}


def test_the_validation_waits_for_that_record(mocks, resolve, stack_config):
    build(resolve, stack_config("dev", **ZONE_PATH))
    certificate = the(mocks, ACM_CERTIFICATE)
    record = mocks.resource(RECORD, "iris-domain-validation-record")
    validation = the(mocks, VALIDATION)
    assert validation.inputs == {
        "certificateArn": certificate.outputs["arn"],
        "validationRecordFqdns": [record.outputs["fqdn"]],
    }
    assert validation.dependencies["validationRecordFqdns"] == {"iris-domain-validation-record"}


def test_the_domain_name_uses_the_validated_certificate(mocks, resolve, stack_config):
    build(resolve, stack_config("dev", **ZONE_PATH))
    certificate = the(mocks, ACM_CERTIFICATE)
    domain = the(mocks, DOMAIN_NAME)
    assert domain.inputs == {
        "domainName": DOMAIN,
        "domainNameConfiguration": {
            "certificateArn": certificate.outputs["arn"],
            "endpointType": "REGIONAL",
            "securityPolicy": "TLS_1_2",
            "ipAddressType": "dualstack",
        },
        "tags": {"stack": "iris-dev"},
    }
    # From the validation, not the certificate: API Gateway refuses a certificate not yet issued.
    assert domain.dependencies["domainNameConfiguration"] == {"iris-domain-certificate-validation"}


@pytest.mark.parametrize("paths", [ZONE_PATH, CERTIFICATE_PATH, BOTH], ids=["zone", "byo", "both"])
def test_the_mapping_sends_the_whole_domain_to_this_apis_default_stage(
    mocks, resolve, stack_config, paths
):
    build(resolve, stack_config("dev", **paths))
    api = the(mocks, API)
    stage = the(mocks, STAGE)
    domain = the(mocks, DOMAIN_NAME)
    mapping = the(mocks, MAPPING)
    # The stage's name, not its id or ARN; no mapping key, which would prefix every path and
    # leave the app's routes unmatched (pitfall 4).
    assert mapping.inputs == {"apiId": api.id, "domainName": domain.id, "stage": "$default"}
    assert stage.inputs["name"] == "$default"
    assert mapping.dependencies["stage"] == {"iris-http-api-stage"}
    assert mapping.dependencies["domainName"] == {"iris-domain-domain-name"}


@pytest.mark.parametrize("paths", [ZONE_PATH, BOTH], ids=["zone", "both"])
def test_a_and_aaaa_alias_records_point_at_the_domains_regional_target(
    mocks, resolve, stack_config, paths
):
    build(resolve, stack_config("dev", **paths))
    configuration = the(mocks, DOMAIN_NAME).outputs["domainNameConfiguration"]
    records = alias_records(mocks)
    assert set(records) == {"A", "AAAA"}
    for record in records.values():
        # An alias has no TTL and no values of its own.
        assert record.inputs == {
            "zoneId": ZONE,
            "name": DOMAIN,
            "type": record.inputs["type"],
            "aliases": [
                {
                    "name": configuration["targetDomainName"],
                    "zoneId": API_GATEWAY_REGIONAL_ZONE_ID,
                    "evaluateTargetHealth": False,
                }
            ],
        }
        assert configuration["hostedZoneId"] == API_GATEWAY_REGIONAL_ZONE_ID
        assert record.dependencies["aliases"] == {"iris-domain-domain-name"}


# Bring your own certificate.


def test_a_brought_certificate_creates_nothing_in_acm_or_route_53(mocks, resolve, stack_config):
    outputs = build(resolve, stack_config("dev", **CERTIFICATE_PATH))
    assert not mocks.of_type(ACM_CERTIFICATE)
    assert not mocks.of_type(VALIDATION)
    assert not mocks.of_type(RECORD)
    domain = the(mocks, DOMAIN_NAME)
    assert domain.inputs["domainNameConfiguration"]["certificateArn"] == CERTIFICATE
    assert domain.inputs["domainNameConfiguration"]["endpointType"] == "REGIONAL"
    assert domain.dependencies["domainNameConfiguration"] == set()
    target = domain.outputs["domainNameConfiguration"]["targetDomainName"]
    assert outputs["dnsTarget"] == target
    assert target.endswith(".execute-api.eu-west-1.amazonaws.com")


def test_with_both_the_brought_certificate_is_used_and_the_zone_gets_the_aliases(
    mocks, resolve, stack_config
):
    build(resolve, stack_config("dev", **BOTH))
    assert not mocks.of_type(ACM_CERTIFICATE)
    assert not mocks.of_type(VALIDATION)
    assert the(mocks, DOMAIN_NAME).inputs["domainNameConfiguration"]["certificateArn"] == (
        CERTIFICATE
    )
    assert [r.name for r in mocks.of_type(RECORD)] == [
        "iris-domain-alias-a",
        "iris-domain-alias-aaaa",
    ]


# Outputs.


@pytest.mark.parametrize("paths", [ZONE_PATH, CERTIFICATE_PATH, BOTH], ids=["zone", "byo", "both"])
def test_the_urls_follow_the_domain(mocks, resolve, stack_config, paths):
    outputs = build(resolve, stack_config("dev", **paths))
    api = the(mocks, API)
    domain = the(mocks, DOMAIN_NAME)
    assert outputs["apiUrl"] == f"https://{DOMAIN}"
    assert outputs["healthUrl"] == f"https://{DOMAIN}/health"
    assert outputs["analyzeUrl"] == f"https://{DOMAIN}/api/iris/analyze"
    assert outputs["executeApiUrl"] == api.outputs["apiEndpoint"]
    assert outputs["dnsTarget"] == domain.outputs["domainNameConfiguration"]["targetDomainName"]


def test_without_a_domain_the_api_url_is_the_execute_api_endpoint(mocks, resolve, stack_config):
    outputs = build(resolve, stack_config("dev"))
    endpoint = the(mocks, API).outputs["apiEndpoint"]
    assert outputs["apiUrl"] == outputs["executeApiUrl"] == endpoint
    assert outputs["dnsTarget"] is None


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("paths", [ZONE_PATH, CERTIFICATE_PATH, BOTH], ids=["zone", "byo", "both"])
def test_a_domain_adds_its_resources_and_changes_nothing_else(
    mocks, resolve, stack_config, stack, paths
):
    mocks.use(stack)
    plain_outputs = build(resolve, stack_config(stack))
    plain = {(r.type, r.name): r.inputs for r in mocks.resources}
    assert not DOMAIN_TYPES & {type_ for type_, _ in plain}

    mocks.use(stack)
    domain_outputs = build(resolve, stack_config(stack, **paths))
    with_domain = {(r.type, r.name): r.inputs for r in mocks.resources}
    added = {key for key in with_domain if key not in plain}
    assert {type_ for type_, _ in added} <= DOMAIN_TYPES
    assert {name for _, name in added} == {
        r.name for r in mocks.resources if r.name.startswith("iris-domain")
    }
    # Same API (CORS included), stage, routes, functions...: only the additions differ.
    assert {key: with_domain[key] for key in plain} == plain
    assert domain_outputs["executeApiUrl"] == plain_outputs["apiUrl"]
    assert domain_outputs["corsOrigins"] == plain_outputs["corsOrigins"]


# The default endpoint switched off.


@pytest.mark.parametrize("paths", [ZONE_PATH, CERTIFICATE_PATH], ids=["zone", "byo"])
def test_disable_execute_api_endpoint_turns_the_default_endpoint_off(
    mocks, resolve, stack_config, paths
):
    outputs = build(resolve, stack_config("dev", **paths, disableExecuteApiEndpoint=True))
    api = the(mocks, API)
    assert api.inputs["disableExecuteApiEndpoint"] is True
    # Still named, so operators can see which endpoint answers 404 now.
    assert outputs["executeApiUrl"] == api.outputs["apiEndpoint"]
    assert outputs["apiUrl"] == f"https://{DOMAIN}"


def test_the_default_endpoint_stays_on_unless_asked(mocks, resolve, stack_config):
    build(resolve, stack_config("dev", **ZONE_PATH))
    assert "disableExecuteApiEndpoint" not in the(mocks, API).inputs


# The component on its own.


def test_a_custom_domain_without_a_zone_or_a_certificate_is_refused():
    with pytest.raises(ValueError, match="'api.example.com' needs a hosted zone id or a"):
        CustomDomainArgs(domain_name=DOMAIN, api_id="abc123", stage_name="$default", tags={})


def test_the_component_exposes_url_target_and_certificate(mocks, resolve):
    def program():
        domain = CustomDomain(
            "web",
            CustomDomainArgs(
                domain_name="iris.example.org",
                api_id="abc123",
                stage_name="$default",
                tags={"stack": "iris-dev"},
                hosted_zone_id=ZONE,
            ),
        )
        return [domain.url, domain.dns_target, domain.certificate_arn]

    url, target, certificate_arn = resolve(program)
    assert url == "https://iris.example.org"
    assert target == the(mocks, DOMAIN_NAME).outputs["domainNameConfiguration"]["targetDomainName"]
    assert certificate_arn == mocks.resource(ACM_CERTIFICATE, "web-certificate").outputs["arn"]
    assert {r.name for r in mocks.resources} == {
        "web",
        "web-certificate",
        "web-validation-record",
        "web-certificate-validation",
        "web-domain-name",
        "web-api-mapping",
        "web-alias-a",
        "web-alias-aaaa",
    }


# The program itself.


def run_program(project_dir, monkeypatch) -> dict:
    exported: dict = {}
    monkeypatch.setattr(pulumi, "export", exported.__setitem__)
    runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
    return exported


@pytest.mark.parametrize("paths", [ZONE_PATH, CERTIFICATE_PATH], ids=["zone", "byo"])
def test_the_program_exports_the_domain_outputs(
    mocks, resolve, engine_config, sentinels, project_dir, monkeypatch, paths
):
    engine_config(
        {"openaiApiKey": sentinels.openai_api_key, **paths}, secret_keys=("openaiApiKey",)
    )
    exported = resolve(lambda: run_program(project_dir, monkeypatch))
    assert exported["apiUrl"] == f"https://{DOMAIN}"
    assert exported["healthUrl"] == f"https://{DOMAIN}/health"
    assert exported["executeApiUrl"].endswith(".execute-api.eu-west-1.amazonaws.com")
    assert exported["dnsTarget"].startswith("d-")
    assert sentinels.openai_api_key not in json.dumps(exported)


def test_the_program_exports_no_dns_target_without_a_domain(
    mocks, resolve, engine_config, project_dir, monkeypatch
):
    engine_config({"openaiApiKey": "sk-x"}, secret_keys=("openaiApiKey",))
    exported = resolve(lambda: run_program(project_dir, monkeypatch))
    assert "dnsTarget" not in exported
    assert exported["executeApiUrl"] == exported["apiUrl"]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"customDomain": DOMAIN}, "customDomain='api.example.com' needs hostedZoneId"),
        ({"customDomain": "https://api.example.com", "hostedZoneId": ZONE}, "is a URL"),
        ({"customDomain": DOMAIN, "hostedZoneId": "zone-1"}, "hostedZoneId='zone-1' is not"),
        ({"customDomain": DOMAIN, "certificateArn": "arn:aws:acm:x"}, "is not an ACM certificate"),
        ({"hostedZoneId": ZONE}, "hostedZoneId='Z0123456789ABCDEFGHIJ' is set but customDomain"),
        ({"disableExecuteApiEndpoint": "true"}, "disableExecuteApiEndpoint=true is set but"),
    ],
)
def test_a_refused_domain_setting_stops_the_program_before_any_resource(
    mocks, engine_config, project_dir, monkeypatch, values, problem
):
    engine_config({"openaiApiKey": "sk-x", **values}, secret_keys=("openaiApiKey",))
    with pytest.raises(ConfigError, match=re.escape(problem)):
        pulumi.runtime.test(lambda: run_program(project_dir, monkeypatch))()
    assert mocks.resources == []
