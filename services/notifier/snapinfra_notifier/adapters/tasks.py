"""The notifier's queue of delivery attempts: one message per notification, sent when it is created;
a retry is the same message made visible again later (up to 12 h), never a sleeping worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from snapinfra_shared.events import Envelope

TASK_TYPE = "NotificationDue"


def task_envelope(notification_id: str, user_id: str, correlation_id: str) -> Envelope:
    """Work for this service alone, in the envelope every consumer reads (for its logs' correlation id)."""
    return Envelope(
        id=uuid.uuid4(),
        type=TASK_TYPE,
        occurred_at=datetime.now(UTC),
        source="notifier",
        correlation_id=correlation_id,
        user_id=user_id,
        data={"notification_id": notification_id},
    )


class DeliveryQueue:
    def __init__(self, sqs: Any, queue_url: str):
        self._sqs = sqs
        self.queue_url = queue_url

    def enqueue(self, envelopes: list[Envelope]) -> None:
        for start in range(0, len(envelopes), 10):
            chunk = envelopes[start : start + 10]
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": e.model_dump_json(), "MessageAttributes": e.message_attributes()}
                    for i, e in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} delivery tasks were not queued")
