"""Plumbing every read model in the api's table shares: listing cursors and the outbox attributes."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from snapinfra_shared.events import Envelope

OUTBOX_PK = "OUTBOX"


class InvalidCursor(ValueError):
    pass


def encode_cursor(key: dict[str, Any]) -> str:
    """A page's LastEvaluatedKey as an opaque string a client hands back."""
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def key_names(partition_name: str) -> set[str]:
    """The attributes of a LastEvaluatedKey: the table's keys, plus the index's when the listing uses one
    (an index's partition key `<index>pk` goes with its sort key `<index>sk`)."""
    if partition_name == "pk":
        return {"pk", "sk"}
    return {"pk", "sk", partition_name, partition_name.removesuffix("pk") + "sk"}


def decode_cursor(cursor: str, partition: tuple[str, str]) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor stands for; refused unless it has exactly the keys of this listing
    and its `partition` (name, value) is the caller's, so a cursor never crosses users or listings."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not isinstance(plain, dict) or not all(isinstance(v, str) for v in plain.values()):
        raise InvalidCursor("cursor is not one this API returned")
    name, value = partition
    if set(plain) != key_names(name) or plain.get(name) != value:
        raise InvalidCursor("cursor belongs to another listing")
    return {k: {"S": v} for k, v in plain.items()}


def outbox_attributes(event: Envelope, due: datetime | None = None) -> dict[str, Any]:
    """What puts an item in the sparse `outbox` index, carrying its event until it is settled."""
    return {
        "outbox_pk": {"S": OUTBOX_PK},
        "outbox_sk": {"S": f"{(due or event.occurred_at).isoformat()}#{event.id}"},
        "outbox_event": {"S": event.model_dump_json()},
    }


def standalone_outbox_key(event: Envelope) -> dict[str, Any]:
    """The key of an outbox item of its own (for events whose record is being deleted)."""
    return {"pk": {"S": f"{OUTBOX_PK}#{event.id}"}, "sk": {"S": OUTBOX_PK}}


def outbox_item_written(dynamodb: Any, table: str, event: Envelope) -> bool:
    """Whether a transaction that put `event` on its standalone outbox item was applied. When botocore
    retries a transaction DynamoDB had applied, the retry fails its own condition; the outbox item, keyed
    by this call's event, tells that apart from a genuine conflict (it is deleted only after publishing)."""
    item = dynamodb.get_item(TableName=table, Key=standalone_outbox_key(event), ConsistentRead=True).get("Item")
    return bool(item) and item.get("outbox_event") == outbox_attributes(event)["outbox_event"]
