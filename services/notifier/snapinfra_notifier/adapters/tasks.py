"""The notifier's queue of delivery attempts: one message per notification, sent when it is created;
a retry is the same message made visible again later (up to 12 h), never a sleeping worker."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from snapinfra_shared import tracing
from snapinfra_shared.events import Envelope

TASK_TYPE = "NotificationDue"


MAX_DELAY_SECONDS = 900  # SQS delays a new message up to 15 min; a later task comes early and waits again


def task_envelope(notification_id: str, user_id: str, correlation_id: str, due_at: float = 0.0) -> Envelope:
    """Work for this service alone, in the envelope every consumer reads (for its logs' correlation id):
    attempt this notification, of this user's subscription, from `due_at` (its slot on the user's schedule)."""
    return Envelope(
        id=uuid.uuid4(),
        type=TASK_TYPE,
        occurred_at=datetime.now(UTC),
        source="notifier",
        correlation_id=correlation_id,
        user_id=user_id,
        data={"notification_id": notification_id, "due_at": due_at},
    )


def check_task(task: Envelope) -> None:
    """Raise ValueError for a message on the delivery queue that is not one of this service's tasks (a
    stray or forged envelope): it is refused to the DLQ, never taken for a settled delivery and deleted."""
    if task.type != TASK_TYPE or task.source != "notifier":
        raise ValueError(f"the delivery queue holds only {TASK_TYPE} tasks of the notifier, not {task.type}")
    notification = task.data.get("notification_id")
    if not isinstance(notification, str) or not notification:
        raise ValueError(f"{TASK_TYPE} without a notification_id")
    if not isinstance(task.data.get("due_at", 0.0), int | float):
        raise ValueError(f"{TASK_TYPE} with a due_at that is not a number")


def due_at(task: Envelope) -> float:
    value = task.data.get("due_at", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


class DeliveryQueue:
    def __init__(self, sqs: Any, queue_url: str):
        self._sqs = sqs
        self.queue_url = queue_url

    def enqueue(self, envelopes: list[Envelope], now: float) -> None:
        """Send the tasks, each invisible until its `due_at` (as far as SQS delays go)."""
        for start in range(0, len(envelopes), 10):
            chunk = envelopes[start : start + 10]
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": e.model_dump_json(),
                        "MessageAttributes": tracing.inject(e.message_attributes()),
                        "DelaySeconds": min(MAX_DELAY_SECONDS, max(0, math.ceil(due_at(e) - now))),
                    }
                    for i, e in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} delivery tasks were not queued")
