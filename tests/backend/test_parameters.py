"""`read_secure_parameter`: SSM SecureStrings through the real boto3 client against moto."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from iris.parameters import SecureParameterError, read_secure_parameter

NAME = "/iris/test/openai-api-key"
VALUE = "sk-test-5f3c0e1d9a7b4c2e8f6a1b3d5c7e9f0a"


@pytest.fixture
def ssm() -> Iterator[Any]:
    read_secure_parameter.cache_clear()
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-1")
        client.put_parameter(Name=NAME, Value=VALUE, Type="SecureString")
        yield client
    read_secure_parameter.cache_clear()


def test_reads_the_decrypted_value(ssm: Any) -> None:
    assert read_secure_parameter(NAME) == VALUE


def test_reads_once_per_container_until_the_cache_is_cleared(ssm: Any) -> None:
    assert read_secure_parameter(NAME) == VALUE
    ssm.put_parameter(Name=NAME, Value="sk-rotated", Type="SecureString", Overwrite=True)

    assert [read_secure_parameter(NAME) for _ in range(20)] == [VALUE] * 20
    read_secure_parameter.cache_clear()
    assert read_secure_parameter(NAME) == "sk-rotated"


def test_a_missing_parameter_raises_a_named_error_and_is_retried(ssm: Any) -> None:
    with pytest.raises(SecureParameterError) as raised:
        read_secure_parameter("/iris/test/missing")
    assert raised.value.reason == "ParameterNotFound"
    assert "/iris/test/missing" in str(raised.value)

    ssm.put_parameter(Name="/iris/test/missing", Value="now-there", Type="SecureString")
    assert read_secure_parameter("/iris/test/missing") == "now-there"


def test_an_access_error_names_the_code_and_never_the_value(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an error whose text carries the value must not pass it on."""
    real_client = boto3.client

    def denying_client(service: str, **kwargs: Any) -> Any:
        client = real_client(service, **kwargs)

        def get_parameter(**_: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": f"denied {VALUE}"}},
                "GetParameter",
            )

        client.get_parameter = get_parameter
        return client

    monkeypatch.setattr(boto3, "client", denying_client)

    with pytest.raises(SecureParameterError) as raised:
        read_secure_parameter(NAME)

    assert raised.value.reason == "AccessDeniedException"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert VALUE not in str(raised.value) and VALUE not in repr(raised.value)


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    read_secure_parameter.cache_clear()
    monkeypatch.setitem(sys.modules, "boto3", None)

    with pytest.raises(SecureParameterError, match="boto3 is not installed") as error:
        read_secure_parameter(NAME)

    assert error.value.name == NAME


def test_a_stuck_ssm_read_cannot_outlast_the_gateway(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's defaults (60 s timeouts and retries) would outlive API Gateway's 30 s."""
    configs = []
    real_client = boto3.client

    def recording_client(service: str, **kwargs: Any) -> Any:
        configs.append(kwargs.get("config"))
        return real_client(service, **kwargs)

    monkeypatch.setattr(boto3, "client", recording_client)

    assert read_secure_parameter(NAME) == VALUE
    (config,) = configs
    # botocore normalises the retry setting to the total number of attempts.
    attempts = config.retries["total_max_attempts"]
    assert (config.connect_timeout + config.read_timeout) * attempts <= 6
