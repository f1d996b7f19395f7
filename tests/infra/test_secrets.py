"""Secrets: config secrets become SSM SecureStrings under the stack's prefix."""

from __future__ import annotations

from iris_infra.components.secrets import Secrets, SecretsArgs

PARAMETER = "aws:ssm/parameter:Parameter"


def build(resolve, api_keys=None, openai_api_key="sk-one"):
    def program():
        secrets = Secrets(
            "sec",
            SecretsArgs(
                parameter_prefix="/iris/dev", openai_api_key=openai_api_key, api_keys=api_keys
            ),
        )
        return {
            "openai_name": secrets.openai_api_key_parameter_name,
            "openai_arn": secrets.openai_api_key_parameter_arn,
            "api_keys_name": secrets.api_keys_parameter_name,
            "api_keys_arn": secrets.api_keys_parameter_arn,
        }

    return resolve(program)


def test_the_openai_key_is_a_secure_string_parameter(mocks, resolve):
    outputs = build(resolve)
    parameter = mocks.resource(PARAMETER, "sec-openai-api-key")
    assert parameter.inputs["name"] == "/iris/dev/openai-api-key"
    assert parameter.inputs["type"] == "SecureString"
    assert parameter.inputs["tier"] == "Standard"
    assert mocks.plain(parameter.inputs["value"]) == "sk-one"
    assert outputs["openai_name"] == "/iris/dev/openai-api-key"
    assert outputs["openai_arn"].endswith(":parameter/iris/dev/openai-api-key")


def test_no_api_keys_parameter_without_api_keys(mocks, resolve):
    outputs = build(resolve)
    assert [p.name for p in mocks.of_type(PARAMETER)] == ["sec-openai-api-key"]
    assert outputs["api_keys_name"] is None and outputs["api_keys_arn"] is None


def test_api_keys_get_their_own_secure_string(mocks, resolve):
    outputs = build(resolve, api_keys="k1,k2")
    parameter = mocks.resource(PARAMETER, "sec-api-keys")
    assert parameter.inputs["name"] == "/iris/dev/api-keys"
    assert parameter.inputs["type"] == "SecureString"
    assert mocks.plain(parameter.inputs["value"]) == "k1,k2"
    assert outputs["api_keys_name"] == "/iris/dev/api-keys"
    assert outputs["api_keys_arn"].endswith(":parameter/iris/dev/api-keys")
