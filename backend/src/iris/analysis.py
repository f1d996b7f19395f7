"""What an analyzer is and answers: the analysis, the protocol both analyzers (`iris.llm`,
`iris.offline`) follow, and the failure a client sees. Standard library only."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol


# A NamedTuple: a frozen dataclass costs every cold start about 0.7 ms to build.
class Analysis(NamedTuple):
    analysis: str
    model: str
    # False when the model stopped before the end (finish_reason "length"): answered, not cached.
    complete: bool = True


class Analyzer(Protocol):
    def prepare(self) -> None:
        """The one-time work of a container (at INIT when deployed); may raise, never required."""
        ...

    def analyze(self, text: str, deadline: float) -> Analysis:
        """The analysis of `text`, or AnalyzerError; `deadline` is a `time.monotonic()` value."""
        ...


class AnalyzerError(Exception):
    """A failure the client sees as `status`/`code`/`message`; `detail` is for the log only.

    `message` is written here, never copied from upstream: the LLM's error text can quote
    part of the API key or the request.
    """

    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
