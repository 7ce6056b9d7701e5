"""The api's read model of notification subscriptions and delivery attempts, in the api's table.

Keys: a subscription `pk=USER#<user>`, `sk=NOTIFSUB#<id>` (ids are UUIDv7: newest first); a pending
confirmation `pk=CONFIRM#<sha256 of the token>`, `sk=CONFIRM` (the token itself is never stored here);
a delivery attempt `pk=USER#<user>`, `sk=DELIVERY#<at>#<id>`, and on gsi1 `USER#<user>#NOTIFSUB#<sub>`
for the listing of one subscription. Each write that carries an event puts it on a standalone outbox
item in the same transaction (see repository.py), so an accepted request is never lost.
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
    standalone_outbox_key,
)
from snapinfra_shared.catalog import NotificationAttempted
from snapinfra_shared.events import Envelope

STATUS_RANK = {"pending_confirmation": 0, "active": 1, "disabled": 2}
DELIVERY_RETENTION_SECONDS = 30 * 24 * 3600

__all__ = ["InvalidCursor", "SubscriptionReadModel", "SubscriptionRecord"]


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


def _sub_key(user_id: str, subscription_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"NOTIFSUB#{subscription_id}"}}


def _confirm_key(token_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"CONFIRM#{token_hash}"}, "sk": {"S": "CONFIRM"}}


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


class SubscriptionReadModel:
    def __init__(self, dynamodb: Any, table: str, clock: Any = time.time):
        self._ddb = dynamodb
        self.table = table
        self._clock = clock

    # -- writes that carry an event -------------------------------------------------------------

    def add(self, sub: SubscriptionRecord, event: Envelope, confirmation: tuple[str, int] | None) -> None:
        """The subscription, its confirmation (token hash, expiry) if any, and its event, in one transaction."""
        item: dict[str, Any] = {
            **_sub_key(sub.user_id, sub.id),
            "channel": {"S": sub.channel},
            "target": {"S": sub.target},
            "status": {"S": sub.status},
            "status_rank": {"N": str(STATUS_RANK[sub.status])},
            "event_types": {"L": [{"S": v} for v in sub.event_types]},
            "statuses": {"L": [{"S": v} for v in sub.statuses]},
            "admin": {"BOOL": sub.admin},
            "created_at": {"S": sub.created_at.isoformat()},
        }
        if sub.project_id:
            item["project_id"] = {"S": sub.project_id}
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            _outbox_put(self.table, event),
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
        self._ddb.transact_write_items(TransactItems=writes)

    def remove(self, user_id: str, subscription_id: str, event: Envelope) -> bool:
        """False when the user has no such subscription."""
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _sub_key(user_id, subscription_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    _outbox_put(self.table, event),
                ]
            )
            return True
        except ClientError as exc:
            if _cancelled_by_condition(exc):
                return False
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
                return False
            raise

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
