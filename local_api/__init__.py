"""A local stand-in for a stack's deployed API Gateway HTTP API, in front of its real Lambda
handlers.

Each HTTP request becomes the payload 2.0 event API Gateway would send, is routed by the
stack's own route table to the function the stack would call, with the same CORS answers and
X-API-Key authorizer, and the function's result is turned back into an HTTP response. Run it
with `python -m local_api --stack dev` (IRIS) or `python -m local_api --app spendsense`.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
IRIS_TASK_ROOT = PROJECT_DIR / "backend" / "src"
SPENDSENSE_TASK_ROOT = PROJECT_DIR / "spendsense" / "backend" / "src"

# The Lambda task roots: their modules import each other as top-level modules. SpendSense's
# functions also import the handler kit from IRIS's (the image copies it into its own root).
for _root in (SPENDSENSE_TASK_ROOT, IRIS_TASK_ROOT):
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))
