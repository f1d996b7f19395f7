"""POST /api/iris/analyze: validate the text, answer from the cache or the analyzer.

The analyzer and the cache live on the app (one per container). Deployed, their one-time
work (the LLM client, the AWS clients, the SSM key) is done while the app is built, at INIT
(`AnalysisService.prepare`); an offline local run builds nothing it does not use, so its
`/health` imports no SDK at all.

Each request gets a deadline when it starts: LLM_BUDGET_S, cut short when the Lambda
invocation has less time left (keeping LAMBDA_RESERVE_S to answer). The cache read, the
analyzer build (the SSM key) and every LLM attempt spend from it, so the client gets a JSON
504 instead of the gateway's bare 503 when time runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest

from iris.budget import Budget, BudgetExhausted, BudgetUnavailable, build_budget
from iris.cache import Cache, build_cache, cache_key
from iris.errors import ApiError
from iris.llm import (
    PROMPT_VERSION,
    Analysis,
    Analyzer,
    AnalyzerError,
    answer_identity,
    build_analyzer,
)
from iris.settings import LLM_BUDGET_S, Settings

__all__ = [
    "LAMBDA_RESERVE_S",
    "MAX_TEXT_CHARS",
    "SERVICE_EXTENSION",
    "AnalysisService",
    "analyze_bp",
    "request_deadline",
]

analyze_bp = Blueprint("analyze", __name__)
log = logging.getLogger("iris")

# About 5,000 tokens of English: enough for a long document, short of a runaway bill.
MAX_TEXT_CHARS = 20_000
SERVICE_EXTENSION = "iris.analysis"
# What a Lambda invocation keeps back from the LLM: time to map the failure, log and answer.
LAMBDA_RESERVE_S = 1.0


class AnalysisService:
    """The cache, the token budget and the analyzer of one app; the analyzer is built when
    first needed or by `prepare()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache: Cache | None = None,
        budget: Budget | None = None,
        analyzer_factory: Callable[[Settings], Analyzer] = build_analyzer,
    ) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else build_cache(settings)
        self.budget = budget if budget is not None else build_budget(settings)
        self._identity = answer_identity(settings)
        self._analyzer_factory = analyzer_factory
        self._analyzer: Analyzer | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """The container's one-time work, for INIT: the cache's client, the analyzer and its key.

        Never raises: whatever fails is logged and done again by the first request that needs
        it (the SSM key gets one short attempt here; a request makes two).
        """
        steps = (("cache", self.cache.prepare), ("analyzer", lambda: self.analyzer().prepare()))
        for step, prepare in steps:
            try:
                prepare()
            except AnalyzerError as error:
                log.warning(
                    "init step failed; the first request retries it",
                    extra={"step": step, "code": error.code, **error.detail},
                )
            except Exception as error:  # ImportError (no AWS SDK locally) and the unforeseen
                log.warning(
                    "init step failed; the first request retries it",
                    extra={"step": step, "error_type": type(error).__name__},
                )

    def analyze(self, text: str, deadline: float) -> tuple[Analysis, bool]:
        """(analysis, whether it came from the cache); only complete analyses are stored, so
        a cached one is complete by construction.

        `deadline` (a `time.monotonic()` value) is when the analyzer must have answered.
        A cached text is answered whatever the budget; an uncached one raises BudgetExhausted
        when its model call does not fit the day's budget, BudgetUnavailable when the budget's
        counter cannot reserve it.
        """
        key = cache_key(self._identity, text)
        lookup = self.cache.get(key)
        if lookup.entry is not None:
            return lookup.entry.as_analysis(), True
        with self.budget.spending(may_wait=lookup.writable) as spend:
            analysis = self.analyzer().analyze(text, deadline)
        if analysis.complete:
            self.cache.put(key, analysis, persist=lookup.writable and spend.may_wait)
        return analysis, False

    def analyzer(self) -> Analyzer:
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    self._analyzer = self._analyzer_factory(self.settings)
        return self._analyzer


def analysis_service() -> AnalysisService:
    return current_app.extensions[SERVICE_EXTENSION]


@analyze_bp.post("/api/iris/analyze")
def analyze() -> dict[str, Any]:
    deadline = request_deadline()
    text = _requested_text()
    try:
        analysis, cached = analysis_service().analyze(text, deadline)
    except AnalyzerError as error:
        # The detail (error type, upstream status and request id) is for the log only.
        # A missing or refused key needs the operator; the rest is the upstream's weather.
        needs_operator = error.code in ("llm_not_configured", "llm_auth_failed")
        level = logging.ERROR if needs_operator else logging.WARNING
        log.log(level, "analysis failed", extra={"code": error.code, **error.detail})
        raise ApiError(error.status, error.code, error.message) from None
    except (BudgetExhausted, BudgetUnavailable) as refusal:
        # One line per refused request: the stack counts the spent budget's and alarms on them.
        detail = (
            {"day_tokens": refusal.day_tokens, "budget": refusal.budget}
            if isinstance(refusal, BudgetExhausted)
            else {"reason": refusal.reason}
        )
        log.warning(
            "analysis refused",
            extra={"code": refusal.code, "retry_after_s": refusal.retry_after_s, **detail},
        )
        raise ApiError(
            refusal.status,
            refusal.code,
            refusal.message,
            {"Retry-After": str(refusal.retry_after_s)},
        ) from None
    # One line per answered analysis: the stack's dashboard counts cache hits from it.
    log.info(
        "analysis served",
        extra={"cached": cached, "model": analysis.model, "complete": analysis.complete},
    )
    return {
        "analysis": analysis.analysis,
        "model": analysis.model,
        "cached": cached,
        "complete": analysis.complete,
        "promptVersion": PROMPT_VERSION,
    }


def request_deadline() -> float:
    """The `time.monotonic()` by which this request's analysis must be done.

    Under Lambda (Mangum puts the context in the ASGI scope, which a2wsgi keeps in the
    environ) the invocation's remaining time caps LLM_BUDGET_S; elsewhere the budget stands.
    """
    now = time.monotonic()
    scope = request.environ.get("asgi.scope") or {}
    context = scope.get("aws.context")
    if context is None:
        return now + LLM_BUDGET_S
    remaining_s = context.get_remaining_time_in_millis() / 1000
    return now + min(LLM_BUDGET_S, remaining_s - LAMBDA_RESERVE_S)


def _requested_text() -> str:
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json).",
        )
    try:
        payload = request.get_json()
    except (BadRequest, RecursionError):
        # The parser recurses once per nesting level: deep nesting raises RecursionError, which
        # is no ValueError, so Flask lets it through (pitfall 40).
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ApiError(
            400, "invalid_field", 'The request body must be a JSON object like {"text": "..."}.'
        )
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(
            400, "invalid_field", "The field 'text' is required and must be a non-blank string."
        )
    if not _is_unicode(text):
        raise ApiError(
            400,
            "invalid_field",
            "The field 'text' holds a lone surrogate (\\ud800-\\udfff without its pair, as when "
            "an emoji is cut in two): send it as valid Unicode text.",
        )
    if len(text) > MAX_TEXT_CHARS:
        raise ApiError(
            400,
            "text_too_long",
            f"The field 'text' is {len(text):,} characters long; the limit is "
            f"{MAX_TEXT_CHARS:,} characters.",
        )
    return text


def _is_unicode(text: str) -> bool:
    """Whether UTF-8 can encode the text: JSON's "\\ud83d" escape alone decodes to a lone
    surrogate, which the cache key, the log and the LLM request would each fail to encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
