"""Write SpendSense's OpenAPI document from FastAPI's own generator (`app.openapi()`).

    PYTHONPATH=spendsense/backend/src python spendsense/scripts/openapi.py [--out FILE]

(the app's task root on the path; the handler kit is installed). `make openapi` runs it;
tests/openapi/test_documents.py holds the committed file equal to it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_OUT = ROOT / "docs" / "openapi" / "spendsense.json"


def document() -> dict[str, Any]:
    """The document of the app's routes; it needs no data."""
    # Importing the app loads the container's database (none here), which would log that.
    logger = logging.getLogger("spendsense")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        from api.main import create_app
    finally:
        logger.setLevel(level)
    from spendsense_core.database import Database, NotConfigured

    app = create_app(Database(NotConfigured("the OpenAPI document needs no data")))
    return app.openapi()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the file to write")
    args = parser.parse_args(argv)
    args.out.write_text(render(document()), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
