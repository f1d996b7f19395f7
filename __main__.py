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

for name, value in build_stack(StackConfig.from_pulumi()).exports().items():
    pulumi.export(name, value)
