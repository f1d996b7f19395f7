"""`lambda_kit.parameters`: SSM SecureStrings through the real boto3 client against moto.

What happens when SSM misbehaves on the network (refused, silent, 5xx, throttled, a 200 that
is not JSON) is in test_faults.py, against real servers on loopback.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from iris.logs import REDACTED, configure_logging, redact
from lambda_kit import aws
from lambda_kit.parameters import (
    INIT_ATTEMPTS,
    REQUEST_ATTEMPTS,
    SecureParameterError,
    forget_secure_parameters,
    read_secure_parameter,
)

NAME = "/iris/test/openai-api-key"
VALUE = "sk-test-5f3c0e1d9a7b4c2e8f6a1b3d5c7e9f0a"


@pytest.fixture
def ssm() -> Iterator[Any]:
    forget_secure_parameters()
    aws.forget_clients()
    with mock_aws():
        client = boto3.client("ssm", region_name="eu-west-1")
        client.put_parameter(Name=NAME, Value=VALUE, Type="SecureString")
        yield client
    forget_secure_parameters()
    aws.forget_clients()


def rotate(ssm: Any, value: str, name: str = NAME) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def test_reads_the_decrypted_value(ssm: Any) -> None:
    assert read_secure_parameter(NAME) == VALUE


@pytest.mark.parametrize("stored", [f"{VALUE}\n", f"{VALUE}\r\n", f" \t{VALUE}\t "])
def test_a_value_is_stripped_and_masked_in_logs_once_read(ssm: Any, stored: str) -> None:
    """`put-parameter --value file://key.txt` keeps the file's newline (pitfall 37)."""
    rotate(ssm, stored)
    assert redact(VALUE) == VALUE, "nothing is masked before the value is read"

    assert read_secure_parameter(NAME) == VALUE
    assert redact(f"key={VALUE}") == f"key={REDACTED}"


def test_a_value_is_trusted_for_its_max_age_then_read_again(ssm: Any) -> None:
    assert read_secure_parameter(NAME, max_age_s=0.3) == VALUE
    rotate(ssm, "sk-rotated")

    assert [read_secure_parameter(NAME, max_age_s=0.3) for _ in range(20)] == [VALUE] * 20
    time.sleep(0.35)
    assert read_secure_parameter(NAME, max_age_s=0.3) == "sk-rotated"


def test_fresh_reads_now_whatever_the_age(ssm: Any) -> None:
    assert read_secure_parameter(NAME) == VALUE
    rotate(ssm, "sk-rotated")

    assert read_secure_parameter(NAME) == VALUE
    assert read_secure_parameter(NAME, fresh=True) == "sk-rotated"
    assert read_secure_parameter(NAME) == "sk-rotated"


def test_forgetting_reads_again_as_a_new_container_would(ssm: Any) -> None:
    assert read_secure_parameter(NAME) == VALUE
    rotate(ssm, "sk-rotated")

    forget_secure_parameters()

    assert read_secure_parameter(NAME) == "sk-rotated"


def test_a_missing_parameter_raises_a_named_error_and_is_retried(ssm: Any) -> None:
    with pytest.raises(SecureParameterError) as raised:
        read_secure_parameter("/iris/test/missing")
    assert raised.value.reason == "ParameterNotFound"
    assert "/iris/test/missing" in str(raised.value)

    ssm.put_parameter(Name="/iris/test/missing", Value="now-there", Type="SecureString")
    assert read_secure_parameter("/iris/test/missing") == "now-there"


def test_past_its_age_a_value_is_not_served_when_the_read_fails(ssm: Any) -> None:
    """The age bounds how long a value is trusted: a deleted (revoked) key is not kept alive
    by an SSM that can no longer confirm it."""
    assert read_secure_parameter(NAME, max_age_s=0.2) == VALUE
    ssm.delete_parameter(Name=NAME)
    time.sleep(0.25)

    with pytest.raises(SecureParameterError, match="ParameterNotFound"):
        read_secure_parameter(NAME, max_age_s=0.2)
    with pytest.raises(SecureParameterError, match="ParameterNotFound"):
        read_secure_parameter(NAME, max_age_s=3600)


def test_an_access_error_names_the_code_and_never_the_value(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an error whose text carries the value must not pass it on."""
    client = aws.client("ssm")

    def get_parameter(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": f"denied {VALUE}"}},
            "GetParameter",
        )

    monkeypatch.setattr(client, "get_parameter", get_parameter)

    with pytest.raises(SecureParameterError) as raised:
        read_secure_parameter(NAME)

    assert raised.value.reason == "AccessDeniedException"
    # No chained exception either: the ClientError's text would travel with it into a log.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__
    assert VALUE not in str(raised.value) and VALUE not in repr(raised.value)


def test_without_the_sdk_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_secure_parameters()
    aws.forget_clients()
    for module in ("boto3", "botocore", "botocore.session", "botocore.exceptions"):
        monkeypatch.setitem(sys.modules, module, None)

    with pytest.raises(SecureParameterError, match="the AWS SDK is not installed") as error:
        read_secure_parameter(NAME)

    assert error.value.name == NAME


def test_one_session_serves_every_client(ssm: Any) -> None:
    ssm_client, dynamodb_client = aws.client("ssm"), aws.client("dynamodb")

    assert aws.client("ssm") is ssm_client
    assert aws._session is not None
    assert ssm_client.meta.config.retries["total_max_attempts"] == 1
    assert dynamodb_client.meta.config.retries["total_max_attempts"] == 1


def test_a_stuck_ssm_read_cannot_outlast_init_or_the_gateway(ssm: Any) -> None:
    """botocore's defaults (60 s timeouts and retries) would outlive API Gateway's 30 s, and
    Lambda's 10 s INIT."""
    config = aws.client("ssm").meta.config
    per_attempt = config.connect_timeout + config.read_timeout

    assert per_attempt * INIT_ATTEMPTS <= 3
    assert per_attempt * REQUEST_ATTEMPTS <= 6


def test_a_debug_root_logger_never_sees_the_value_botocore_received(ssm: Any) -> None:
    """At DEBUG botocore logs response bodies before the value can be registered for masking;
    the app keeps botocore at INFO (AWS_LAMBDA_LOG_LEVEL=DEBUG sets the root logger so)."""
    root = logging.getLogger()
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    saved_level, botocore_level = root.level, logging.getLogger("botocore").level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        configure_logging("INFO")
        forget_secure_parameters()
        assert read_secure_parameter(NAME, fresh=True) == VALUE
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        logging.getLogger("botocore").setLevel(botocore_level)
    assert VALUE not in written.getvalue()
    assert VALUE[:16] not in written.getvalue()
