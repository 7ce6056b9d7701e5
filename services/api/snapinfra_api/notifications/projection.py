"""The api's projection of the notifier's events: subscription status (monotonic) and the record of
every delivery attempt (idempotent on the attempt)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

from snapinfra_api.notifications.store import SubscriptionReadModel
from snapinfra_shared.catalog import NotificationAttempted, SubscriptionActivated, SubscriptionDisabled
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope
from snapinfra_shared.runtime import EventHandler

log = logging.getLogger(__name__)


def subscription_activated(
    event: Envelope, data: SubscriptionActivated, _: Delivery, *, subs: SubscriptionReadModel
) -> None:
    if not subs.advance(event.user_id, data.subscription_id, "active"):
        log.info("subscription already further, or gone", extra={"subscription_id": data.subscription_id})


def subscription_disabled(
    event: Envelope, data: SubscriptionDisabled, _: Delivery, *, subs: SubscriptionReadModel
) -> None:
    subs.advance(event.user_id, data.subscription_id, "disabled")


def notification_attempted(
    event: Envelope, data: NotificationAttempted, _: Delivery, *, subs: SubscriptionReadModel
) -> None:
    subs.record_delivery(event.user_id, data)


def build_notification_handlers(subs: SubscriptionReadModel) -> Mapping[str, EventHandler]:
    return {
        "SubscriptionActivated": functools.partial(subscription_activated, subs=subs),
        "SubscriptionDisabled": functools.partial(subscription_disabled, subs=subs),
        "NotificationAttempted": functools.partial(notification_attempted, subs=subs),
    }
