"""IRIS analysis backend.

Kept empty on purpose: the authorizer imports `iris.*` helpers and must not pay for Flask.
The app factory lives in `iris.app`.
"""

from __future__ import annotations
