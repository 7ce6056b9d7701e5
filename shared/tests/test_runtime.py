"""The worker runtime: several consumers and loops beside them, one stop event, one SIGTERM path, each
consumer's on_shutdown hook; against a real SQS API (moto over HTTP)."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime

from snapinfra_shared.consumer import Consumer, ConsumerOptions, Delivery
from snapinfra_shared.events import Envelope
from snapinfra_shared.runtime import WorkerRuntime


def send(stack, service: str) -> None:
    event = Envelope(
        id=uuid.uuid4(),
        type="CodeGenerationRequested",
        occurred_at=datetime.now(UTC),
        source="api",
        correlation_id="corr-1",
        user_id="user-1",
        data={},
    )
    stack.clients.sqs.send_message(QueueUrl=stack.queue_url(service), MessageBody=event.model_dump_json())


class Recorder:
    def __init__(self) -> None:
        self.handled: list[str] = []
        self.shut_down: list[str] = []
        self.lock = threading.Lock()

    def consumer(self, stack, service: str) -> Consumer:
        def handle(_event: Envelope, _delivery: Delivery) -> None:
            with self.lock:
                self.handled.append(service)

        return Consumer(
            stack.clients.sqs,
            queue_url=stack.queue_url(service),
            dlq_url=stack.queue_url(service, dlq=True),
            handle=handle,
            options=ConsumerOptions(visibility_timeout=30, max_receive_count=5, wait_time_seconds=1),
            on_shutdown=lambda: self.shut_down.append(service),
        )

    def wait_for(self, count: int, seconds: float = 20) -> bool:
        deadline = time.monotonic() + seconds
        while len(self.handled) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.handled) >= count


def test_started_consumers_and_loops_run_beside_each_other_and_stop_together(stack):
    recorder = Recorder()
    loop_ended = threading.Event()

    def loop(stop: threading.Event) -> None:
        stop.wait()
        loop_ended.set()

    runtime = WorkerRuntime(
        [recorder.consumer(stack, "codegen"), recorder.consumer(stack, "deployer")],
        {"relay": loop},
        grace_seconds=5,
    )
    send(stack, "codegen")
    send(stack, "deployer")
    runtime.start()
    assert recorder.wait_for(2)
    assert sorted(recorder.handled) == ["codegen", "deployer"]
    assert not loop_ended.is_set()
    runtime.stop()
    assert loop_ended.is_set()
    # A consumer in a long poll is not waited for; it ends within its poll, running its hook.
    deadline = time.monotonic() + 10
    while len(recorder.shut_down) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(recorder.shut_down) == ["codegen", "deployer"]


def test_one_sigterm_stops_every_consumer_of_a_process(stack):
    recorder = Recorder()

    def terminate_once_both_handled(stop: threading.Event) -> None:
        if recorder.wait_for(2):
            os.kill(os.getpid(), signal.SIGTERM)

    runtime = WorkerRuntime(
        [recorder.consumer(stack, "codegen"), recorder.consumer(stack, "deployer")],
        {"terminator": terminate_once_both_handled},
        grace_seconds=5,
    )
    send(stack, "codegen")
    send(stack, "deployer")
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        runtime.run()  # returns once the signal has stopped the main thread's consumer
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert runtime.stop_event.is_set()
    assert sorted(recorder.handled) == ["codegen", "deployer"]
    deadline = time.monotonic() + 10
    while len(recorder.shut_down) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(recorder.shut_down) == ["codegen", "deployer"]
