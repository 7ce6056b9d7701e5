"""The consumer's hooks for handlers with a schedule of their own (RetryAfter) and for announcing a
dead-lettered message (the system alert), against a real SQS API (moto over HTTP)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.consumer import Consumer, ConsumerOptions, Delivery, PoisonMessage, RetryAfter, parse_body
from snapinfra_shared.events import Envelope
from snapinfra_shared.runtime import Resources, dead_letter_announcer


def envelope() -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type="CodeGenerationRequested",
        occurred_at=datetime.now(UTC),
        source="api",
        correlation_id="corr-1",
        user_id="user-1",
        data={},
    )


def consumer(stack, handle, **extra) -> Consumer:
    return Consumer(
        stack.clients.sqs,
        queue_url=stack.queue_url("codegen"),
        dlq_url=stack.queue_url("codegen", dlq=True),
        handle=handle,
        options=ConsumerOptions(visibility_timeout=30, max_receive_count=5, wait_time_seconds=1),
        **extra,
    )


def test_retry_after_brings_the_message_back_after_the_handlers_delay_not_the_backoff(stack):
    event = envelope()
    stack.clients.sqs.send_message(QueueUrl=stack.queue_url("codegen"), MessageBody=event.model_dump_json())
    received: list[float] = []

    def handle(_event: Envelope, delivery: Delivery) -> None:
        received.append(time.monotonic())
        if len(received) == 1:
            raise RetryAfter(2, "not due yet")

    loop = consumer(stack, handle)
    (first,) = loop.poll_once()
    assert first.outcome == "retry" and first.delay == 2
    deadline = time.monotonic() + 10
    while len(received) < 2 and time.monotonic() < deadline:
        loop.poll_once()
    assert len(received) == 2 and 1.5 <= received[1] - received[0] < 6


def test_a_dead_lettered_message_is_announced_as_an_alert_from_its_service(stack):
    event = envelope()
    stack.clients.sqs.send_message(
        QueueUrl=stack.queue_url("codegen"),
        MessageBody=event.model_dump_json(),
        MessageAttributes=event.message_attributes(),
    )
    resources = Resources(
        service="codegen",
        table="t",
        bucket="b",
        prefix="codegen/",
        topic_arn=stack.provisioned["topics"]["codegen"],
        queue_url=None,
        dlq_url=None,
    )
    announce = dead_letter_announcer(AwsClients(), resources, "q-codegen")

    def refuse(_event: Envelope, _delivery: Delivery) -> None:
        raise PoisonMessage("cannot be handled")

    consumer(stack, refuse, on_dead_letter=announce).poll_once()
    (alert,) = [parse_body(m["Body"]) for m in stack.drain("notifier")]
    assert alert.type == "CodegenMessageDeadLettered" and alert.source == "codegen" and alert.user_id == "system"
    assert alert.data["event_id"] == str(event.id) and alert.data["error"] == "cannot be handled"
    assert alert.data["user_id"] == "user-1" and alert.data["queue"] == "q-codegen"
    assert len(stack.drain("codegen", dlq=True)) == 1  # the message itself waits in the DLQ


def test_on_stop_the_shutdown_hook_gives_back_what_unfinished_handlers_hold_before_their_message_reappears(stack):
    stack.clients.sqs.send_message(QueueUrl=stack.queue_url("codegen"), MessageBody=envelope().model_dump_json())
    started, release = threading.Event(), threading.Event()
    visible_at_hook: list[int] = []

    def handle(event: Envelope, delivery: Delivery) -> None:
        started.set()
        release.wait(10)

    def on_shutdown() -> None:
        seen = stack.clients.sqs.receive_message(QueueUrl=stack.queue_url("codegen"), WaitTimeSeconds=0)
        visible_at_hook.append(len(seen.get("Messages", [])))

    c = Consumer(
        stack.clients.sqs,
        queue_url=stack.queue_url("codegen"),
        dlq_url=stack.queue_url("codegen", dlq=True),
        handle=handle,
        options=ConsumerOptions(
            visibility_timeout=60, max_receive_count=5, wait_time_seconds=1, shutdown_grace_seconds=0.3
        ),
        on_shutdown=on_shutdown,
    )
    stop = threading.Event()
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.extend(c.poll_once(stop)))
    runner.start()
    assert started.wait(10)
    stop.set()
    runner.join(10)
    release.set()
    assert [r.outcome for r in outcome] == ["released"]
    assert visible_at_hook == [0]  # the hook ran once, while the message was still invisible
    [again] = stack.drain("codegen", wait=1)  # then released: visible at once, though its timeout is a minute
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
