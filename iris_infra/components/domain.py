"""The API on the team's own domain: an API Gateway custom domain name mapped to the $default
stage, with its certificate and DNS either managed here in a Route 53 zone or brought along.

- `hosted_zone_id` alone: an ACM certificate is requested for the name and DNS-validated in
  that zone, and the zone gets alias records (A and AAAA) for the name.
- `certificate_arn` alone: that certificate is used; the team's own DNS points the name at
  `dns_target`.
- both: that certificate is used, and the alias records are created in the zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# HTTP APIs take only REGIONAL custom domains, whose only security policy is TLS 1.2.
ENDPOINT_TYPE = "REGIONAL"
SECURITY_POLICY = "TLS_1_2"
# Reachable over IPv4 and IPv6, so the AAAA alias record has addresses behind it.
IP_ADDRESS_TYPE = "dualstack"
ALIAS_RECORD_TYPES = ("A", "AAAA")
# Only checked while ACM validates or renews; short, so a corrected record is seen soon.
VALIDATION_RECORD_TTL_SECONDS = 300


@dataclass(frozen=True)
class CustomDomainArgs:
    domain_name: str
    api_id: pulumi.Input[str]
    # The stage to serve; an Output of the stage itself, so the mapping waits for it.
    stage_name: pulumi.Input[str]
    # Carried by the domain name and a certificate requested for it (StackNames.tags).
    tags: Mapping[str, str]
    hosted_zone_id: str | None = None
    certificate_arn: str | None = None

    def __post_init__(self) -> None:
        if self.hosted_zone_id is None and self.certificate_arn is None:
            raise ValueError(
                f"custom domain {self.domain_name!r} needs a hosted zone id or a certificate ARN"
            )


class CustomDomain(pulumi.ComponentResource):
    url: pulumi.Output[str]
    # The regional host name the domain's DNS record must point at.
    dns_target: pulumi.Output[str]
    certificate_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CustomDomainArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:CustomDomain", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        certificate_arn = (
            pulumi.Output.from_input(args.certificate_arn)
            if args.certificate_arn is not None
            else self._validated_certificate(name, args.domain_name, args.hosted_zone_id, args.tags)
        )

        # The name API Gateway answers for, with the certificate it presents.
        domain = aws.apigatewayv2.DomainName(
            f"{name}-domain-name",
            domain_name=args.domain_name,
            domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                certificate_arn=certificate_arn,
                endpoint_type=ENDPOINT_TYPE,
                security_policy=SECURITY_POLICY,
                ip_address_type=IP_ADDRESS_TYPE,
            ),
            tags=dict(args.tags),
            opts=child,
        )
        configuration = domain.domain_name_configuration

        # Sends every request for the domain, whatever its path, to this API's $default stage.
        mapping = aws.apigatewayv2.ApiMapping(
            f"{name}-api-mapping",
            api_id=args.api_id,
            domain_name=domain.id,
            stage=args.stage_name,
            opts=child,
        )

        if args.hosted_zone_id is not None:
            for record_type in ALIAS_RECORD_TYPES:
                # Points the name at the regional endpoint; an alias has no TTL of its own, and
                # Route 53 answers it for free.
                aws.route53.Record(
                    f"{name}-alias-{record_type.lower()}",
                    zone_id=args.hosted_zone_id,
                    name=domain.domain_name,
                    type=record_type,
                    aliases=[
                        aws.route53.RecordAliasArgs(
                            name=configuration.target_domain_name,
                            zone_id=configuration.hosted_zone_id,
                            evaluate_target_health=False,
                        )
                    ],
                    opts=child,
                )

        self.certificate_arn = certificate_arn
        self.dns_target = configuration.target_domain_name
        # Known once the mapping exists: from then on the domain serves this API.
        self.url = mapping.domain_name.apply(lambda host: f"https://{host}")
        self.register_outputs(
            {
                "url": self.url,
                "dns_target": self.dns_target,
                "certificate_arn": self.certificate_arn,
            }
        )

    def _validated_certificate(
        self, name: str, domain_name: str, hosted_zone_id: str | None, tags: Mapping[str, str]
    ) -> pulumi.Output[str]:
        """A new ACM certificate for `domain_name`, validated through a record in the zone;
        its ARN is an output of the validation, so whatever uses it waits until it is issued."""
        child = pulumi.ResourceOptions(parent=self)

        # A free public certificate for the one name; DNS validation also lets ACM renew it.
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=domain_name,
            validation_method="DNS",
            tags=dict(tags),
            opts=child,
        )
        # A certificate for one name has one validation option.
        option = certificate.domain_validation_options[0]

        # Proves to ACM that the zone's owner asked for the certificate. ACM gives every
        # certificate for this name in this account the same record, so one left by an
        # earlier certificate is taken over rather than failing the deploy.
        record = aws.route53.Record(
            f"{name}-validation-record",
            zone_id=hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=VALIDATION_RECORD_TTL_SECONDS,
            allow_overwrite=True,
            opts=child,
        )

        # Waits until ACM has seen the record and issued the certificate.
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )
        return validation.certificate_arn
