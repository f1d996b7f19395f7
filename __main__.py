"""IRIS on AWS Lambda.

Deploys the backend's container image to ECR (or a pinned digest of it), its secrets to SSM, a
DynamoDB analysis cache, the API function with a `live` alias on its newest version (plus an
X-API-Key authorizer when apiKeys is set), an API Gateway HTTP API in front of the alias, an
optional warm-up schedule, a CloudWatch dashboard, alarms that mail a person with alarmEmail and,
with customDomain, the API on the team's own domain. The configuration is validated before
anything is declared.
"""

from __future__ import annotations

import pulumi

from iris_infra import StackConfig, build_stack

config = StackConfig.from_pulumi()
outputs = build_stack(config)

pulumi.export("apiUrl", outputs.api_url)
pulumi.export("healthUrl", outputs.health_url)
pulumi.export("analyzeUrl", outputs.analyze_url)
pulumi.export("functionName", outputs.function_name)
pulumi.export("imageUri", outputs.image_uri)
pulumi.export("corsOrigins", outputs.cors_origins)
pulumi.export("liveVersion", outputs.live_version)
pulumi.export("dashboardUrl", outputs.dashboard_url)
pulumi.export("executeApiUrl", outputs.execute_api_url)
if outputs.dns_target is not None:
    pulumi.export("dnsTarget", outputs.dns_target)
