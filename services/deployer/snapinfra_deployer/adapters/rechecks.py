"""The queue carries the waiting: instead of sleeping on a message while a stack is created or deleted,
the deployer puts a copy of the event back on its own queue, delayed, and lets the original go.

A fresh copy (rather than a longer visibility timeout on the same message) starts its receive count
at zero, so a stack that takes an hour is never mistaken for a message that keeps failing.
"""

from __future__ import annotations

from typing import Any

from snapinfra_shared.events import Envelope

MAX_DELAY_SECONDS = 900  # SQS's limit


class Rechecks:
    def __init__(self, sqs: Any, queue_url: str):
        self._sqs = sqs
        self.queue_url = queue_url

    def later(self, event: Envelope, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=event.model_dump_json(),
            MessageAttributes=event.message_attributes(),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
        )
