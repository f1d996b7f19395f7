"""A local stand-in for the deployed API Gateway HTTP API, in front of the real Lambda handler.

Each HTTP request becomes the payload 2.0 event API Gateway would send, goes through the same
routes, CORS answers and X-API-Key authorizer as the stack, and the function's result is turned
back into an HTTP response. Run it with `python -m local_api --stack dev`.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# backend/src is the Lambda task root: its modules import each other as top-level modules.
_TASK_ROOT = str(PROJECT_DIR / "backend" / "src")
if _TASK_ROOT not in sys.path:
    sys.path.insert(0, _TASK_ROOT)
