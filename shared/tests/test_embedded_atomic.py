"""The embedded AWS applies each DynamoDB write atomically, as DynamoDB does.

Two threads race conditional writes on the same item, lined up round by round with a barrier, against
the moto server that EmbeddedAws starts (the session's `aws_endpoint`). In any serial order of two
conditional writes exactly one claim wins, and a `completed` that was applied is never overwritten by a
write whose condition required `generating`. moto's DynamoDB backend checks a condition and applies the
update in separate steps, so without the launcher's serialization some rounds break both rules.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROUNDS = 300
# moto snapshots every table a transaction touches (a deep copy, growing with the table): fewer rounds.
TRANSACTION_ROUNDS = 100
WRITERS = 4  # per round, all on the same item: more than two widens moto's window between check and write
NOW, EXPIRED, LEASE_UNTIL = 1_000, 500, 2_000  # a fixed clock: leases compare with :now, never the wall clock


def _client(endpoint: str) -> Any:
    # One attempt each: a botocore retry of an applied write would meet its own condition and blur the count.
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=4)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", config=config)


@pytest.fixture
def table(aws_endpoint: str) -> Iterator[str]:
    ddb, name = _client(aws_endpoint), f"race-{uuid.uuid4().hex[:10]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    ddb.delete_table(TableName=name)


def _race(
    endpoint: str, writers: list[Callable[[Any, int], bool]], rounds: int = ROUNDS
) -> tuple[list[list[bool]], list[str]]:
    """Run the writers once per round, released together by a barrier.

    Returns [round][writer] -> applied, and the server errors met (the write counted as not applied).
    """
    barrier = threading.Barrier(len(writers), timeout=30)
    outcomes = [[False] * len(writers) for _ in range(rounds)]
    server_errors: list[str] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        ddb = _client(endpoint)
        try:
            for n in range(rounds):
                barrier.wait()
                try:
                    outcomes[n][index] = writers[index](ddb, n)
                except ClientError as exc:
                    if exc.response["ResponseMetadata"]["HTTPStatusCode"] < 500:
                        raise
                    server_errors.append(f"round {n}, writer {index}: {exc.operation_name} answered 500")
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), name=f"writer-{i}") for i in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a writer did not finish its rounds"
    if errors:
        raise errors[0]
    return outcomes, server_errors


def _item(ddb: Any, table: str, pk: str) -> dict[str, Any]:
    return dict(ddb.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item", {}))


def _applied(write: Callable[[], object]) -> bool:
    try:
        write()
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise
        return False
    return True


def _claim(client: Any, table: str, pk: str, owner: str) -> bool:
    """codegen's claim (with the claimant's name): a new job, or one whose lease ran out."""
    return _applied(
        lambda: client.update_item(
            TableName=table,
            Key={"pk": {"S": pk}},
            UpdateExpression=(
                "SET #s = :generating, lease_until = :until, #owner = :owner, "
                "attempts = if_not_exists(attempts, :zero) + :one, updated_at = :now"
            ),
            ConditionExpression="attribute_not_exists(pk) OR (#s = :generating AND lease_until < :now)",
            ExpressionAttributeNames={"#s": "status", "#owner": "owner"},
            ExpressionAttributeValues={
                ":generating": {"S": "generating"},
                ":until": {"N": str(LEASE_UNTIL)},
                ":now": {"N": str(NOW)},
                ":owner": {"S": owner},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
            },
        )
    )


def _complete(client: Any, table: str, pk: str) -> bool:
    """codegen's completion: only while the job is generating."""
    return _applied(
        lambda: client.update_item(
            TableName=table,
            Key={"pk": {"S": pk}},
            UpdateExpression="SET #s = :completed, artifact = :artifact REMOVE lease_until",
            ConditionExpression="#s = :generating",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":completed": {"S": "completed"},
                ":artifact": {"S": f"zip-of-{pk}"},
                ":generating": {"S": "generating"},
            },
        )
    )


def _seed_expired_leases(ddb: Any, table: str, pks: Iterable[str]) -> None:
    for pk in pks:
        item = {"pk": {"S": pk}, "status": {"S": "generating"}, "lease_until": {"N": str(EXPIRED)}}
        ddb.put_item(TableName=table, Item=item)


def test_exactly_one_of_racing_claims_wins(aws_endpoint: str, table: str) -> None:
    ddb = _client(aws_endpoint)
    # Odd rounds race for a job whose lease ran out, even ones for a job not yet recorded.
    _seed_expired_leases(ddb, table, (f"claim-{n}" for n in range(1, ROUNDS, 2)))

    def claimer(owner: str) -> Callable[[Any, int], bool]:
        return lambda client, n: _claim(client, table, f"claim-{n}", owner)

    outcomes, server_errors = _race(aws_endpoint, [claimer(f"w{i}") for i in range(WRITERS)])

    double = [n for n, won in enumerate(outcomes) if sum(won) > 1]
    none = [n for n, won in enumerate(outcomes) if not any(won)]
    wrong_owner = [
        n
        for n, won in enumerate(outcomes)
        if sum(won) == 1 and _item(ddb, table, f"claim-{n}").get("owner", {}).get("S") != f"w{won.index(True)}"
    ]
    assert (double, none, wrong_owner, server_errors) == ([], [], [], []), (
        f"of {ROUNDS} races of {WRITERS} claims: {len(double)} double claims, {len(none)} with no winner, "
        f"{len(wrong_owner)} owned by a loser, {len(server_errors)} answers of 500"
    )


def test_a_completion_is_never_lost_to_a_racing_claim(aws_endpoint: str, table: str) -> None:
    """A redelivered request claims the job (its lease ran out) while the first attempt completes it.

    In either order the job ends `completed`: a claim first is then completed over, a completion first
    makes the claim's condition fail. Never `generating` again after the completion was applied.
    """
    ddb = _client(aws_endpoint)
    _seed_expired_leases(ddb, table, (f"job-{n}" for n in range(ROUNDS)))

    def complete(client: Any, n: int) -> bool:
        return _complete(client, table, f"job-{n}")

    def claimer(owner: str) -> Callable[[Any, int], bool]:
        return lambda client, n: _claim(client, table, f"job-{n}", owner)

    outcomes, server_errors = _race(aws_endpoint, [complete] + [claimer(f"w{i}") for i in range(1, WRITERS)])

    lost, claimed_after, refused, double = [], [], [], []
    for n, (completed, *claimed) in enumerate(outcomes):
        item = _item(ddb, table, f"job-{n}")
        if not completed:  # whichever claim came first left the job generating, so the completion applies
            refused.append(n)
        elif item.get("status", {}).get("S") != "completed" or item.get("artifact", {}).get("S") != f"zip-of-job-{n}":
            lost.append(n)
        elif "lease_until" in item:  # a claim applied after the completion removed the lease
            claimed_after.append(n)
        if sum(claimed) > 1:
            double.append(n)
    assert (lost, claimed_after, refused, double, server_errors) == ([], [], [], [], []), (
        f"of {ROUNDS} races of a completion with {WRITERS - 1} claims: {len(lost)} lost completions, "
        f"{len(claimed_after)} claims applied over the completion, {len(refused)} completions refused, "
        f"{len(double)} double claims, {len(server_errors)} answers of 500"
    )


def test_racing_transactions_apply_whole_or_not_at_all(aws_endpoint: str, table: str) -> None:
    ddb = _client(aws_endpoint)

    def transact(owner: str) -> Callable[[Any, int], bool]:
        def write(client: Any, n: int) -> bool:
            return _applied(
                lambda: client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": table,
                                "Item": {"pk": {"S": f"tx-{n}-{part}"}, "owner": {"S": owner}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                        for part in ("request", "outbox")
                    ]
                )
            )

        return write

    outcomes, server_errors = _race(aws_endpoint, [transact(f"w{i}") for i in range(WRITERS)], TRANSACTION_ROUNDS)

    wrong = []
    for n, won in enumerate(outcomes):
        owners = {_item(ddb, table, f"tx-{n}-{part}").get("owner", {}).get("S") for part in ("request", "outbox")}
        if sum(won) != 1 or owners != {f"w{won.index(True)}"}:
            wrong.append((n, won, owners))
    assert (wrong, server_errors) == ([], []), (
        f"of {TRANSACTION_ROUNDS} races of {WRITERS} transactions: {len(wrong)} without exactly one whole winner "
        f"(first: {wrong[:3]}), {len(server_errors)} answers of 500"
    )
