"""Fair delivery, against the embedded AWS with real receivers on 127.0.0.1: one user's backlog of slow
webhooks never stands before another user's first delivery, and a deferred delivery is neither lost,
nor counted as an attempt, nor dead-lettered."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from snapinfra_notifier.adapters.tasks import task_envelope
from snapinfra_notifier.bootstrap import build_delivery_handler, build_handlers
from snapinfra_notifier.fairness import Pacing, UserShares
from snapinfra_notifier.handlers import deliver
from snapinfra_shared.catalog import CodeGenerationStarted
from snapinfra_shared.consumer import Consumer, ConsumerOptions, Delivery, RetryAfter, parse_body
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.runtime import Dispatcher

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the one the harness subscribes webhooks with


class SlowReceiver:
    """Webhook endpoints on 127.0.0.1 (any path) that answer 200 after `latency` seconds; counts the
    requests per path and the most it ever held at once."""

    def __init__(self, latency: float):
        self.requests: list[tuple[float, str, bytes, dict[str, str]]] = []
        self.held = self.most_held = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    receiver.held += 1
                    receiver.most_held = max(receiver.most_held, receiver.held)
                try:
                    threading.Event().wait(latency)  # the receiver's own slowness
                    with lock:
                        receiver.requests.append((time.monotonic(), self.path, body, dict(self.headers.items())))
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with lock:
                        receiver.held -= 1

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_receiver():
    made: list[SlowReceiver] = []

    def make(latency: float) -> SlowReceiver:
        made.append(SlowReceiver(latency))
        return made[-1]

    yield make
    for r in made:
        r.close()


def paced(notifier, *, rate: float, burst: int, in_flight: int, concurrency: int) -> Consumer:
    """The notifier with this pacing, and its delivery consumer as the worker runs it (pipelined)."""
    notifier.deps = dataclasses.replace(notifier.deps, pacing=Pacing(rate, burst), shares=UserShares(in_flight))
    notifier.dispatch = Dispatcher(build_handlers(notifier.deps))
    work = notifier.stack.topology.work_queues["notifier"]
    sqs = notifier.stack.clients.sqs
    return Consumer(
        sqs,
        queue_url=notifier.delivery_url,
        dlq_url=sqs.get_queue_url(QueueName=work.dlq_name)["QueueUrl"],
        handle=build_delivery_handler(notifier.deps),
        options=ConsumerOptions(
            visibility_timeout=30,
            max_receive_count=work.max_receive_count,
            wait_time_seconds=1,
            concurrency=concurrency,
            shutdown_grace_seconds=5,
            pipelined=True,
        ),
    )


@contextmanager
def running(consumer: Consumer) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the delivery consumer did not stop"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not in {timeout} s: {what}"
        threading.Event().wait(0.05)


def started(user: str) -> Envelope:
    data = CodeGenerationStarted(job_id=str(uuid.uuid4()), project_id="shop", generator="templated", attempt=1)
    return new_event("CodeGenerationStarted", source="codegen", user_id=user, correlation_id="c1", data=data)


def test_a_quiet_user_s_first_delivery_arrives_while_a_flooding_user_s_slow_backlog_waits(
    stack, slow_receiver, make_notifier
):
    flood, quiet = slow_receiver(latency=1.0), slow_receiver(latency=0.0)
    notifier = make_notifier()
    consumer = paced(notifier, rate=2.0, burst=4, in_flight=2, concurrency=4)
    for i in range(10):
        notifier.subscribe("ann", "webhook", f"{flood.base}/hook/{i}")
    notifier.subscribe("bob", "webhook", f"{quiet.base}/hook")
    for _ in range(30):
        notifier.handle(started("ann"))  # 300 deliveries, each answered in 1 s
    backlog = 300
    bob_event = started("bob")
    with running(consumer):
        wait_for(lambda: len(flood.requests) >= 2, 30, "ann's deliveries began")
        sent_at = time.monotonic()
        notifier.handle(bob_event)
        wait_for(lambda: len(quiet.requests) == 1, 60, "bob's delivery arrived")
        bob_waited = quiet.requests[0][0] - sent_at
        ann_done = len(flood.requests)
    # Today's queue would have put bob behind ann's 300 one-second deliveries: tens of seconds at four
    # threads. Here bob's first delivery arrives while nearly all of ann's backlog still waits.
    assert ann_done <= backlog // 10, (
        f"ann had {ann_done} of {backlog} delivered before bob's first ({bob_waited:.1f} s)"
    )
    assert bob_waited < 15, f"bob waited {bob_waited:.1f} s"
    _, _, body, headers = quiet.requests[0]
    assert Webhook(SECRET).verify(body, headers)["id"] == str(bob_event.id)
    assert flood.most_held <= 2  # ann's receivers never held more than her share of the threads


def test_a_deferred_delivery_is_delivered_once_is_no_attempt_and_is_never_dead_lettered(
    stack, slow_receiver, make_notifier
):
    hooks = slow_receiver(latency=0.3)
    notifier = make_notifier()
    consumer = paced(notifier, rate=100.0, burst=50, in_flight=1, concurrency=4)
    subscriptions = {notifier.subscribe("cy", "webhook", f"{hooks.base}/hook/{i}") for i in range(6)}
    notifier.announced()
    notifier.handle(started("cy"))  # six deliveries due at once, one attempt at a time: five are deferred
    with running(consumer):
        wait_for(lambda: len(hooks.requests) >= 6, 60, "every delivery arrived")
        seen: list[dict] = []
        wait_for(
            lambda: (
                len(seen.__iadd__([e.data for e in notifier.announced() if e.type == "NotificationAttempted"])) >= 6
            ),
            30,
            "every attempt was announced",
        )
        wait_for(lambda: queued(notifier) == 0, 30, "every task, deferred copies too, was settled")
    assert sorted(path for _, path, _, _ in hooks.requests) == [f"/hook/{i}" for i in range(6)]  # once each
    assert hooks.most_held == 1
    assert sorted((a["attempt"], a["outcome"]) for a in seen) == [(1, "succeeded")] * 6
    assert {a["subscription_id"] for a in seen} == subscriptions
    dlq = notifier.stack.clients.sqs.get_queue_url(QueueName=stack.topology.work_queues["notifier"].dlq_name)
    assert notifier.stack.clients.sqs.receive_message(QueueUrl=dlq["QueueUrl"]).get("Messages", []) == []


def queued(notifier) -> int:
    """Messages on the delivery queue: visible, in flight or delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    found = notifier.stack.clients.sqs.get_queue_attributes(QueueUrl=notifier.delivery_url, AttributeNames=names)
    return sum(int(v) for v in found["Attributes"].values())


def test_a_long_deferred_delivery_is_sent_again_as_a_fresh_message(stack, make_notifier):
    notifier = make_notifier(schedule=(1.0, 1.0))
    deps = dataclasses.replace(notifier.deps, shares=UserShares(1))
    task = task_envelope("n-1", "dee", "c1")
    with deps.shares.hold("dee"):  # the user's one share is in use
        with pytest.raises(RetryAfter):
            deliver(task, Delivery("m", 1, 25), deps=deps)  # early on: the message itself waits
        with pytest.raises(RetryAfter):
            deliver(task, Delivery("m", 19, 25), deps=deps)  # 6 left: still room for 3 attempts and 2 early
        deliver(task, Delivery("m", 20, 25), deps=deps)  # 5 receives left, for 3 attempts and 2 early: a copy
    again: list[dict] = []

    def receive() -> bool:
        again.extend(
            notifier.stack.clients.sqs.receive_message(
                QueueUrl=notifier.delivery_url, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
        )
        return bool(again)

    wait_for(receive, 30, "the deferred task came back")
    (message,) = again
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    copy = parse_body(message["Body"])
    assert (copy.data["notification_id"], copy.user_id) == ("n-1", "dee")
    assert copy.data["due_at"] > time.time() - 60  # a slot on the user's schedule, not the original's 0
