"""SpendSense's X-API-Key authorizer (the image's `authorizer.handler`, for the stack's optional
apiKeys): the kit's (`lambda_kit.authorizer`), as IRIS's, reading SPENDSENSE_API_KEYS /
SPENDSENSE_API_KEYS_PARAM, SPENDSENSE_SECRET_MAX_AGE_S and SPENDSENSE_LOG_LEVEL. It loads no
data and no framework. No key ever reaches a log line.
"""

from __future__ import annotations

from lambda_kit.authorizer import ApiKeyAuthorizer

# The logger every SpendSense module logs under (spendsense_core.lambda_entry.LOGGER_NAME).
authorizer = ApiKeyAuthorizer("SPENDSENSE", logger_name="spendsense")
authorizer.prepare()
handler = authorizer.handler
