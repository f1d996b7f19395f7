"""One Lambda container in a process of its own, for tests that need several at once.

INIT is the import of the real handler, under this process's environment; then each text
given on the command line is analyzed in turn, as one container serves one event at a time.
Each answer is printed as one line `answer: <json>`; the app's own JSON log lines go to stdout
as well, as in Lambda.

    python -m tests.backend.container_process <text> [<text> ...]
"""

from __future__ import annotations

import json
import sys

from tests.events import LambdaContext, http_api_v2_event

ANSWER_PREFIX = "answer: "


def main(texts: list[str]) -> None:
    import lambda_handler

    for text in texts:
        event = http_api_v2_event(
            "POST",
            "/api/iris/analyze",
            body=json.dumps({"text": text}),
            headers={"Content-Type": "application/json"},
        )
        answer = lambda_handler.handler(event, LambdaContext())
        shown = {
            "status": answer["statusCode"],
            "headers": answer["headers"],
            "body": json.loads(answer["body"]),
        }
        print(ANSWER_PREFIX + json.dumps(shown), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
