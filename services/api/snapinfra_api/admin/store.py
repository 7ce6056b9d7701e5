"""What the admin routes read and do on the topology's queues: depths, dead letters, redrive.

Looking at a DLQ means receiving its messages (SQS has no peek). They are held invisible only while
the listing pages through them, then released at once; nothing is ever deleted by a listing. A
redrive sends each message back to its source queue and deletes it from the DLQ only once the send
succeeded, so a failure in between gives a duplicate (handlers are idempotent), never a loss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from snapinfra_shared.consumer import ERROR_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE, SOURCE_QUEUE_ATTRIBUTE, parse_body
from snapinfra_shared.topology import QueueSpec, Topology

log = logging.getLogger(__name__)

DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
LISTING_HOLD_SECONDS = 30  # if this process dies mid-listing, the messages reappear after this
OUR_ATTRIBUTES = (ERROR_ATTRIBUTE, SOURCE_QUEUE_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE)


class UnknownQueue(LookupError):
    pass


@dataclass(frozen=True)
class Depth:
    name: str
    visible: int
    in_flight: int
    delayed: int


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    event_type: str | None
    event_id: str | None
    receive_count: int
    error: str | None
    source_queue: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class Redrive:
    moved: int
    failed: int
    remaining: int


def _string_attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name, {}).get("StringValue")
    return str(value) if value is not None else None


class QueueInspector:
    def __init__(self, sqs: Any, topology: Topology):
        self._sqs, self._topology = sqs, topology

    def queues(self) -> list[QueueSpec]:
        """Every queue a service consumes: the event queues, then the work queues (the notifier's deliveries)."""
        return [*self._topology.queues.values(), *self._topology.work_queues.values()]

    def is_work_queue(self, spec: QueueSpec) -> bool:
        return spec in self._topology.work_queues.values()

    def find(self, name: str) -> QueueSpec:
        """A queue of the topology by its service (`codegen`) or its name (`<prefix>-codegen[-dlq]`); a work
        queue by its name, with or without the prefix (`notifier-deliveries`)."""
        for spec in self._topology.queues.values():
            if name in (spec.service, spec.name, spec.dlq_name):
                return spec
        for spec in self._topology.work_queues.values():
            if name in (spec.name.removeprefix(f"{self._topology.prefix}-"), spec.name, spec.dlq_name):
                return spec
        raise UnknownQueue(name)

    def _url(self, name: str) -> str:
        return str(self._sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def depth(self, name: str) -> Depth:
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._url(name), AttributeNames=list(DEPTH_ATTRIBUTES))[
            "Attributes"
        ]
        visible, in_flight, delayed = (int(attributes.get(a, 0)) for a in DEPTH_ATTRIBUTES)
        return Depth(name, visible, in_flight, delayed)

    def dead_letters(self, spec: QueueSpec, limit: int) -> list[DeadLetter]:
        """Up to `limit` messages of the queue's DLQ, received then released (never deleted)."""
        url = self._url(spec.dlq_name)
        held: dict[str, dict[str, Any]] = {}
        try:
            while len(held) < limit:
                response = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, limit - len(held)),
                    VisibilityTimeout=LISTING_HOLD_SECONDS,
                    WaitTimeSeconds=0,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                )
                fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in held]
                if not fresh:
                    break
                held.update({m["MessageId"]: m for m in fresh})
        finally:
            self._release(url, list(held.values()))
        letters = [self._letter(m) for m in held.values()]
        return sorted(letters, key=lambda letter: letter.sent_at or datetime.min.replace(tzinfo=UTC))

    def redrive(self, spec: QueueSpec, limit: int) -> Redrive:
        """Move up to `limit` messages from the DLQ back to their queue, for another try."""
        dlq_url, queue_url = self._url(spec.dlq_name), self._url(spec.name)
        moved = failed = 0
        while moved + failed < limit:
            messages = self._sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=min(10, limit - moved - failed),
                VisibilityTimeout=LISTING_HOLD_SECONDS,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            response = self._sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _resent_attributes(m)}
                    for i, m in enumerate(messages)
                ],
            )
            refused = {f["Id"] for f in response.get("Failed", [])}
            sent = [m for i, m in enumerate(messages) if str(i) not in refused]
            back = [m for i, m in enumerate(messages) if str(i) in refused]
            if sent:
                self._sqs.delete_message_batch(
                    QueueUrl=dlq_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)],
                )
            self._release(dlq_url, back)
            moved, failed = moved + len(sent), failed + len(back)
            if back:
                break  # the queue refuses sends now; the rest stays in the DLQ for a later redrive
        return Redrive(moved, failed, self.depth(spec.dlq_name).visible)

    def _release(self, url: str, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self._sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )

    @staticmethod
    def _letter(message: dict[str, Any]) -> DeadLetter:
        event_type = event_id = None
        try:
            event = parse_body(message["Body"])
            event_type, event_id = event.type, str(event.id)
        except ValueError:  # a malformed message is dead-lettered as it came: say what is known
            event_type = _string_attribute(message, "type")
        counted = _string_attribute(message, RECEIVE_COUNT_ATTRIBUTE)
        system = message.get("Attributes", {})
        on_dlq = int(system.get("ApproximateReceiveCount", 0))
        sent = system.get("SentTimestamp")
        return DeadLetter(
            message_id=message["MessageId"],
            event_type=event_type,
            event_id=event_id,
            # The receives on the source queue when the consumer gave up, as it recorded them; for a
            # message SQS moved itself (a worker died holding it), what SQS counts on the DLQ.
            receive_count=int(counted) if counted and counted.isdigit() else on_dlq,
            error=_string_attribute(message, ERROR_ATTRIBUTE),
            source_queue=_string_attribute(message, SOURCE_QUEUE_ATTRIBUTE),
            sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        )


def _resent_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """The event's own attributes (type, source, user_id), without what the DLQ move added."""
    return {
        name: {k: v for k, v in attribute.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, attribute in message.get("MessageAttributes", {}).items()
        if name not in OUR_ATTRIBUTES
    }
