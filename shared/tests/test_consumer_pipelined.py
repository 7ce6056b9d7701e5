"""The consumer's pipelined loop against a real SQS API (moto over HTTP): a slow message holds back
none behind it, each message is settled when its own handler ends, and a stop releases what is unfinished."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from snapinfra_shared.consumer import Consumer, ConsumerOptions, Delivery
from snapinfra_shared.events import Envelope


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
    defaults = dict(visibility_timeout=30, max_receive_count=3, wait_time_seconds=1, pipelined=True)
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


@contextmanager
def running(consumer: Consumer, stop: threading.Event) -> Iterator[None]:
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def test_a_slow_message_holds_back_none_of_the_messages_behind_it(stack):
    send(stack, envelope(0).model_dump_json())
    slow_started, release, rest_done = threading.Event(), threading.Event(), threading.Event()
    done: list[int] = []

    def handle(event: Envelope, delivery: Delivery) -> None:
        n = event.data["n"]
        if n == 0:
            slow_started.set()
            release.wait(30)
        done.append(n)
        if len(done) == 5:
            rest_done.set()

    consumer = make_consumer(stack, handle, concurrency=2, batch_size=10)
    with running(consumer, threading.Event()):
        assert slow_started.wait(15)
        send(stack, *(envelope(n).model_dump_json() for n in range(1, 6)))
        rest_done.wait(30)
        finished_while_slow = list(done)  # the slow one still holds its handler
        release.set()
    assert sorted(finished_while_slow) == [1, 2, 3, 4, 5]
    assert sorted(done) == [0, 1, 2, 3, 4, 5]
    assert stack.drain("api") == []  # each was deleted when its handler ended


def test_on_stop_a_pipelined_consumer_releases_what_is_unfinished(stack):
    send(stack, envelope().model_dump_json())
    started, release = threading.Event(), threading.Event()

    def handle(event: Envelope, delivery: Delivery) -> None:
        started.set()
        release.wait(10)

    consumer = make_consumer(stack, handle, shutdown_grace_seconds=0.5, visibility_timeout=60)
    stop = threading.Event()
    with running(consumer, stop):
        assert started.wait(15)
    release.set()
    # Visible again at once, though the visibility timeout is a minute.
    [again] = stack.drain("api", wait=1)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
