"""The use cases of notification subscriptions, apart from HTTP: subscribe, confirm, list, unsubscribe,
and the record of delivery attempts. The notifier owns subscriptions and delivery; the api validates,
makes the ids and secrets, keeps its read model, and tells the notifier through events."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uuid6

from snapinfra_api.adapters.outbox import OutboxRelay, publish_now
from snapinfra_api.adapters.subscriptions import SubscriptionReadModel, SubscriptionRecord
from snapinfra_shared.catalog import (
    Channel,
    SubscriptionCancelled,
    SubscriptionConfirmed,
    SubscriptionFilters,
    SubscriptionRequested,
)
from snapinfra_shared.events import new_event
from snapinfra_shared.publisher import Publisher


class SubscriptionNotFound(LookupError):
    pass


class ConfirmationNotFound(LookupError):
    pass


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Created:
    subscription: SubscriptionRecord
    secret: str | None


@dataclass(frozen=True)
class Notifications:
    read_model: SubscriptionReadModel
    publisher: Publisher
    outbox: OutboxRelay
    confirmation_ttl_seconds: int

    def subscribe(
        self,
        *,
        user_id: str,
        channel: Channel,
        target: str,
        filters: SubscriptionFilters,
        admin: bool,
        correlation_id: str,
    ) -> Created:
        now = datetime.now(UTC)
        sub = SubscriptionRecord(
            id=str(uuid6.uuid7()),
            user_id=user_id,
            channel=channel,
            target=target,
            status="pending_confirmation" if channel == "email" else "active",
            event_types=filters.event_types,
            statuses=filters.statuses,
            project_id=filters.project_id,
            admin=admin,
            created_at=now,
        )
        token = secrets.token_urlsafe(32) if channel == "email" else None
        secret = new_signing_secret() if channel == "webhook" else None
        event = new_event(
            "SubscriptionRequested",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            occurred_at=now,
            data=SubscriptionRequested(
                subscription_id=sub.id,
                channel=channel,
                target=target,
                filters=filters,
                admin=admin,
                confirmation_token=token,
                signing_secret=secret,
                requested_at=now,
            ),
        )
        confirmation = (token_hash(token), int(now.timestamp()) + self.confirmation_ttl_seconds) if token else None
        self.read_model.add(sub, event, confirmation)
        if publish_now(self.publisher, event):
            self.outbox.published(event)
        # An active channel shows as active once the notifier says so; until then it is what we asked.
        return Created(sub, secret)

    def confirm(self, token: str, correlation_id: str) -> str:
        """Confirm an email subscription by the token its link carries; returns the subscription id."""
        hashed = token_hash(token)
        found = self.read_model.confirmation(hashed)
        if found is None or self.read_model.get(found.user_id, found.subscription_id) is None:
            raise ConfirmationNotFound("this confirmation link is unknown, expired, or its subscription is gone")
        if found.confirmed:
            return found.subscription_id  # a second click: confirmed already
        event = new_event(
            "SubscriptionConfirmed",
            source="api",
            user_id=found.user_id,
            correlation_id=correlation_id,
            data=SubscriptionConfirmed(subscription_id=found.subscription_id, confirmed_at=datetime.now(UTC)),
        )
        if self.read_model.confirm(hashed, event) and publish_now(self.publisher, event):
            self.outbox.published(event)
        return found.subscription_id

    def page(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[SubscriptionRecord], str | None]:
        return self.read_model.page(user_id, limit=limit, cursor=cursor)

    def unsubscribe(self, user_id: str, subscription_id: str, correlation_id: str) -> None:
        event = new_event(
            "SubscriptionCancelled",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            data=SubscriptionCancelled(subscription_id=subscription_id),
        )
        if not self.read_model.remove(user_id, subscription_id, event):
            raise SubscriptionNotFound(subscription_id)
        if publish_now(self.publisher, event):
            self.outbox.published(event)

    def deliveries(
        self, user_id: str, *, limit: int, cursor: str | None, subscription_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.read_model.deliveries(user_id, limit=limit, cursor=cursor, subscription_id=subscription_id)
