"""SpendSense on AWS Lambda.

Deploys the backend's container image to ECR, the SQLite database to a private, versioned S3
bucket, the API function and (split deployment) one function per insight, each with a `live`
alias on its newest version and a role that reads only its logs and that one object,
an X-API-Key authorizer when apiKeys is set, an API Gateway HTTP API routing to the aliases, a
CloudWatch dashboard and, with alarmEmail, alarms that mail a person. The configuration is
validated before anything is declared.
"""

from __future__ import annotations

import pulumi

from iris_infra.apps.spendsense.config import SpendSenseConfig
from iris_infra.apps.spendsense.stack import build_stack

for name, value in build_stack(SpendSenseConfig.from_pulumi()).exports().items():
    pulumi.export(name, value)
