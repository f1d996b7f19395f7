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

# The one sys.path edit of the project, and why: it emulates the Lambda task roots for local
# runs. Deployed, each image lays its code out in its task root (/var/task), on the path of the
# runtime, and its modules import each other as top-level modules (`from server import app`);
# here both task roots go on the path (their top-level names differ). The handler kit both
# images copy into their task roots is the project's own top-level `lambda_kit`, installed.
for _root in (SPENDSENSE_TASK_ROOT, IRIS_TASK_ROOT):
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))
