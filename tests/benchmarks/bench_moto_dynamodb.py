"""Throughput of the embedded AWS's DynamoDB from concurrent clients (a script that prints; not a test).

Starts the embedded AWS (as `make dev` and the tests do), then has C threads write N items between
them with PutItem, and reads them back with GetItem, and prints requests per second for each. Run it
before and after a change to the launcher to see what serializing DynamoDB costs.

    uv run python tests/benchmarks/bench_moto_dynamodb.py --items 2000 --clients 10
    uv run python tests/benchmarks/bench_moto_dynamodb.py --endpoint http://127.0.0.1:4566  # one running
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

import boto3
from botocore.config import Config

from snapinfra_shared.local.embedded import LOCAL_CREDENTIALS, EmbeddedAws


def _timed(clients: list[Any], items: int, call: Callable[[Any, int], None]) -> float:
    """Requests per second for `items` calls, client i taking every len(clients)-th item from i."""

    def run(i: int) -> None:
        for n in range(i, items, len(clients)):
            call(clients[i], n)

    started = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(run, range(len(clients))))
    return items / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--endpoint", help="an embedded AWS already running (default: start one)")
    args = parser.parse_args()
    with nullcontext(args.endpoint) if args.endpoint else EmbeddedAws() as aws:
        url = aws if isinstance(aws, str) else aws.url
        config = Config(max_pool_connections=4, retries={"total_max_attempts": 1, "mode": "standard"})
        clients = [
            boto3.client(
                "dynamodb",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=config,
            )
            for _ in range(args.clients)
        ]
        table = f"bench-{uuid.uuid4().hex[:8]}"
        clients[0].create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def put(client: Any, n: int) -> None:
            client.put_item(TableName=table, Item={"pk": {"S": f"item-{n}"}, "body": {"S": "x" * 200}})

        def get(client: Any, n: int) -> None:
            assert "Item" in client.get_item(TableName=table, Key={"pk": {"S": f"item-{n}"}})

        puts = _timed(clients, args.items, put)
        gets = _timed(clients, args.items, get)
        print(f"{args.items} PutItem from {args.clients} threads: {puts:.0f}/s")
        print(f"{args.items} GetItem from {args.clients} threads: {gets:.0f}/s")


if __name__ == "__main__":
    main()
