"""What the admin routes accept and answer (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from snapinfra_api.admin.store import DeadLetter, Depth


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class QueueDepthOut(_Out):
    name: str
    visible: int = Field(description="messages waiting to be received")
    in_flight: int = Field(description="received and not yet deleted (being handled, or backing off)")
    delayed: int

    @classmethod
    def of(cls, depth: Depth) -> QueueDepthOut:
        return cls(name=depth.name, visible=depth.visible, in_flight=depth.in_flight, delayed=depth.delayed)


class QueueStatusOut(_Out):
    service: str
    purpose: Literal["events", "work"] = Field(description="the service's event queue, or a work queue of its own")
    queue: QueueDepthOut
    dlq: QueueDepthOut
    dlq_depth: int = Field(description="every message in the DLQ, visible or not")


class QueueStatusListOut(_Out):
    queues: list[QueueStatusOut]
    checked_at: datetime


class DeadLetterOut(_Out):
    message_id: str
    type: str | None = Field(description="the event type, when the message is an event")
    event_id: str | None
    receive_count: int
    error: str | None = Field(description="why the consumer gave up on it, when it says")
    source_queue: str | None
    sent_at: datetime | None = Field(description="when it entered the DLQ")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            message_id=letter.message_id,
            type=letter.event_type,
            event_id=letter.event_id,
            receive_count=letter.receive_count,
            error=letter.error,
            source_queue=letter.source_queue,
            sent_at=letter.sent_at,
        )


class DeadLetterListOut(_Out):
    queue: str
    dlq: str
    items: list[DeadLetterOut]


class DlqQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500, description="at most this many messages")


class RedriveOut(_Out):
    queue: str
    moved: int
    failed: int
    remaining: int = Field(description="messages still visible in the DLQ afterwards")
