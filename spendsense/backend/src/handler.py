"""The API function's entry point (`handler.handler`): SpendSense's FastAPI app, every route,
through the Lambda handler kit.

Mangum runs with lifespan off (the app has no startup work to repeat per invocation); the
database is loaded when `api.main` is imported, at INIT.
"""

from __future__ import annotations

from spendsense_core.lambda_entry import lambda_handler

# isort: split
# After the logs are set up: importing the app loads the database, and logs how that went.
from api.main import app

handler = lambda_handler(app)
