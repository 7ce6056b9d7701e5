"""Telling a conditional write's own retry apart from a real conflict.

botocore retries a write whose answer was lost (a read timeout, a dropped connection), yet DynamoDB may
have applied it: the retry then fails its own condition. So every conditional write asks DynamoDB for the
item that failed the condition (`ReturnValuesOnConditionCheckFailure=ALL_OLD`, which DynamoDB returns at
no extra cost) and compares it with what this call wrote: the same values are this call's own write, and
the call succeeded; other values are a genuine conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from botocore.exceptions import ClientError

ALL_OLD: dict[str, str] = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


def condition_failed(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


def item_that_failed(exc: ClientError) -> dict[str, Any] | None:
    """The item a conditional write met (asked for with ALL_OLD); None when `exc` is no failed condition."""
    if not condition_failed(exc):
        return None
    return dict(cast(dict[str, Any], exc.response).get("Item") or {})


def cancelled_item(exc: ClientError, index: int) -> dict[str, Any] | None:
    """The item the `index`-th write of a cancelled transaction met, when that write failed its condition."""
    response = cast(dict[str, Any], exc.response)
    if response["Error"]["Code"] != "TransactionCanceledException":
        return None
    reasons = response.get("CancellationReasons") or []
    if index >= len(reasons) or reasons[index].get("Code") != "ConditionalCheckFailed":
        return None
    return dict(reasons[index].get("Item") or {})


def holds(item: Mapping[str, Any] | None, written: Mapping[str, Any], names: Iterable[str]) -> bool:
    """`item` has what `written` has under each of `names` (absent from both counts as the same)."""
    return item is not None and all(item.get(name) == written.get(name) for name in names)


def put_new(dynamodb: Any, table: str, item: Mapping[str, Any], created: Iterable[str]) -> None:
    """Create `item` under a key that must be free. A retried put that meets the item it wrote itself (the
    same values under each of `created`, the fields nothing changes later) succeeded; any other raises."""
    try:
        dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)", **ALL_OLD)
    except ClientError as exc:
        if not holds(item_that_failed(exc), item, created):
            raise
