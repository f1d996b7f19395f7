"""The real program file, spendsense/__main__.py, as `pulumi up` runs it for the dev stack (its
committed settings, the sample database, secret apiKeys), under the plan's mocks."""

from __future__ import annotations

import json

import pytest
import yaml

from iris_infra.apps.spendsense.config import PROGRAM_DIR, PROJECT
from iris_infra.apps.spendsense.routes import INSIGHT_PATHS
from iris_infra.config.errors import ConfigError
from stack_check.files import read_engine_config
from stack_check.plan import is_secret_value, run_program
from tests.infra.conftest import API_KEYS_SENTINEL
from tests.spendsense_infra.conftest import DATA_SENTINEL, OUTPUT_NAMES


def dev_config(**settings: str) -> dict[str, str]:
    """The dev stack's config as the CLI hands it over, with `settings` on top."""
    engine = read_engine_config("dev", PROGRAM_DIR)
    assert engine.problems == ()
    return {**engine.values, **{f"{PROJECT}:{key}": value for key, value in settings.items()}}


@pytest.fixture(scope="module")
def plan(database_file):
    config = dev_config(databaseFile=str(database_file), apiKeys=API_KEYS_SENTINEL)
    return run_program(PROGRAM_DIR, "dev", config, (f"{PROJECT}:apiKeys",), project=PROJECT)


def test_the_program_is_the_spendsense_project():
    project = yaml.safe_load((PROGRAM_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == PROJECT == "spendsense-infra"


def test_the_program_exports_exactly_the_contract_outputs(plan):
    assert set(plan.outputs) == OUTPUT_NAMES
    values = {name: value for name, (value, _) in plan.outputs.items()}
    assert not any(secret for _, secret in plan.outputs.values())
    assert set(values["functionNames"]) == {"api", *INSIGHT_PATHS}
    assert values["healthUrl"] == values["apiUrl"] + "/health"
    assert values["databaseKey"] == "spendsense.db"
    # Bucket names are global: the stack's, in its account (the plan's).
    assert values["databaseBucket"] == "spendsense-dev-data-123456789012"
    assert len(values["databaseVersion"]) == 32
    assert plan.warnings == ()


def test_the_programs_plan_holds_the_api_keys_only_in_their_parameter(plan):
    parameters = [r for r in plan.resources if r.type == "aws:ssm/parameter:Parameter"]
    assert [is_secret_value(p.inputs["value"]) for p in parameters] == [True]
    others = json.dumps([r.inputs for r in plan.resources if r not in parameters], default=str)
    assert not any(key in others for key in API_KEYS_SENTINEL.split(","))
    assert DATA_SENTINEL not in others
    # The dev stack's region from its file, and its CORS origins on the API.
    api = next(r for r in plan.resources if r.type == "aws:apigatewayv2/api:Api")
    assert api.inputs["corsConfiguration"]["allowOrigins"] == [
        "http://localhost:5173",
        "http://127.0.0.1:5173",
    ]
    assert ".execute-api.us-east-1." in plan.outputs["apiUrl"][0]


def test_a_refused_config_stops_the_program_with_its_reason(database_file):
    config = dev_config(databaseFile=str(database_file), timeoutSeconds="300")
    with pytest.raises(ConfigError, match="timeoutSeconds=300 is above 30") as caught:
        run_program(PROGRAM_DIR, "dev", config, project=PROJECT)
    assert "Function URL" in str(caught.value)
