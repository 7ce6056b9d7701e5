"""The notifier's handlers. Until notifications are built (see the notifications issue), the notifier
consumes its events and logs each one, so the flow through its queue is visible end to end."""

from __future__ import annotations

import logging

from snapinfra_shared.catalog import EventData
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope

log = logging.getLogger(__name__)


def record_event(event: Envelope, data: EventData, delivery: Delivery) -> None:
    ids = {k: v for k, v in data.model_dump(mode="json").items() if k.endswith("_id")}
    log.info(
        "event received",
        extra={"event_type": event.type, "user_id": event.user_id, "receive_count": delivery.receive_count, **ids},
    )
