"""POST /api/iris/analyze."""

from __future__ import annotations

from flask import Blueprint

analyze_bp = Blueprint("analyze", __name__)
