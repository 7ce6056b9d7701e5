"""The notifier's own table: subscriptions (with their secrets), notifications (one per event and
subscription, the record of its attempts), and what it learned of deployments (their project).

Keys:
- subscription: `pk=USER#<user>`, `sk=SUB#<id>`; an admin's also `gsi1pk=ADMIN` (the sparse index of
  those who receive system alerts).
- notification: `pk=NOTIF#<id>`, `sk=NOTIF`, where the id is derived from the event and the subscription,
  so the conditional put that creates it is what makes a notification happen once.
- deployment: `pk=USER#<user>`, `sk=DEPLOYMENT#<id>` with its project id.
- schedule: `pk=USER#<user>`, `sk=SCHEDULE` with `next_slot`, the time from which the user's next
  delivery may be due (each user's deliveries are paced on their own schedule, see `fairness`).
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from botocore.exceptions import ClientError

from snapinfra_shared.catalog import Channel
from snapinfra_shared.conditional import ALL_OLD, holds, item_that_failed

SubscriptionStatus = Literal["pending_confirmation", "active", "disabled", "cancelled"]
NotificationState = Literal["pending", "succeeded", "failed", "refused"]
NOTIFICATION_RETENTION_SECONDS = 30 * 24 * 3600
TOMBSTONE_RETENTION_SECONDS = 30 * 24 * 3600
SCHEDULE_RETENTION_SECONDS = 7 * 24 * 3600  # an idle user's schedule goes; a new one starts at once anyway


@dataclass(frozen=True)
class Subscription:
    id: str
    user_id: str
    channel: Channel
    target: str
    status: SubscriptionStatus
    event_types: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    project_id: str | None = None
    admin: bool = False
    signing_secret: str | None = None
    confirmation_sent: bool = False
    code_issued_at: float | None = None  # when the newest SMS code that was texted was issued
    failing_since: float | None = None


@dataclass(frozen=True)
class Notification:
    id: str
    user_id: str
    subscription_id: str
    subscription_user_id: str
    event_json: str
    kind: str
    state: NotificationState
    attempts: int
    next_at: float
    lease_until: float


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _own_write(exc: ClientError, written: dict[str, Any], *, whole_item: bool = False) -> bool:
    """A conditional write failed on its condition, yet what is there is what it wrote: botocore retried it
    after DynamoDB had applied it (the answer was lost). False for a genuine conflict; raises otherwise.
    A put (`whole_item`) is its own only while the item is exactly what it wrote: once a handler moved it
    on (a confirmation sent, an attempt made), a redelivery's identical put is no longer taken for it."""
    found = item_that_failed(exc)
    if found is None:
        raise exc
    return holds(found, written, written) and (not whole_item or set(found) == set(written))


def _sub_key(user_id: str, subscription_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"SUB#{subscription_id}"}}


def _notif_key(notification_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"NOTIF#{notification_id}"}, "sk": {"S": "NOTIF"}}


def _subscription(item: dict[str, Any]) -> Subscription:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return Subscription(
        id=item["sk"]["S"].removeprefix("SUB#"),
        user_id=item["pk"]["S"].removeprefix("USER#"),
        channel=item["channel"]["S"] if "channel" in item else "email",
        target=text("target") or "",
        status=item["status"]["S"],
        event_types=[v["S"] for v in item.get("event_types", {}).get("L", [])],
        statuses=[v["S"] for v in item.get("statuses", {}).get("L", [])],
        project_id=text("project_id"),
        admin=bool(item.get("admin", {}).get("BOOL", False)),
        signing_secret=text("signing_secret"),
        confirmation_sent=bool(item.get("confirmation_sent", {}).get("BOOL", False)),
        code_issued_at=float(item["code_issued_at"]["N"]) if "code_issued_at" in item else None,
        failing_since=float(item["failing_since"]["N"]) if "failing_since" in item else None,
    )


def _notification(item: dict[str, Any]) -> Notification:
    return Notification(
        id=item["pk"]["S"].removeprefix("NOTIF#"),
        user_id=item["user_id"]["S"],
        subscription_id=item["subscription_id"]["S"],
        subscription_user_id=item["subscription_user_id"]["S"],
        event_json=item["event"]["S"],
        kind=item["kind"]["S"],
        state=item["state"]["S"],
        attempts=int(item["attempts"]["N"]),
        next_at=float(item["next_at"]["N"]),
        lease_until=float(item.get("lease_until", {}).get("N", "0")),
    )


F = TypeVar("F", bound=Callable[..., Any])


def _writes_subscriptions(method: F) -> F:
    """A store method that writes a subscription of the user it is given (a user id or the subscription):
    once written (or failed, perhaps written), that user's cached subscriptions go."""

    @functools.wraps(method)
    def writing(self: NotifierStore, of: Subscription | str, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, of, *args, **kwargs)
        finally:
            self.subscription_cache.invalidate(of.user_id if isinstance(of, Subscription) else of)

    return cast(F, writing)


class SubscriptionCache:
    """Each user's subscriptions as last queried, kept `seconds` on `clock` (0: not kept). The store drops a
    user's entry whenever this process writes one of that user's subscriptions; the time limit is the
    backstop for writes made by other notifier tasks. A query that began before such a write is not kept."""

    MAX_USERS = 10_000

    def __init__(self, seconds: float, clock: Callable[[], float]):
        self._seconds, self._clock = seconds, clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, list[Subscription]]] = {}
        self._writes = 0  # how many invalidations so far: a query that saw one begin after it is stale

    def get(self, user_id: str) -> tuple[list[Subscription] | None, int]:
        """The user's cached subscriptions (None: query them) and the mark to `put` the answer with."""
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is not None and entry[0] > self._clock():
                return list(entry[1]), self._writes
            return None, self._writes

    def put(self, user_id: str, subscriptions: list[Subscription], mark: int) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            if mark != self._writes:
                return  # a subscription was written while the query ran: it may not show it
            now = self._clock()
            if len(self._entries) >= self.MAX_USERS:
                self._entries = {user: e for user, e in self._entries.items() if e[0] > now}
                while len(self._entries) >= self.MAX_USERS:
                    del self._entries[next(iter(self._entries))]
            self._entries[user_id] = (now + self._seconds, list(subscriptions))

    def invalidate(self, user_id: str) -> None:
        with self._lock:
            self._writes += 1
            self._entries.pop(user_id, None)


class NotifierStore:
    """`subscription_cache_seconds`: how long a user's subscriptions, as queried for an event, serve the
    next events of that user (see SubscriptionCache)."""

    def __init__(
        self, dynamodb: Any, table: str, clock: Callable[[], float] = time.time, subscription_cache_seconds: float = 0
    ):
        self._ddb = dynamodb
        self.table = table
        self._clock = clock
        self.subscription_cache = SubscriptionCache(subscription_cache_seconds, clock)

    # -- subscriptions ----------------------------------------------------------------------

    @_writes_subscriptions
    def add_subscription(self, sub: Subscription) -> bool:
        """False when it is already there (a redelivery) or was cancelled before it arrived."""
        item: dict[str, Any] = {
            **_sub_key(sub.user_id, sub.id),
            "channel": {"S": sub.channel},
            "target": {"S": sub.target},
            "status": {"S": sub.status},
            "event_types": {"L": [{"S": v} for v in sub.event_types]},
            "statuses": {"L": [{"S": v} for v in sub.statuses]},
            "admin": {"BOOL": sub.admin},
            "confirmation_sent": {"BOOL": False},
        }
        if sub.project_id:
            item["project_id"] = {"S": sub.project_id}
        if sub.signing_secret:
            item["signing_secret"] = {"S": sub.signing_secret}
        if sub.admin:
            item |= {"gsi1pk": {"S": "ADMIN"}, "gsi1sk": {"S": f"SUB#{sub.id}"}}
        try:
            self._ddb.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)", **ALL_OLD
            )
            return True
        except ClientError as exc:
            return _own_write(exc, item, whole_item=True)

    def get_subscription(self, user_id: str, subscription_id: str) -> Subscription | None:
        item = self._ddb.get_item(
            TableName=self.table, Key=_sub_key(user_id, subscription_id), ConsistentRead=True
        ).get("Item")
        return _subscription(item) if item else None

    @_writes_subscriptions
    def mark_confirmation_sent(self, user_id: str, subscription_id: str) -> None:
        self._ddb.update_item(
            TableName=self.table,
            Key=_sub_key(user_id, subscription_id),
            UpdateExpression="SET confirmation_sent = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

    @_writes_subscriptions
    def mark_code_sent(self, user_id: str, subscription_id: str, issued_at: float) -> None:
        """Remember the newest code texted, so a redelivered or older one is not sent again."""
        self._ddb.update_item(
            TableName=self.table,
            Key=_sub_key(user_id, subscription_id),
            UpdateExpression="SET code_issued_at = :at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":at": {"N": repr(issued_at)}},
        )

    @_writes_subscriptions
    def move_subscription(
        self, user_id: str, subscription_id: str, to: SubscriptionStatus, *, when: tuple[SubscriptionStatus, ...]
    ) -> bool:
        """Set the status, only from one of `when`; False when it was not in one of them (or is missing)."""
        values = {f":from{i}": {"S": s} for i, s in enumerate(when)}
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_sub_key(user_id, subscription_id),
                UpdateExpression="SET #status = :to",
                ConditionExpression=f"attribute_exists(pk) AND #status IN ({', '.join(values)})",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":to": {"S": to}, **values},
            )
            return True
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise

    @_writes_subscriptions
    def cancel_subscription(self, user_id: str, subscription_id: str) -> None:
        """A tombstone, written whether or not the subscription arrived yet, so a late request stays cancelled."""
        self._ddb.update_item(
            TableName=self.table,
            Key=_sub_key(user_id, subscription_id),
            UpdateExpression="SET #status = :cancelled, expires_at = :expires REMOVE signing_secret, gsi1pk, gsi1sk",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":cancelled": {"S": "cancelled"},
                ":expires": {"N": str(int(self._clock()) + TOMBSTONE_RETENTION_SECONDS)},
            },
        )

    def subscriptions_of(self, user_id: str) -> list[Subscription]:
        """The user's subscriptions, from the cache while it holds them (see SubscriptionCache)."""
        cached, mark = self.subscription_cache.get(user_id)
        if cached is not None:
            return cached
        found = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}, ":prefix": {"S": "SUB#"}},
        )
        self.subscription_cache.put(user_id, found, mark)
        return found

    def admin_subscriptions(self) -> list[Subscription]:
        return self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :admin",
            ExpressionAttributeValues={":admin": {"S": "ADMIN"}},
        )

    def _query(self, **query: Any) -> list[Subscription]:
        found: list[Subscription] = []
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(TableName=self.table, **query):
            found += [_subscription(item) for item in page.get("Items", [])]
        return found

    @_writes_subscriptions
    def record_failure(self, user_id: str, subscription_id: str, now: float) -> float:
        """Note a failed attempt; returns since when the subscription has failed without a success."""
        response = self._ddb.update_item(
            TableName=self.table,
            Key=_sub_key(user_id, subscription_id),
            UpdateExpression="SET failing_since = if_not_exists(failing_since, :now)",
            ExpressionAttributeValues={":now": {"N": repr(now)}},
            ReturnValues="ALL_NEW",
        )
        return float(response["Attributes"]["failing_since"]["N"])

    @_writes_subscriptions
    def record_success(self, user_id: str, subscription_id: str) -> None:
        self._ddb.update_item(
            TableName=self.table, Key=_sub_key(user_id, subscription_id), UpdateExpression="REMOVE failing_since"
        )

    # -- deployments: which project each belongs to (only DeploymentRequested says) -----------

    def remember_deployment(self, user_id: str, deployment_id: str, project_id: str) -> None:
        self._ddb.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"USER#{user_id}"},
                "sk": {"S": f"DEPLOYMENT#{deployment_id}"},
                "project_id": {"S": project_id},
            },
        )

    def deployment_project(self, user_id: str, deployment_id: str) -> str | None:
        item = self._ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"USER#{user_id}"}, "sk": {"S": f"DEPLOYMENT#{deployment_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return item["project_id"]["S"] if item else None

    # -- notifications ------------------------------------------------------------------------

    def create_notification(self, notification: Notification) -> bool:
        """The one write that makes a notification happen once: False when it exists already (and is not
        this very write, applied before botocore retried it)."""
        item = {
            **_notif_key(notification.id),
            "user_id": {"S": notification.user_id},
            "subscription_id": {"S": notification.subscription_id},
            "subscription_user_id": {"S": notification.subscription_user_id},
            "event": {"S": notification.event_json},
            "kind": {"S": notification.kind},
            "state": {"S": notification.state},
            "attempts": {"N": "0"},
            "next_at": {"N": repr(notification.next_at)},
            "expires_at": {"N": str(int(self._clock()) + NOTIFICATION_RETENTION_SECONDS)},
        }
        try:
            self._ddb.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)", **ALL_OLD
            )
            return True
        except ClientError as exc:
            return _own_write(exc, item, whole_item=True)

    def get_notification(self, notification_id: str) -> Notification | None:
        item = self._ddb.get_item(TableName=self.table, Key=_notif_key(notification_id), ConsistentRead=True).get(
            "Item"
        )
        return _notification(item) if item else None

    def claim_attempt(self, notification: Notification, now: float, lease_seconds: int) -> bool:
        """Take the next attempt of a pending notification; False if another worker has it or it moved on."""
        claimed = {
            "state": {"S": "pending"},
            "attempts": {"N": str(notification.attempts)},
            "lease_until": {"N": repr(now + lease_seconds)},
            "leased_by": {"S": str(uuid.uuid4())},  # tells this claim from another worker's at the same time
        }
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_notif_key(notification.id),
                UpdateExpression="SET lease_until = :until, leased_by = :me",
                ConditionExpression=(
                    "#state = :pending AND attempts = :attempts AND "
                    "(attribute_not_exists(lease_until) OR lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":pending": claimed["state"],
                    ":attempts": claimed["attempts"],
                    ":now": {"N": repr(now)},
                    ":until": claimed["lease_until"],
                    ":me": claimed["leased_by"],
                },
                **ALL_OLD,
            )
            return True
        except ClientError as exc:
            return _own_write(exc, claimed)

    def settle_attempt(self, notification: Notification, state: NotificationState, next_at: float) -> None:
        """Record the attempt this worker claimed: the count moves on, the lease goes. Raises when the
        notification moved on otherwise; succeeds when what is there is this very settlement (botocore
        retried it after DynamoDB had applied it)."""
        settled: dict[str, Any] = {
            "state": {"S": state},
            "attempts": {"N": str(notification.attempts + 1)},
            "next_at": {"N": repr(next_at)},
            "lease_until": None,  # removed
            "leased_by": None,
        }
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=_notif_key(notification.id),
                UpdateExpression="SET #state = :state, attempts = :next, next_at = :at REMOVE lease_until, leased_by",
                ConditionExpression="attempts = :attempts",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":state": settled["state"],
                    ":next": settled["attempts"],
                    ":attempts": {"N": str(notification.attempts)},
                    ":at": settled["next_at"],
                },
                **ALL_OLD,
            )
        except ClientError as exc:
            if not _own_write(exc, settled):
                raise

    # -- each user's delivery schedule ----------------------------------------------------------

    def reserve_slots(self, user_id: str, count: int, *, not_before: float, interval: float) -> float:
        """Take `count` consecutive slots, `interval` apart, on the user's schedule, from its end or from
        `not_before` if the schedule ends earlier; returns the first slot's time.

        A retried call may reserve twice: that leaves a gap in the schedule, never a shared slot."""
        span = count * interval
        key = {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "SCHEDULE"}}
        values = {
            ":start": {"N": repr(not_before)},
            ":expires": {"N": str(int(self._clock()) + SCHEDULE_RETENTION_SECONDS)},
        }
        while True:
            try:  # a busy user: the schedule goes on from its end
                response = self._ddb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET next_slot = next_slot + :span, expires_at = :expires",
                    ConditionExpression="next_slot >= :start",
                    ExpressionAttributeValues={**values, ":span": {"N": repr(span)}},
                    ReturnValues="UPDATED_OLD",
                )
                return float(response["Attributes"]["next_slot"]["N"])
            except ClientError as exc:
                if not _is_conditional_failure(exc):
                    raise
            try:  # an idle one: it starts again from `not_before`
                self._ddb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET next_slot = :end, expires_at = :expires",
                    ConditionExpression="attribute_not_exists(next_slot) OR next_slot < :start",
                    ExpressionAttributeValues={**values, ":end": {"N": repr(not_before + span)}},
                )
                return not_before
            except ClientError as exc:
                if not _is_conditional_failure(exc):
                    raise
