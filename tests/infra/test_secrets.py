"""Secrets: any named config secrets become SSM SecureStrings under the stack's prefix, one each,
with their parameters' names, ARNs and versions by secret name."""

from __future__ import annotations

import pytest

from iris_infra.components.secrets import Secrets, SecretsArgs, SecretValue

PARAMETER = "aws:ssm/parameter:Parameter"


def build(resolve, secrets: dict[str, str]):
    def program():
        component = Secrets(
            "sec",
            SecretsArgs(
                parameter_prefix="/app/dev",
                secrets={
                    name: SecretValue(value, f"the {name} of the app")
                    for name, value in secrets.items()
                },
            ),
        )
        return {
            name: {"name": parameter.name, "arn": parameter.arn, "version": parameter.version}
            for name, parameter in component.parameters.items()
        }

    return resolve(program)


@pytest.mark.parametrize(
    "secrets",
    [
        {"openai-api-key": "sk-one"},
        {"openai-api-key": "sk-one", "api-keys": "k1,k2"},
        {"api-keys": "k1,k2"},
        {"webhook-token": "w-1", "db-password": "p-2", "signing-key-2": "s-3"},
        {},
    ],
    ids=["one", "iris-with-keys", "keys-alone", "any-names", "none"],
)
def test_each_named_secret_is_a_secure_string_of_its_own(mocks, resolve, secrets):
    outputs = build(resolve, secrets)

    assert sorted(parameter.name for parameter in mocks.of_type(PARAMETER)) == sorted(
        f"sec-{name}" for name in secrets
    )
    assert list(outputs) == list(secrets)
    for name, value in secrets.items():
        parameter = mocks.resource(PARAMETER, f"sec-{name}")
        assert parameter.inputs["name"] == f"/app/dev/{name}"
        assert parameter.inputs["type"] == "SecureString"
        assert parameter.inputs["tier"] == "Standard"
        assert parameter.inputs["description"] == f"the {name} of the app"
        assert mocks.plain(parameter.inputs["value"]) == value
        assert outputs[name]["name"] == f"/app/dev/{name}"
        assert outputs[name]["arn"].endswith(f":parameter/app/dev/{name}")
        assert isinstance(outputs[name]["version"], int)


def test_a_value_is_never_in_another_secrets_parameter(mocks, resolve):
    build(resolve, {"first": "value-one-5c1e", "second": "value-two-9a4f"})

    second = mocks.resource(PARAMETER, "sec-second")
    assert "value-one-5c1e" not in str(mocks.plain(second.inputs))


@pytest.mark.parametrize("name", ["OpenAI", "api_keys", "-keys", "keys-", "a--b", "", "a/b"])
def test_a_name_that_cannot_name_a_parameter_is_refused(mocks, resolve, name):
    with pytest.raises(ValueError, match=f"secret name {name!r} cannot name a parameter"):
        build(resolve, {name: "value"})
    assert mocks.of_type(PARAMETER) == []
