"""What a stack's IAM policies depend on, read from its plan: the resource types it declares,
the provider functions it invokes, its functions' names, the principals its invoke permissions
name, its region, and its custom domain and hosted zone (stack_check.deployer_policy)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iris_infra.components.names import StackNames
from iris_infra.config.errors import ConfigError
from stack_check.check import PROGRAMS, Program
from stack_check.files import SECRET_PLACEHOLDER, StackFileError, read_engine_config
from stack_check.plan import PlannedResource
from stack_check.plan import run_program as run_under_mocks

# Every secret a program's stack can hold: planned as set, so the policy covers the parts they
# add (the authorizer) whether or not the stack file has them yet.
PROGRAM_SECRETS = {"iris": ("openaiApiKey", "apiKeys"), "spendsense": ("apiKeys",)}


class PolicyError(ValueError):
    """The stack cannot be planned, so no policy can be made for it."""


@dataclass(frozen=True)
class StackFacts:
    """What the policy depends on, read from the stack's plan."""

    names: StackNames
    # The Pulumi project, under which the state backend keeps the stack.
    project: str
    region: str
    types: frozenset[str]
    calls: frozenset[str]
    # The names of its functions, which every function-scoped ARN covers.
    functions: tuple[str, ...]
    # The principals its invoke permissions name (apigateway.amazonaws.com, ...).
    invoke_principals: tuple[str, ...]
    custom_domain: str | None = None
    hosted_zone_id: str | None = None


def plan_stack(program_name: str, stack: str, project_dir: Path | None = None) -> StackFacts:
    """The stack's facts, from a run of its program under the mocks with every secret set."""
    program: Program = PROGRAMS[program_name]
    directory = project_dir or program.directory
    try:
        engine = read_engine_config(stack, directory)
    except StackFileError as error:
        raise PolicyError(str(error)) from None
    problems = [*engine.problems, *program.unread_key_problems(engine.values)]
    if problems:
        raise PolicyError("; ".join(problems))
    values = dict(engine.values)
    secret_keys = set(engine.secret_keys)
    for key in PROGRAM_SECRETS[program_name]:
        values.setdefault(f"{program.project}:{key}", SECRET_PLACEHOLDER)
        secret_keys.add(f"{program.project}:{key}")
    try:
        plan = run_under_mocks(
            directory, stack, values, tuple(sorted(secret_keys)), project=program.project
        )
    except ConfigError as error:
        raise PolicyError("; ".join(error.problems)) from None
    return facts_of(
        StackNames(program_name, stack),
        program.project,
        plan.resources,
        plan.calls,
        values.get("aws:region"),
    )


def facts_of(
    names: StackNames,
    project: str,
    resources: Iterable[PlannedResource],
    calls: Iterable[str],
    region: str | None,
) -> StackFacts:
    """What the policy depends on, from the resources a plan declares and the provider
    functions it invokes."""
    resources = list(resources)

    def inputs(type_: str) -> list[dict[str, Any]]:
        return [r.inputs for r in resources if r.type == type_]

    domains = inputs("aws:apigatewayv2/domainName:DomainName")
    zones = {i["zoneId"] for i in inputs("aws:route53/record:Record")}
    return StackFacts(
        names=names,
        project=project,
        # Without aws:region, the provider deploys to the region of its environment.
        region=region or "*",
        types=frozenset(r.type for r in resources),
        calls=frozenset(calls),
        functions=tuple(sorted(i["name"] for i in inputs("aws:lambda/function:Function"))),
        invoke_principals=tuple(
            sorted({i["principal"] for i in inputs("aws:lambda/permission:Permission")})
        ),
        custom_domain=domains[0]["domainName"] if domains else None,
        hosted_zone_id=min(zones) if zones else None,
    )
