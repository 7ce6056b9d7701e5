"""The consumer loop against a real SQS API (moto over HTTP)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from snapinfra_shared.consumer import (
    ERROR_ATTRIBUTE,
    Consumer,
    ConsumerOptions,
    Delivery,
    NotYet,
    PoisonMessage,
    parse_body,
)
from snapinfra_shared.events import Envelope
from snapinfra_shared.runtime import consumer_options
from snapinfra_shared.settings import WorkerSettings
from snapinfra_shared.topology import build_topology


def envelope(n: int = 0) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type="CodeGenerationStarted",
        occurred_at=datetime.now(UTC),
        source="codegen",
        correlation_id=f"corr-{n}",
        user_id="user-1",
        data={"n": n},
    )


def make_consumer(stack, handle, **options) -> Consumer:
    defaults = dict(visibility_timeout=30, max_receive_count=3, wait_time_seconds=1, retry_base_seconds=0.5)
    return Consumer(
        stack.clients.sqs,
        queue_url=stack.queue_url("api"),
        dlq_url=stack.queue_url("api", dlq=True),
        handle=handle,
        options=ConsumerOptions(**{**defaults, **options}),
    )


def send(stack, *bodies: str) -> None:
    for body in bodies:
        stack.clients.sqs.send_message(QueueUrl=stack.queue_url("api"), MessageBody=body)


def test_handled_messages_are_deleted_and_each_is_handled_on_its_own(stack):
    events = [envelope(i) for i in range(3)]
    send(stack, *(e.model_dump_json() for e in events))
    seen: list[int] = []

    def handle(event: Envelope, delivery: Delivery) -> None:
        if event.data["n"] == 1:
            raise RuntimeError("boom")
        seen.append(event.data["n"])

    consumer = make_consumer(stack, handle, retry_base_seconds=30)
    handled = []
    while len(handled) < 3:
        handled += consumer.poll_once()
    assert sorted(seen) == [0, 2]
    assert sorted(r.outcome for r in handled) == ["ok", "ok", "retry"]
    # Only the failure is still on the queue (invisible for its backoff).
    attributes = stack.clients.sqs.get_queue_attributes(QueueUrl=stack.queue_url("api"), AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_failing_message_is_retried_then_dead_lettered_with_its_error(stack):
    send(stack, envelope().model_dump_json())
    attempts: list[int] = []

    def handle(event: Envelope, delivery: Delivery) -> None:
        attempts.append(delivery.receive_count)
        raise ValueError("the template bucket is gone")

    consumer = make_consumer(stack, handle, max_receive_count=3, retry_base_seconds=0.5)
    deadline = time.monotonic() + 30
    while len(attempts) < 3 and time.monotonic() < deadline:
        consumer.poll_once()
    assert attempts == [1, 2, 3]
    assert stack.drain("api") == []
    [dead] = stack.drain("api", dlq=True)
    assert "the template bucket is gone" in dead["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
    assert parse_body(dead["Body"]).correlation_id == "corr-0"


def test_an_expected_wait_is_retried_as_a_warning_and_still_ends_in_the_dlq(stack, caplog):
    """NotYet: an event ahead of what it refers to. Retried like any failure, but no ERROR, no traceback."""
    send(stack, envelope().model_dump_json())
    attempts: list[int] = []

    def handle(event: Envelope, delivery: Delivery) -> None:
        attempts.append(delivery.receive_count)
        raise NotYet("subscription s-1 has not arrived yet")

    consumer = make_consumer(stack, handle, max_receive_count=3, retry_base_seconds=0.5)
    deadline = time.monotonic() + 30
    with caplog.at_level("INFO", logger="snapinfra_shared.consumer"):
        while len(attempts) < 3 and time.monotonic() < deadline:
            consumer.poll_once()
    assert attempts == [1, 2, 3]
    waits = [r for r in caplog.records if r.getMessage() == "not handled yet; retrying"]
    assert [r.levelname for r in waits] == ["WARNING"] * 3 and not any(r.exc_info for r in waits)
    assert not [r for r in caplog.records if r.levelname == "ERROR" and r.getMessage() == "handler failed"]
    [dead] = stack.drain("api", dlq=True)  # a wait that never ends is still dead-lettered, with its reason
    assert "not yet: subscription s-1 has not arrived yet" in dead["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "malformed message"),
        (json.dumps({"id": "x"}), "malformed message"),
        (json.dumps([1, 2]), "malformed message"),
    ],
)
def test_a_malformed_message_goes_to_the_dlq_at_once(stack, body, reason):
    send(stack, body)
    calls: list[Envelope] = []
    consumer = make_consumer(stack, lambda e, d: calls.append(e))
    results = consumer.poll_once()
    assert [r.outcome for r in results] == ["poison"]
    assert calls == []
    [dead] = stack.drain("api", dlq=True)
    assert dead["Body"] == body
    assert reason in dead["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
    assert stack.drain("api") == []


def test_a_handler_can_refuse_a_message_as_poison(stack):
    send(stack, envelope().model_dump_json())

    def handle(event: Envelope, delivery: Delivery) -> None:
        raise PoisonMessage("refers to a job of another user")

    make_consumer(stack, handle).poll_once()
    [dead] = stack.drain("api", dlq=True)
    assert dead["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"] == "refers to a job of another user"
    assert dead["MessageAttributes"]["snapinfra_source_queue"]["StringValue"] == stack.queue_url("api")


def test_the_heartbeat_keeps_a_long_handler_s_message_invisible(stack):
    send(stack, envelope().model_dump_json())
    other_receives: list[dict] = []
    handled = threading.Event()

    def handle(event: Envelope, delivery: Delivery) -> None:
        # Meanwhile another worker polls: it must see nothing, though the timeout (2 s) runs out twice.
        end = time.monotonic() + 4.5
        while time.monotonic() < end:
            response = stack.clients.sqs.receive_message(QueueUrl=stack.queue_url("api"), WaitTimeSeconds=1)
            other_receives.extend(response.get("Messages", []))
        handled.set()

    consumer = make_consumer(stack, handle, visibility_timeout=2)
    stop = threading.Event()
    runner = threading.Thread(target=consumer.run, args=(stop,))
    runner.start()
    try:
        assert handled.wait(20)
        time.sleep(0.5)  # let the loop settle (delete) the batch
    finally:
        stop.set()
        runner.join(10)
    assert other_receives == []
    assert stack.drain("api") == []  # handled and deleted, not redelivered


def test_on_stop_an_unfinished_message_is_released_for_another_worker(stack):
    send(stack, envelope().model_dump_json())
    started, release = threading.Event(), threading.Event()

    def handle(event: Envelope, delivery: Delivery) -> None:
        started.set()
        release.wait(10)

    consumer = make_consumer(stack, handle, shutdown_grace_seconds=0.5, visibility_timeout=60)
    stop = threading.Event()
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.extend(consumer.poll_once(stop)))
    runner.start()
    assert started.wait(10)
    stop.set()
    runner.join(10)
    release.set()
    assert [r.outcome for r in outcome] == ["released"]
    # Visible again at once, though the visibility timeout is a minute.
    [again] = stack.drain("api", wait=1)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_consumer_s_own_visibility_timeout_overrides_the_queue_s(stack):
    # The api queue keeps a message invisible for 30 s; this consumer asks for 2 s when it receives,
    # so a message it holds without settling (its worker died) comes back to another worker soon.
    send(stack, envelope().model_dump_json())
    again: list[dict] = []

    def handle(event: Envelope, delivery: Delivery) -> None:
        deadline = time.monotonic() + 15
        while not again and time.monotonic() < deadline:
            response = stack.clients.sqs.receive_message(
                QueueUrl=stack.queue_url("api"), WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
            )
            again.extend(response.get("Messages", []))

    make_consumer(stack, handle, visibility_timeout=2).poll_once()
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in again] == ["2"]


def test_the_visibility_timeout_setting_overrides_the_queue_s_only_when_given(monkeypatch):
    queue = build_topology("t").queues["codegen"]
    assert consumer_options(WorkerSettings(), queue).visibility_timeout == queue.visibility_timeout
    monkeypatch.setenv("SNAPINFRA_VISIBILITY_TIMEOUT_SECONDS", "15")
    assert consumer_options(WorkerSettings(), queue).visibility_timeout == 15
    assert build_topology("t").queues["codegen"].visibility_timeout == queue.visibility_timeout  # queue unchanged


def test_sns_wrapped_bodies_are_understood():
    event = envelope()
    wrapped = json.dumps({"Type": "Notification", "TopicArn": "arn:x", "Message": event.model_dump_json()})
    assert parse_body(wrapped) == event
    assert parse_body(event.model_dump_json()) == event


def test_backoff_grows_and_is_capped():
    options = ConsumerOptions(visibility_timeout=30, max_receive_count=5, retry_base_seconds=2, retry_max_seconds=60)
    assert [options.backoff(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
