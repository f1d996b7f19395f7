"""What a crowd of containers spends against the daily token budget, with the costliest texts.

Each container is a process of its own running the real handler (tests/backend/crowd.py), all of
them against one cache table on a moto server and an OpenAI-compatible upstream on loopback that
bills every byte it is sent (each message's UTF-8 bytes, the reply's bytes: never fewer than a
real tokenizer's count), once with `usage` in its answers and once without. Every text is 20,000
rare CJK characters (four bytes each), a different one per request, so nothing is cached.

    python -m benchmarks.budget_crowd [--containers 10] [--budget 250000] [--texts-each 4]
                                      [--src <other checkout>/backend/src]

(from the repository root, where the tests' helpers it runs the containers with are).

Prints, for each upstream: calls served and refused, tokens billed, what the counter holds, and
billed / budget. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from pytest_httpserver import HTTPServer

from benchmarks.children import quiet_servers
from tests.backend.crowd import (
    BACKEND_SRC,
    container_environment,
    rare_cjk_text,
    run_crowd,
    worst_case,
)
from tests.backend.loopback import aws_client, create_deployed_resources, moto_server
from tests.backend.openai_stub import OpenAIStub


def crowd_spending(args: argparse.Namespace, usage: bool) -> dict[str, int]:
    llm = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    llm.start()
    try:
        stub = OpenAIStub(base_url=llm.url_for("/v1"))
        stub.always(billed_in_bytes=True, usage=usage)
        llm.expect_request("/v1/chat/completions", method="POST").respond_with_handler(stub.handle)
        with quiet_servers(), moto_server() as moto_url:
            table = f"iris-crowd-{uuid.uuid4().hex[:8]}"
            create_deployed_resources(moto_url, table=table, parameter="/iris/crowd", key="-")
            environ = container_environment(
                base_url=stub.base_url,
                dynamodb_url=moto_url,
                table=table,
                budget=args.budget,
                src=args.src,
                AWS_ACCESS_KEY_ID="bench",
                AWS_SECRET_ACCESS_KEY="bench",
            )
            texts = [
                [rare_cjk_text(f"c{c}t{t}", seed=c * 1_000 + t) for t in range(args.texts_each)]
                for c in range(args.containers)
            ]
            answers = [a for each in run_crowd([(environ, t) for t in texts]) for a in each]
            items = aws_client("dynamodb", moto_url).scan(TableName=table)["Items"]
    finally:
        llm.clear()
        llm.stop()
    counted = [int(i["tokens"]["N"]) for i in items if i["pk"]["S"].startswith("llm-tokens#")]
    return {
        "served": sum(a["status"] == 200 for a in answers),
        "refused": sum(a["status"] == 429 for a in answers),
        "other": sum(a["status"] not in (200, 429) for a in answers),
        "billed": sum(sent.get("billed", 0) for sent in stub.requests),
        "counted": sum(counted),
        "worst_case": worst_case(texts[0][0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--budget", type=int, default=250_000, help="dev's llmDailyTokenBudget")
    parser.add_argument("--texts-each", type=int, default=4)
    parser.add_argument("--src", type=Path, default=BACKEND_SRC, help="the backend to run")
    args = parser.parse_args(argv)

    print(
        f"{args.containers} containers x {args.texts_each} texts of 20,000 rare CJK characters, "
        f"budget {args.budget:,} tokens, backend {args.src}"
    )
    for usage in (True, False):
        figures = crowd_spending(args, usage)
        print(
            f"  upstream {'with' if usage else 'without'} usage: served {figures['served']}, "
            f"refused {figures['refused']}, other {figures['other']}; billed "
            f"{figures['billed']:,}, counted {figures['counted']:,} "
            f"({figures['billed'] / args.budget:.2f}x the budget; one call's worst case "
            f"{figures['worst_case']:,})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
