"""Health routes: no network, no secret, no SDK import — they answer from memory."""

from __future__ import annotations

from flask import Blueprint

from iris.offline import OFFLINE_MODEL
from iris.settings import current_settings

health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@health_bp.get("/api/iris/health")
def iris_health() -> dict[str, object]:
    settings = current_settings()
    return {
        "status": "ok",
        "provider": settings.llm_provider,
        "model": settings.openai_model if settings.llm_provider == "openai" else OFFLINE_MODEL,
        "llmConfigured": settings.llm_provider == "offline" or settings.openai_configured,
        "cache": "dynamodb" if settings.cache_table else "memory",
    }
