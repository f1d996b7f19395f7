"""SpendSense on AWS Lambda.

Deploys the backend's container image to ECR, the SQLite database to a private, versioned S3
bucket, the API function and (split deployment) one function per insight, each with a `live`
alias on its newest version and a role that reads only its logs and that one object,
an X-API-Key authorizer when apiKeys is set, an API Gateway HTTP API routing to the aliases, a
CloudWatch dashboard and, with alarmEmail, alarms that mail a person. The configuration is
validated before anything is declared.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi

# The shared components and SpendSense's infra code live at the repository's root, beside the
# project directory Pulumi runs this program in.
REPOSITORY_ROOT = str(Path(__file__).resolve().parent.parent)
if REPOSITORY_ROOT not in sys.path:
    sys.path.insert(0, REPOSITORY_ROOT)

from iris_infra.apps.spendsense.config import SpendSenseConfig  # noqa: E402
from iris_infra.apps.spendsense.stack import build_stack  # noqa: E402

for name, value in build_stack(SpendSenseConfig.from_pulumi()).exports().items():
    pulumi.export(name, value)
