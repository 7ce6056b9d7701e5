"""The api table's records of limits: per-user token buckets, sliding windows (at most N in any
window, e.g. confirmation messages to one address whoever asks) and Idempotency-Key records.

Keys: a bucket is `pk=LIMIT#<user>#<name>`, `sk=LIMIT`; a window is `pk=WINDOW#<key>`, `sk=WINDOW`;
an idempotency record is `pk=IDEMPOTENCY#<user>`, `sk=<scope>#<key>`. All carry `expires_at` (the
table's TTL attribute), so DynamoDB removes them once they no longer matter; reads treat an expired
record as absent because TTL deletion lags.
"""

from __future__ import annotations

import json
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
    """Token buckets kept in DynamoDB as a "theoretical arrival time" (GCRA, as redis-cell keeps them):
    one number `tat` per bucket, the time at which the bucket is full again. With interval = 1 / rate, a
    request at `now` may take a token when max(tat, now) + interval <= now + burst * interval, and taking
    it moves `tat` on by one interval: exactly a bucket of `burst` tokens refilled at `rate`. Each take is
    one conditional `UpdateItem`, never a read and never a loop of read-then-compare-and-set:

    - a full bucket (no `tat`, or `tat` before now): `SET tat = now + interval` on that very condition;
    - when that condition fails, DynamoDB returns the item it met: a `tat` past `now + (burst - 1) *
      interval` is an empty bucket, refused at once (`tat` only grows); else `SET tat = tat + interval`
      on the condition `tat <= now + (burst - 1) * interval`.

    So concurrent takers never lose a race: none is refused while the bucket holds a token, and none
    overdraws it. Times are whole microseconds, so DynamoDB's arithmetic and this code's agree exactly.
    Each take writes an id of its own, so botocore's retry of a take that was applied (its answer lost)
    meets its own write and takes no second token."""

    MICROS = 1_000_000
    ATTEMPTS = 3  # a bucket deleted (expired) between the two updates starts over; never more

    def __init__(self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time):
        self._ddb, self._table, self._clock = dynamodb, table, clock

    def take(self, key: str, *, rate_per_second: float, burst: int) -> Verdict:
        item_key = {"pk": {"S": f"LIMIT#{key}"}, "sk": {"S": "LIMIT"}}
        now = round(self._clock() * self.MICROS)
        interval = max(1, round(self.MICROS / rate_per_second))
        limit = now + (burst - 1) * interval  # the latest `tat` that still leaves a token at `now`
        common = {
            # `tat` never passes now + burst * interval; the item matters until then
            ":expires": {"N": str(-(-(now + burst * interval) // self.MICROS) + 60)},
            ":taker": {"S": str(uuid.uuid4())},  # tells this take from an identical one of another request
        }
        for _ in range(self.ATTEMPTS):
            applied, item = self._update(
                item_key,
                "SET tat = :tat, expires_at = :expires, taken_by = :taker",
                "attribute_not_exists(tat) OR tat < :now",
                {**common, ":tat": {"N": str(now + interval)}, ":now": {"N": str(now)}},
            )
            if not applied and "tat" in item and int(item["tat"]["N"]) <= limit:
                applied, item = self._update(
                    item_key,
                    "SET tat = tat + :interval, expires_at = :expires, taken_by = :taker",
                    "tat <= :limit AND taken_by <> :taker",
                    {**common, ":interval": {"N": str(interval)}, ":limit": {"N": str(limit)}},
                )
            tat = int(item["tat"]["N"]) if "tat" in item else None
            if applied and tat is not None:
                remaining = (burst * interval - (tat - now)) // interval
                return Verdict(True, burst, max(0, remaining), 0.0, (tat - now) / self.MICROS)
            if tat is not None and tat > limit:
                return Verdict(False, burst, 0, (tat - limit) / self.MICROS, (tat - now) / self.MICROS)
            # else the bucket expired between the two updates: start over
        return Verdict(False, burst, 0, interval / self.MICROS, burst * interval / self.MICROS)

    def _update(
        self, item_key: dict[str, Any], update: str, condition: str, values: dict[str, Any]
    ) -> tuple[bool, dict[str, Any]]:
        """(True, the attributes written) when this take applied, even on botocore's retry of it after
        its answer was lost; else (False, the item the condition met: {} when there is none)."""
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=item_key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                **ALL_OLD,
            )
        except ClientError as exc:
            found = item_that_failed(exc)
            if found is None:
                raise
            return holds(found, {"taken_by": values[":taker"]}, ["taken_by"]), found
        return True, dict(answer["Attributes"])


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
