"""The log redaction: a secret the process has read is masked in every record, on every handler.

Each case logs through a real logger to real handlers (the app's JSON one, and a plain one on
the root logger as the Lambda runtime installs) and reads what they wrote.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from iris.logs import (
    REDACTED,
    JsonFormatter,
    SecretRedactor,
    configure_logging,
    forget_secrets,
    install_redaction,
    redact,
    register_secret,
)

SECRET = "sk-proj-R3dactMe0nly4Tests9f8e7d6c5b4a3210"
# Stored with a header injection: an exception's repr shows it escaped, never raw.
INJECTED = f"{SECRET}\r\nX-Header: x"


@pytest.fixture(autouse=True)
def no_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger with the app's JSON handler, and a plain handler on the root logger."""
    json_out, root_out = io.StringIO(), io.StringIO()
    logger = logging.getLogger("redaction_test")
    json_handler = logging.StreamHandler(json_out)
    json_handler.setFormatter(JsonFormatter())
    logger.addHandler(json_handler)
    root_handler = logging.StreamHandler(root_out)
    root_handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(event)s"))
    root = logging.getLogger()
    root.addHandler(root_handler)
    logger.setLevel(logging.INFO)
    install_redaction(logger)
    yield logger, json_out, root_out
    logger.removeHandler(json_handler)
    root.removeHandler(root_handler)


def test_a_registered_secret_is_masked_in_the_message_args_extra_and_traceback(
    written: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, json_out, root_out = written
    register_secret(INJECTED)

    try:
        # What http.client raises for a header value with CR/LF: the repr escapes them.
        raise ValueError(f"Invalid header value {('Bearer ' + INJECTED).encode()!r}")
    except ValueError:
        logger.exception(
            "failed with %s",
            SECRET,
            extra={
                "event": f"key={SECRET}",
                "detail": {"key": INJECTED},
                "attempts": 2,
                "flag": None,
            },
        )

    (line,) = json_out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == f"failed with {REDACTED}"
    assert entry["event"] == f"key={REDACTED}"
    assert REDACTED in entry["detail"] and SECRET not in entry["detail"]
    assert (entry["attempts"], entry["flag"]) == (2, None)
    assert "ValueError: Invalid header value" in entry["exception"]
    assert REDACTED in entry["exception"]
    everything = json_out.getvalue() + root_out.getvalue()
    assert SECRET not in everything and SECRET[-8:] not in everything
    # The plain handler of the root logger got the traceback, masked as well.
    assert "Traceback" in root_out.getvalue() and REDACTED in root_out.getvalue()


def test_nothing_is_masked_before_a_secret_is_read(
    written: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, json_out, _ = written

    logger.info("plain %s", SECRET)

    assert json.loads(json_out.getvalue())["message"] == f"plain {SECRET}"


def test_short_values_and_runs_are_not_masked() -> None:
    """A key shorter than 8 characters would mask ordinary words; no real key is that short."""
    register_secret("key-1")
    register_secret(f"abc\r\n{SECRET}")

    assert redact("key-1 abc") == "key-1 abc"
    assert redact(f"x {SECRET} y") == f"x {REDACTED} y"


def test_the_whole_value_is_masked_before_its_runs() -> None:
    register_secret(INJECTED)

    assert redact(INJECTED) == REDACTED
    assert redact(repr(INJECTED)) == f"'{REDACTED}\\r\\n{REDACTED} x'"


def test_configure_logging_puts_the_filter_on_every_handler_in_reach() -> None:
    root = logging.getLogger()
    runtime_handler = logging.StreamHandler(io.StringIO())
    root.addHandler(runtime_handler)
    try:
        logger = configure_logging("INFO")
        handlers = [*logger.handlers, runtime_handler, logging.lastResort]
        configure_logging("INFO")
    finally:
        root.removeHandler(runtime_handler)

    for handler in handlers:
        assert handler is not None
        redactors = [f for f in handler.filters if isinstance(f, SecretRedactor)]
        assert len(redactors) == 1, handler
