"""The api's read model of notification subscriptions and delivery attempts, in the api's table.

Keys: a subscription `pk=USER#<user>`, `sk=NOTIFSUB#<id>` (ids are UUIDv7: newest first), with an SMS
code's HMAC, expiry and attempts while it is pending; a pending email confirmation
`pk=CONFIRM#<sha256 of the token>`, `sk=CONFIRM` (the token itself is never stored here); the user's
target `pk=USER#<user>`, `sk=NOTIFTARGET#<target key>` naming the subscription that holds it (so one
target is subscribed once); the user's count of subscriptions `pk=USER#<user>`, `sk=NOTIFCOUNT`;
a delivery attempt `pk=USER#<user>`, `sk=DELIVERY#<at>#<id>`, and on gsi1 `USER#<user>#NOTIFSUB#<sub>`
for the listing of one subscription. Each write that carries an event puts it on a standalone outbox
item in the same transaction (see codegen/store.py), so an accepted request is never lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_api.adapters.table import (
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    outbox_attributes,
    outbox_item_written,
    standalone_outbox_key,
)
from snapinfra_shared.catalog import NotificationAttempted
from snapinfra_shared.events import Envelope

STATUS_RANK = {"pending_confirmation": 0, "active": 1, "disabled": 2}
DELIVERY_RETENTION_SECONDS = 30 * 24 * 3600

__all__ = [
    "CodeState",
    "DuplicateTarget",
    "InvalidCursor",
    "SubscriptionReadModel",
    "SubscriptionRecord",
    "TooManySubscriptions",
]


@dataclass(frozen=True)
class SubscriptionRecord:
    id: str
    user_id: str
    channel: str
    target: str
    status: str
    event_types: list[str]
    statuses: list[str]
    project_id: str | None
    admin: bool
    created_at: datetime


@dataclass(frozen=True)
class Confirmation:
    user_id: str
    subscription_id: str
    expires_at: int
    confirmed: bool


class DuplicateTarget(Exception):
    """The user already subscribed this target; args[0] is that subscription's id."""


class TooManySubscriptions(Exception):
    pass


@dataclass(frozen=True)
class CodeState:
    """What the read model knows of a subscription's confirmation by code."""

    channel: str
    target: str
    confirmed: bool
    code_hash: str | None
    expires_at: int
    attempts: int


def _sub_key(user_id: str, subscription_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"NOTIFSUB#{subscription_id}"}}


def _confirm_key(token_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"CONFIRM#{token_hash}"}, "sk": {"S": "CONFIRM"}}


def _target_key(user_id: str, target_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"NOTIFTARGET#{target_key}"}}


def _count_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "NOTIFCOUNT"}}


def _outbox_put(table: str, event: Envelope) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {**standalone_outbox_key(event), **outbox_attributes(event)}}}


def _record(item: dict[str, Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=item["sk"]["S"].removeprefix("NOTIFSUB#"),
        user_id=item["pk"]["S"].removeprefix("USER#"),
        channel=item["channel"]["S"],
        target=item["target"]["S"],
        status=item["status"]["S"],
        event_types=[v["S"] for v in item["event_types"]["L"]],
        statuses=[v["S"] for v in item["statuses"]["L"]],
        project_id=item["project_id"]["S"] if "project_id" in item else None,
        admin=item["admin"]["BOOL"],
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
    )


def _cancelled_by_condition(exc: ClientError) -> bool:
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    return any(r.get("Code") == "ConditionalCheckFailed" for r in exc.response.get("CancellationReasons", []))


def _failed_at(exc: ClientError) -> set[int]:
    """The indexes of a cancelled transaction's writes whose condition failed."""
    reasons = exc.response.get("CancellationReasons", [])
    return {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}


def _applied(dynamodb: Any, table: str, exc: ClientError, event: Envelope) -> bool:
    """A transaction cancelled by a condition, that was in fact applied by an earlier attempt of this call
    (botocore retried it after a lost answer): its outbox item, keyed by this call's event, is there."""
    return _cancelled_by_condition(exc) and outbox_item_written(dynamodb, table, event)


class SubscriptionReadModel:
    def __init__(self, dynamodb: Any, table: str, clock: Any = time.time):
        self._ddb = dynamodb
        self.table = table
        self._clock = clock

    # -- writes that carry an event -------------------------------------------------------------

    def add(
        self,
        sub: SubscriptionRecord,
        event: Envelope,
        confirmation: tuple[str, int] | None,
        *,
        target_key: str,
        cap: int,
        code: tuple[str, int] | None = None,
    ) -> None:
        """The subscription, its target's claim, the user's count (at most `cap`), its email confirmation
        (token hash, expiry) or SMS code (HMAC, expiry) if any, and its event, in one transaction.
        Raises DuplicateTarget or TooManySubscriptions."""
        item: dict[str, Any] = {
            **_sub_key(sub.user_id, sub.id),
            "channel": {"S": sub.channel},
            "target": {"S": sub.target},
            "target_key": {"S": target_key},
            "status": {"S": sub.status},
            "status_rank": {"N": str(STATUS_RANK[sub.status])},
            "event_types": {"L": [{"S": v} for v in sub.event_types]},
            "statuses": {"L": [{"S": v} for v in sub.statuses]},
            "admin": {"BOOL": sub.admin},
            "created_at": {"S": sub.created_at.isoformat()},
        }
        if sub.project_id:
            item["project_id"] = {"S": sub.project_id}
        if code is not None:
            item |= {"code_hash": {"S": code[0]}, "code_expires_at": {"N": str(code[1])}, "code_attempts": {"N": "0"}}
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            _outbox_put(self.table, event),
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {**_target_key(sub.user_id, target_key), "subscription_id": {"S": sub.id}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _count_key(sub.user_id),
                    "UpdateExpression": "ADD subscriptions :one",
                    "ConditionExpression": "attribute_not_exists(subscriptions) OR subscriptions < :cap",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": str(cap)}},
                }
            },
        ]
        if confirmation is not None:
            token_hash, expires_at = confirmation
            writes.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **_confirm_key(token_hash),
                            "user_id": {"S": sub.user_id},
                            "subscription_id": {"S": sub.id},
                            "expires_at": {"N": str(expires_at)},
                        },
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if not _cancelled_by_condition(exc):
                raise
            existing = self.holder_of(sub.user_id, target_key)
            if existing == sub.id:
                return  # a retry of a transaction that was applied: it is ours
            if existing is not None:
                raise DuplicateTarget(existing) from exc
            if 3 in _failed_at(exc) or self.count(sub.user_id) >= cap:
                raise TooManySubscriptions(cap) from exc
            raise

    def holder_of(self, user_id: str, target_key: str) -> str | None:
        """The id of the user's subscription to this target, if any."""
        item = self._ddb.get_item(TableName=self.table, Key=_target_key(user_id, target_key), ConsistentRead=True).get(
            "Item"
        )
        return item["subscription_id"]["S"] if item else None

    def count(self, user_id: str) -> int:
        item = self._ddb.get_item(TableName=self.table, Key=_count_key(user_id), ConsistentRead=True).get("Item")
        return int(item["subscriptions"]["N"]) if item and "subscriptions" in item else 0

    def remove(self, user_id: str, subscription_id: str, event: Envelope) -> bool:
        """False when the user has no such subscription. Frees its target and its place in the count."""
        item = self._ddb.get_item(
            TableName=self.table, Key=_sub_key(user_id, subscription_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return False
        writes: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": _sub_key(user_id, subscription_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            _outbox_put(self.table, event),
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _count_key(user_id),
                    "UpdateExpression": "ADD subscriptions :minus_one",
                    "ExpressionAttributeValues": {":minus_one": {"N": "-1"}},
                }
            },
        ]
        if "target_key" in item:
            writes.append(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": _target_key(user_id, item["target_key"]["S"]),
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=writes)
            return True
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return _applied(self._ddb, self.table, exc, event)
            raise

    def confirm(self, token_hash: str, event: Envelope) -> bool:
        """Mark the confirmation used and carry its event; False when it was used meanwhile."""
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _confirm_key(token_hash),
                            "UpdateExpression": "SET confirmed_at = :at",
                            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(confirmed_at)",
                            "ExpressionAttributeValues": {":at": {"S": event.occurred_at.isoformat()}},
                        }
                    },
                    _outbox_put(self.table, event),
                ]
            )
            return True
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return _applied(self._ddb, self.table, exc, event)
            raise

    def count_code_attempt(self, user_id: str, subscription_id: str, code_hash: str, max_attempts: int) -> int | None:
        """Count one attempt at this code; the attempts so far, or None when the code was replaced,
        used, or had no attempts left (so no more than `max_attempts` are ever compared)."""
        try:
            response = self._ddb.update_item(
                TableName=self.table,
                Key=_sub_key(user_id, subscription_id),
                UpdateExpression="ADD code_attempts :one",
                ConditionExpression="code_hash = :hash AND code_attempts < :max",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":hash": {"S": code_hash},
                    ":max": {"N": str(max_attempts)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return int(response["Attributes"]["code_attempts"]["N"])

    def confirm_code(self, user_id: str, subscription_id: str, code_hash: str, event: Envelope) -> bool:
        """Mark the subscription confirmed, the code used, and carry the event; False when it was meanwhile."""
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _sub_key(user_id, subscription_id),
                            "UpdateExpression": "SET confirmed_at = :at REMOVE code_hash, code_expires_at, "
                            "code_attempts",
                            "ConditionExpression": "code_hash = :hash AND attribute_not_exists(confirmed_at)",
                            "ExpressionAttributeValues": {
                                ":at": {"S": event.occurred_at.isoformat()},
                                ":hash": {"S": code_hash},
                            },
                        }
                    },
                    _outbox_put(self.table, event),
                ]
            )
            return True
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return _applied(self._ddb, self.table, exc, event)
            raise

    def replace_code(self, user_id: str, subscription_id: str, code: tuple[str, int], event: Envelope) -> bool:
        """A new code (HMAC, expiry) with no attempts, and its event; False when the subscription is gone
        or confirmed meanwhile."""
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _sub_key(user_id, subscription_id),
                            "UpdateExpression": "SET code_hash = :hash, code_expires_at = :expires, "
                            "code_attempts = :zero",
                            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(confirmed_at)",
                            "ExpressionAttributeValues": {
                                ":hash": {"S": code[0]},
                                ":expires": {"N": str(code[1])},
                                ":zero": {"N": "0"},
                            },
                        }
                    },
                    _outbox_put(self.table, event),
                ]
            )
            return True
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return _applied(self._ddb, self.table, exc, event)
            raise

    def code_state(self, user_id: str, subscription_id: str) -> CodeState | None:
        item = self._ddb.get_item(
            TableName=self.table, Key=_sub_key(user_id, subscription_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return CodeState(
            channel=item["channel"]["S"],
            target=item["target"]["S"],
            confirmed="confirmed_at" in item,
            code_hash=item["code_hash"]["S"] if "code_hash" in item else None,
            expires_at=int(item.get("code_expires_at", {}).get("N", "0")),
            attempts=int(item.get("code_attempts", {}).get("N", "0")),
        )

    # -- reads ------------------------------------------------------------------------------------

    def get(self, user_id: str, subscription_id: str) -> SubscriptionRecord | None:
        item = self._ddb.get_item(TableName=self.table, Key=_sub_key(user_id, subscription_id)).get("Item")
        return _record(item) if item else None

    def confirmation(self, token_hash: str) -> Confirmation | None:
        item = self._ddb.get_item(TableName=self.table, Key=_confirm_key(token_hash), ConsistentRead=True).get("Item")
        if not item or int(item["expires_at"]["N"]) < self._clock():
            return None
        return Confirmation(
            item["user_id"]["S"], item["subscription_id"]["S"], int(item["expires_at"]["N"]), "confirmed_at" in item
        )

    def page(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[SubscriptionRecord], str | None]:
        items, next_cursor = self._page(
            {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": f"USER#{user_id}"}, ":prefix": {"S": "NOTIFSUB#"}},
            },
            ("pk", f"USER#{user_id}"),
            limit,
            cursor,
        )
        return [_record(i) for i in items], next_cursor

    def deliveries(
        self, user_id: str, *, limit: int, cursor: str | None, subscription_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        if subscription_id is None:
            query: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": f"USER#{user_id}"}, ":prefix": {"S": "DELIVERY#"}},
            }
            partition = ("pk", f"USER#{user_id}")
        else:
            gsi_pk = f"USER#{user_id}#NOTIFSUB#{subscription_id}"
            query = {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
                "ExpressionAttributeValues": {":pk": {"S": gsi_pk}, ":prefix": {"S": "DELIVERY#"}},
            }
            partition = ("gsi1pk", gsi_pk)
        items, next_cursor = self._page(query, partition, limit, cursor)
        return [NotificationAttempted.model_validate_json(i["attempt"]["S"]).model_dump() for i in items], next_cursor

    def _page(
        self, query: dict[str, Any], partition: tuple[str, str], limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, partition)
        response = self._ddb.query(TableName=self.table, ScanIndexForward=False, Limit=limit, **query)
        last = response.get("LastEvaluatedKey")
        return response.get("Items", []), encode_cursor(last) if last else None

    # -- the projection of the notifier's events: monotonic, idempotent -------------------------

    def advance(self, user_id: str, subscription_id: str, status: str) -> bool:
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_sub_key(user_id, subscription_id),
                UpdateExpression="SET #status = :status, status_rank = :rank",
                ConditionExpression="attribute_exists(pk) AND status_rank < :rank",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": status}, ":rank": {"N": str(STATUS_RANK[status])}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def record_delivery(self, user_id: str, attempt: NotificationAttempted) -> None:
        """Keyed on the attempt, so a redelivered event writes the same item again."""
        sort_key = f"DELIVERY#{attempt.at.isoformat()}#{attempt.delivery_id}"
        self._ddb.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"USER#{user_id}"},
                "sk": {"S": sort_key},
                "gsi1pk": {"S": f"USER#{user_id}#NOTIFSUB#{attempt.subscription_id}"},
                "gsi1sk": {"S": sort_key},
                "attempt": {"S": attempt.model_dump_json()},
                "expires_at": {"N": str(int(self._clock()) + DELIVERY_RETENTION_SECONDS)},
            },
        )
