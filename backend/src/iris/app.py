"""The IRIS analysis API: a Flask app built by `create_app(settings)`."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, g, request

from iris.analyze import SERVICE_EXTENSION, AnalysisService, analyze_bp
from iris.errors import register_error_handlers
from iris.health import health_bp
from iris.logs import configure_logging, request_id_var
from iris.settings import SETTINGS_EXTENSION, Settings, current_settings

__all__ = ["REQUEST_ID_HEADER", "Settings", "create_app", "current_settings"]

REQUEST_ID_HEADER = "X-Request-Id"
log = logging.getLogger("iris")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions[SETTINGS_EXTENSION] = settings

    service = AnalysisService(settings)
    app.extensions[SERVICE_EXTENSION] = service
    # Deployed, the one-time work runs now, at INIT, where Lambda gives the CPU a burst; an
    # offline local run has none, and its /health imports no SDK.
    if settings.llm_provider == "openai" or settings.cache_table:
        service.prepare()

    app.register_blueprint(health_bp)
    app.register_blueprint(analyze_bp)
    register_error_handlers(app)
    app.before_request(_assign_request_id)
    if settings.require_authorizer:
        # Imported only here: a stack without apiKeys never loads it.
        from iris.authorizer_context import require_authorizer_context

        # After the request id, so that the 401 and its log line carry it.
        app.before_request(require_authorizer_context)
    app.after_request(_tag_and_log_response)
    return app


def _assign_request_id() -> None:
    # a2wsgi keeps the ASGI scope in the environ, and Mangum puts the Lambda context there.
    scope = request.environ.get("asgi.scope") or {}
    context = scope.get("aws.context")
    g.request_id = getattr(context, "aws_request_id", None) or uuid.uuid4().hex
    request_id_var.set(g.request_id)


def _tag_and_log_response(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    log.info(
        "request",
        extra={"method": request.method, "path": request.path, "status": response.status_code},
    )
    return response
