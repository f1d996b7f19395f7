"""Physical names: every one a stack declares carries its program and its stack
(`iris-dev-cache`, `/iris/dev/openai-api-key`), so an IAM policy can tell one stack from another.

The program names its resources from a StackNames, and the deployer's policy and the functions'
permissions boundary (stack_check.deployer_policy) scope their ARNs by the same object: the two
cannot drift apart. A stack name is one lower-case word (letters and digits): with a '-' in it,
`iris-dev-*` would also match `iris-dev-eu-…`, and one stack's role would reach another's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The tag the HTTP API, its stage, a custom domain and its certificate carry: what the
# deployer's policy scopes API Gateway and ACM by, whose ids AWS generates.
STACK_TAG = "stack"
STACK_NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*")


def slug(text: str) -> str:
    """Lower-case letters and digits joined by single dashes: "GET /api/{proxy+}" ->
    "get-api-proxy", "net_worth" -> "net-worth"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class StackNames:
    """The names of one stack of one program (`app`: iris, spendsense)."""

    app: str
    stack: str

    @property
    def prefix(self) -> str:
        """`<app>-<stack>`: what every name that cannot hold a '/' starts with."""
        return f"{self.app}-{self.stack}"

    def function(self, part: str | None = None) -> str:
        """A function's name: the prefix alone, or `<prefix>-<part>`; its role has the same."""
        return self.prefix if part is None else f"{self.prefix}-{slug(part)}"

    @property
    def path(self) -> str:
        """`/<app>/<stack>/`: the IAM path of the stack's roles, the folder of its parameters."""
        return f"/{self.app}/{self.stack}/"

    @property
    def parameter_prefix(self) -> str:
        return self.path.rstrip("/")

    @property
    def cache_table(self) -> str:
        return f"{self.prefix}-cache"

    @property
    def repository(self) -> str:
        return self.prefix

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    def alarm(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def rule(self, part: str) -> str:
        return f"{self.prefix}-{slug(part)}"

    def data_bucket(self, account_id: str) -> str:
        """Bucket names are global: the account keeps two accounts' stacks apart."""
        return f"{self.prefix}-data-{account_id}"

    @property
    def boundary_policy(self) -> str:
        """The managed policy every role of the stack carries as its permissions boundary."""
        return f"{self.prefix}-function-boundary"

    def boundary_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:policy/{self.boundary_policy}"

    @property
    def tags(self) -> dict[str, str]:
        return {STACK_TAG: self.prefix}
