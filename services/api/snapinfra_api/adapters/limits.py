"""The api table's records of limits: per-user token buckets, sliding windows (at most N in any
window, e.g. confirmation messages to one address whoever asks) and Idempotency-Key records.

Keys: a bucket is `pk=LIMIT#<user>#<name>`, `sk=LIMIT`; a window is `pk=WINDOW#<key>`, `sk=WINDOW`;
an idempotency record is `pk=IDEMPOTENCY#<user>`, `sk=<scope>#<key>`. All carry `expires_at` (the
table's TTL attribute), so DynamoDB removes them once they no longer matter; reads treat an expired
record as absent because TTL deletion lags.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_shared.conditional import ALL_OLD, condition_failed, holds, item_that_failed


@dataclass(frozen=True)
class Verdict:
    """One attempt to take a token: allowed or not, and what the X-RateLimit-* headers say."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until a token is available (0 when allowed)
    reset_after: float  # seconds until the bucket is full again


class TokenBuckets:
    """Token buckets kept in DynamoDB, taken from by compare-and-set: read the bucket, then write its
    new level on the condition that nobody wrote since (its `refilled_at` is unchanged). Concurrent
    takers on other threads or instances lose the race and read again; none overdraws the bucket."""

    ATTEMPTS = 8

    def __init__(self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time):
        self._ddb, self._table, self._clock = dynamodb, table, clock

    def take(self, key: str, *, rate_per_second: float, burst: int) -> Verdict:
        item_key = {"pk": {"S": f"LIMIT#{key}"}, "sk": {"S": "LIMIT"}}
        for _ in range(self.ATTEMPTS):
            item = self._ddb.get_item(TableName=self._table, Key=item_key, ConsistentRead=True).get("Item")
            now = self._clock()
            if item is None:
                level, previous = float(burst), None
            else:
                previous = item["refilled_at"]["N"]
                elapsed = max(0.0, now - float(previous))
                level = min(float(burst), float(item["tokens"]["N"]) + elapsed * rate_per_second)
            if level < 1:
                return Verdict(False, burst, 0, (1 - level) / rate_per_second, (burst - level) / rate_per_second)
            left = level - 1
            condition = "attribute_not_exists(pk)" if previous is None else "refilled_at = :previous"
            values: dict[str, Any] = {
                ":tokens": {"N": repr(left)},
                ":now": {"N": repr(now)},
                ":expires": {"N": str(int(now + (burst - left) / rate_per_second) + 60)},
                ":taker": {"S": str(uuid.uuid4())},  # tells this take from an identical one of another request
            }
            if previous is not None:
                values[":previous"] = {"N": previous}
            try:
                self._ddb.update_item(
                    TableName=self._table,
                    Key=item_key,
                    UpdateExpression=(
                        "SET tokens = :tokens, refilled_at = :now, expires_at = :expires, taken_by = :taker"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    **ALL_OLD,
                )
            except ClientError as exc:
                found = item_that_failed(exc)
                if found is None:
                    raise
                if not holds(found, {"taken_by": values[":taker"]}, ["taken_by"]):
                    continue  # another request took from this bucket meanwhile: read it again
                # else botocore retried this very take after it was applied: the token is ours
            return Verdict(True, burst, math.floor(left), 0.0, (burst - left) / rate_per_second)
        # Lost every race: the bucket is being drained right now, so this request waits too.
        return Verdict(False, burst, 0, 1.0, float(burst) / rate_per_second)


class SlidingWindows:
    """At most `limit` takes in any `window` seconds per key: the item keeps the times of the last
    takes and is written by compare-and-set on its version, so concurrent takers never overdraw it.
    Unlike a token bucket, nothing refills early: the limit holds in every window, not on average."""

    ATTEMPTS = 8

    def __init__(self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time):
        self._ddb, self._table, self._clock = dynamodb, table, clock

    def take(self, key: str, *, limit: int, window: float) -> Verdict:
        item_key = {"pk": {"S": f"WINDOW#{key}"}, "sk": {"S": "WINDOW"}}
        for _ in range(self.ATTEMPTS):
            item = self._ddb.get_item(TableName=self._table, Key=item_key, ConsistentRead=True).get("Item")
            now = self._clock()
            taken = sorted(float(t["N"]) for t in item["taken"]["L"]) if item else []
            recent = [t for t in taken if t > now - window]
            if len(recent) >= limit:
                wait = recent[-limit] + window - now
                return Verdict(False, limit, 0, wait, recent[-1] + window - now)
            version = int(item["version"]["N"]) if item else 0
            kept = [*recent, now][-limit:]
            written = {
                **item_key,
                "taken": {"L": [{"N": repr(t)} for t in kept]},
                "version": {"N": str(version + 1)},
                "expires_at": {"N": str(int(now + window) + 60)},
                "taken_by": {"S": str(uuid.uuid4())},  # tells this take from an identical one of another request
            }
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item=written,
                    ConditionExpression="attribute_not_exists(pk)" if item is None else "version = :version",
                    **({} if item is None else {"ExpressionAttributeValues": {":version": {"N": str(version)}}}),
                    **ALL_OLD,
                )
            except ClientError as exc:
                found = item_that_failed(exc)
                if found is None:
                    raise
                if not holds(found, written, ["taken_by"]):
                    continue  # another request took meanwhile: read again
                # else botocore retried this very take after it was applied: the take is ours
            return Verdict(True, limit, limit - len(kept), 0.0, window)
        return Verdict(False, limit, 0, 1.0, window)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class IdempotencyRecord:
    """What is already recorded under a key: in progress (no response yet) or completed."""

    fingerprint: str
    response: StoredResponse | None


class IdempotencyStore:
    """Claims a key with a conditional put (absent, expired, or an in-progress claim whose lease ran
    out because its process died), then records the response or releases the claim."""

    def __init__(self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time):
        self._ddb, self._table, self._clock = dynamodb, table, clock

    @staticmethod
    def _key(user_id: str, scope: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": f"IDEMPOTENCY#{user_id}"}, "sk": {"S": f"{scope}#{key}"}}

    def claim(
        self, user_id: str, scope: str, key: str, fingerprint: str, *, ttl: int, lease: int
    ) -> IdempotencyRecord | None:
        """None when this request now holds the key; otherwise the record that holds it."""
        now = self._clock()
        claim = {
            **self._key(user_id, scope, key),
            "state": {"S": "in_progress"},
            "claim_id": {"S": str(uuid.uuid4())},  # tells this claim from an identical one of another request
            "fingerprint": {"S": fingerprint},
            "lease_until": {"N": str(int(now) + lease)},
            "expires_at": {"N": str(int(now) + ttl)},
        }
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=claim,
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at < :now OR (#state = :in_progress AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}, ":in_progress": {"S": "in_progress"}},
                **ALL_OLD,
            )
            return None
        except ClientError as exc:
            item = item_that_failed(exc)
            if item is None:
                raise
        if holds(item, claim, ["claim_id"]):
            return None  # botocore retried this very claim after it was applied: the key is ours
        response = None
        if item["state"]["S"] == "completed":
            response = StoredResponse(int(item["status"]["N"]), item["body"]["S"], json.loads(item["headers"]["S"]))
        return IdempotencyRecord(item["fingerprint"]["S"], response)

    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse, *, ttl: int) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(user_id, scope, key),
            UpdateExpression="SET #state = :completed, #status = :status, body = :body, headers = :headers, "
            "expires_at = :expires REMOVE lease_until",
            ExpressionAttributeNames={"#state": "state", "#status": "status"},
            ExpressionAttributeValues={
                ":completed": {"S": "completed"},
                ":status": {"N": str(response.status)},
                ":body": {"S": response.body},
                ":headers": {"S": json.dumps(response.headers)},
                ":expires": {"N": str(int(self._clock()) + ttl)},
            },
        )

    def release(self, user_id: str, scope: str, key: str) -> None:
        """Forget an in-progress claim (the request failed), so the client may try again."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=self._key(user_id, scope, key),
                ConditionExpression="#state = :in_progress",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":in_progress": {"S": "in_progress"}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
