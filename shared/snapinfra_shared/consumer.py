"""The SQS consumer loop every worker runs.

- Long polling, batches of up to ten; each message is handled on its own (partial-batch semantics),
  and only the successes are deleted, with one batch call.
- A failure comes back after a growing backoff (its visibility timeout); on its last allowed receive
  it is moved to the DLQ with the error attached. The queue's redrive policy is the backstop for a
  worker that dies holding the message.
- A malformed message, or one a handler declares poison, goes to the DLQ at once: never deleted
  silently, never retried in vain.
- A heartbeat extends the visibility of messages whose handler runs long.
- On stop, the batch in hand gets `shutdown_grace` to finish; what is unfinished is released
  (visibility 0) so another worker takes it at once, after the `on_shutdown` hook has given back what
  the unfinished handlers hold (a claim's lease), so that the next worker finds it free.
- Pipelined (an option): instead of waiting for a whole batch, the loop keeps up to `concurrency`
  messages in hand, receives more whenever a handler is free, and settles each message when its own
  handler ends, so one slow message never holds back the ones behind it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from pydantic import ValidationError

from snapinfra_shared import tracing
from snapinfra_shared.events import Envelope
from snapinfra_shared.logs import log_context
from snapinfra_shared.metrics import HANDLER_SECONDS, MESSAGES

log = logging.getLogger(__name__)

ERROR_ATTRIBUTE = "snapinfra_error"
SOURCE_QUEUE_ATTRIBUTE = "snapinfra_source_queue"
RECEIVE_COUNT_ATTRIBUTE = "snapinfra_receive_count"  # receives on the source queue when it was dead-lettered


class ReceiveInterrupted(BaseException):
    """Raised by a stop signal while the consumer waits in a long poll, so it stops at once."""


class PoisonMessage(Exception):
    """This message can never be handled: send it to the DLQ now, without retrying."""


class NotYet(Exception):
    """An expected wait: what this event refers to has not arrived yet (delivery is unordered), or is busy.
    Retried with the usual backoff and dead-lettered after `maxReceiveCount` like any failure, but logged
    as a warning without a traceback, since nothing is wrong yet."""


class RetryAfter(Exception):
    """Handle this message again in `seconds` (a schedule the handler keeps; SQS allows up to 12 h)."""

    def __init__(self, seconds: float, reason: str = ""):
        super().__init__(reason or f"retry in {seconds} s")
        self.seconds = int(min(max(0.0, seconds), 43200))


@dataclass(frozen=True)
class Delivery:
    message_id: str
    receive_count: int
    max_receive_count: int

    @property
    def final_attempt(self) -> bool:
        return self.receive_count >= self.max_receive_count


Handle = Callable[[Envelope, Delivery], None]
Outcome = Literal["ok", "retry", "poison", "released"]


@dataclass
class _Result:
    message: dict[str, Any]
    outcome: Outcome
    error: str = ""
    delivery: Delivery | None = None
    delay: int | None = None  # a RetryAfter's delay, instead of the backoff


@dataclass
class ConsumerOptions:
    visibility_timeout: int
    max_receive_count: int
    wait_time_seconds: int = 20
    batch_size: int = 10
    concurrency: int = 10
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    shutdown_grace_seconds: float = 25.0
    pipelined: bool = False  # receive whenever a handler is free; settle each message on its own

    def backoff(self, receive_count: int) -> int:
        """Visibility timeout after the n-th failed receive: base, 2*base, 4*base, ... capped."""
        seconds = self.retry_base_seconds * 2 ** max(0, receive_count - 1)
        return int(min(self.retry_max_seconds, seconds, 43200))


def parse_body(body: str) -> Envelope:
    """An envelope from a raw-delivery body, or from an SNS notification that wraps one."""
    document = json.loads(body)
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        document = json.loads(document["Message"])
    return Envelope.model_validate(document)


@dataclass
class _Heartbeat:
    """Keeps long-running messages invisible by extending them before their timeout runs out."""

    sqs: Any
    queue_url: str
    visibility_timeout: int
    clock: Callable[[], float] = time.monotonic
    _deadlines: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def track(self, receipt: str) -> None:
        with self._lock:
            self._deadlines[receipt] = self.clock() + self.visibility_timeout

    def forget(self, receipt: str) -> None:
        with self._lock:
            self._deadlines.pop(receipt, None)

    def beat(self) -> int:
        """Extend every message past half its timeout; returns how many were extended."""
        now = self.clock()
        with self._lock:
            due = [r for r, deadline in self._deadlines.items() if deadline - now < self.visibility_timeout / 2]
        for start in range(0, len(due), 10):
            chunk = due[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": self.visibility_timeout}
                    for i, r in enumerate(chunk)
                ],
            )
            with self._lock:
                for r in chunk:
                    if r in self._deadlines:
                        self._deadlines[r] = now + self.visibility_timeout
        return len(due)

    def run(self, stop: threading.Event) -> None:
        tick = max(0.2, self.visibility_timeout / 6)
        while not stop.wait(tick):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed; messages may become visible again")


class Consumer:
    def __init__(
        self,
        sqs: Any,
        *,
        queue_url: str,
        dlq_url: str,
        handle: Handle,
        options: ConsumerOptions,
        clock: Callable[[], float] = time.monotonic,
        on_dead_letter: Callable[[dict[str, Any], str], None] | None = None,
        on_shutdown: Callable[[], object] | None = None,
        service: str = "",
    ):
        self._sqs = sqs
        self.service = service  # who consumes (a span attribute)
        self.queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]  # the metrics' and logs' label
        self._on_shutdown = on_shutdown  # before unfinished messages are released, and once more on exit
        self._on_dead_letter = on_dead_letter  # told (message, error) after a move to the DLQ
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self._handle = handle
        self.options = options
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="handler")
        self._heartbeat = _Heartbeat(sqs, queue_url, options.visibility_timeout, clock)
        self.receiving = False  # True only while blocked in a long poll: the one safe place to interrupt
        self._in_hand: dict[Future[_Result], dict[str, Any]] = {}  # pipelined: messages being handled
        self._settling: set[str] = set()  # pipelined: receipts settled by their handler, or released
        self._settling_lock = threading.Lock()

    def interrupt_receive(self) -> None:
        """From a signal handler: cut a long poll short (messages it was about to return reappear
        after their visibility timeout); anywhere else this does nothing."""
        if self.receiving:
            raise ReceiveInterrupted

    # -- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; then finish or release the batch in hand and return."""
        heartbeat_stop = threading.Event()
        beater = threading.Thread(target=self._heartbeat.run, args=(heartbeat_stop,), name="heartbeat", daemon=True)
        beater.start()
        failures = 0
        log.info("consuming", extra={"queue_url": self.queue_url})
        try:
            while not stop.is_set():
                try:
                    if self.options.pipelined:
                        self.pump(stop)
                    else:
                        self.poll_once(stop)
                    failures = 0
                except Exception:
                    if stop.is_set():
                        break  # the endpoint went away as we were stopping: nothing to retry
                    failures += 1
                    pause = min(30.0, 0.5 * 2**failures)
                    log.exception("polling failed; trying again", extra={"retry_in_seconds": pause})
                    stop.wait(pause)
        finally:
            if self._in_hand:
                self._finish_in_hand()
            heartbeat_stop.set()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.shut_down()
            log.info("stopped consuming", extra={"queue_url": self.queue_url})

    def shut_down(self) -> None:
        """Run the `on_shutdown` hook (it must be safe to run more than once); a failure is logged."""
        if self._on_shutdown is None:
            return
        try:
            self._on_shutdown()
        except Exception:
            log.exception("shutdown hook failed")

    def poll_once(self, stop: threading.Event | None = None) -> list[_Result]:
        """Receive one batch, handle each message, settle them; returns what happened to each."""
        stop = stop or threading.Event()
        messages = self._receive(self.options.batch_size, self.options.wait_time_seconds, interruptible=True)
        if not messages:
            return []
        if stop.is_set():
            results = [_Result(m, "released") for m in messages]
        else:
            results = self._handle_batch(messages, stop)
        self._settle(results)
        return results

    def _receive(self, count: int, wait: int, *, interruptible: bool) -> list[dict[str, Any]]:
        try:
            self.receiving = interruptible
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                VisibilityTimeout=self.options.visibility_timeout,  # the one the heartbeat extends
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            )
        except ReceiveInterrupted:
            return []
        finally:
            self.receiving = False
        return list(response.get("Messages", []))

    # -- pipelined ---------------------------------------------------------------------------

    def pump(self, stop: threading.Event | None = None) -> int:
        """Pipelined: receive as many messages as handlers are free (waiting for one to free up if
        none is), and hand each to a handler that settles it when it ends; returns how many came."""
        stop = stop or threading.Event()
        self._in_hand = {f: m for f, m in self._in_hand.items() if not f.done()}
        free = self.options.concurrency - len(self._in_hand)
        if free <= 0:
            wait_futures(set(self._in_hand), timeout=0.25, return_when=FIRST_COMPLETED)
            return 0
        # Only an empty hand may block in a long poll (there a stop signal may cut it short); with
        # messages in hand, short polls keep this loop close to them.
        idle = not self._in_hand
        wait = self.options.wait_time_seconds if idle else min(1, self.options.wait_time_seconds)
        messages = self._receive(min(free, self.options.batch_size), wait, interruptible=idle)
        if stop.is_set():
            self._settle([_Result(m, "released") for m in messages])
            return 0
        for message in messages:
            self._heartbeat.track(message["ReceiptHandle"])
            future = self._pool.submit(self._handle_and_settle, message)
            future.add_done_callback(self._forget_when_done(message["ReceiptHandle"]))
            self._in_hand[future] = message
        return len(messages)

    def _handle_and_settle(self, message: dict[str, Any]) -> _Result:
        result = self._handle_one(message)
        with self._settling_lock:
            if message["ReceiptHandle"] in self._settling:
                return result  # released at shutdown while it ran: another worker has it now
            self._settling.add(message["ReceiptHandle"])
        try:
            self._settle([result])
        except Exception:
            log.exception("could not settle a message; it comes back after its visibility timeout")
        return result

    def _finish_in_hand(self) -> None:
        """On stop: the messages in hand get the shutdown grace to finish; the rest are released."""
        _, unfinished = wait_futures(set(self._in_hand), timeout=self.options.shutdown_grace_seconds)
        released = []
        for future in unfinished:
            message = self._in_hand[future]
            future.cancel()
            self._heartbeat.forget(message["ReceiptHandle"])
            with self._settling_lock:
                if message["ReceiptHandle"] in self._settling:
                    continue
                self._settling.add(message["ReceiptHandle"])
            released.append(_Result(message, "released", "not finished before shutdown"))
        self._in_hand = {}
        if released:
            self.shut_down()  # give back what the unfinished handlers hold before their messages reappear
        try:
            self._settle(released)
        except Exception:
            log.exception("could not release messages; they come back after their visibility timeout")

    # -- handling ----------------------------------------------------------------------------

    def _handle_batch(self, messages: list[dict[str, Any]], stop: threading.Event) -> list[_Result]:
        futures: dict[Future[_Result], dict[str, Any]] = {}
        for message in messages:
            self._heartbeat.track(message["ReceiptHandle"])
            future = self._pool.submit(self._handle_one, message)
            future.add_done_callback(self._forget_when_done(message["ReceiptHandle"]))
            futures[future] = message
        pending = set(futures)
        deadline: float | None = None
        while pending:
            _, pending = wait_futures(pending, timeout=0.25)
            if stop.is_set() and deadline is None:
                deadline = self._clock() + self.options.shutdown_grace_seconds
            if deadline is not None and self._clock() >= deadline:
                break
        if pending:
            self.shut_down()  # give back what the unfinished handlers hold before their messages reappear
        results = []
        for future, message in futures.items():
            if future in pending:
                future.cancel()
                self._heartbeat.forget(message["ReceiptHandle"])
                results.append(_Result(message, "released", "not finished before shutdown"))
            else:
                results.append(future.result())
        return results

    def _forget_when_done(self, receipt: str) -> Callable[[Future[_Result]], None]:
        def forget(_future: Future[_Result]) -> None:
            self._heartbeat.forget(receipt)
            with self._settling_lock:
                self._settling.discard(receipt)

        return forget

    def _handle_one(self, message: dict[str, Any]) -> _Result:
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        delivery = Delivery(message["MessageId"], receive_count, self.options.max_receive_count)
        try:
            event = parse_body(message["Body"])
        except (ValueError, ValidationError) as exc:
            log.error(
                "malformed message sent to the DLQ", extra={"message_id": message["MessageId"], "error": str(exc)}
            )
            return _Result(message, "poison", f"malformed message: {_short(exc)}", delivery)
        span_attributes = {
            "messaging.system": "aws_sqs",
            "messaging.operation.type": "process",
            "messaging.destination.name": self.queue_name,
            "messaging.message.id": message["MessageId"],
            "snapinfra.service": self.service,
            "snapinfra.event_type": event.type,
            "snapinfra.event_id": str(event.id),
            "snapinfra.correlation_id": event.correlation_id,
            "snapinfra.receive_count": receive_count,
        }
        with (
            log_context(correlation_id=event.correlation_id, event_id=str(event.id), event_type=event.type),
            tracing.consuming(message, f"process {event.type}", span_attributes) as span,
        ):
            started = time.perf_counter()
            result = self._run_handler(message, event, delivery)
            seconds = time.perf_counter() - started
            HANDLER_SECONDS.labels(event.type).observe(seconds)
            if span is not None:
                span.set_attribute("snapinfra.outcome", result.outcome)
            log.info(
                "message handled",
                extra={
                    "queue": self.queue_name,
                    "outcome": result.outcome,
                    "handler_ms": round(seconds * 1000, 1),
                    "receive_count": receive_count,
                },
            )
            return result

    def _run_handler(self, message: dict[str, Any], event: Envelope, delivery: Delivery) -> _Result:
        receive_count = delivery.receive_count
        try:
            self._handle(event, delivery)
        except PoisonMessage as exc:
            log.error("message refused by its handler; sent to the DLQ", extra={"error": str(exc)})
            _span_error(exc)
            return _Result(message, "poison", str(exc), delivery)
        except RetryAfter as exc:
            log.info("handler asked to be retried later", extra={"retry_in_seconds": exc.seconds})
            return _Result(message, "retry", str(exc), delivery, exc.seconds)
        except NotYet as exc:
            log.warning("not handled yet; retrying", extra={"error": str(exc), "receive_count": receive_count})
            return _Result(message, "retry", f"not yet: {_short(exc)}", delivery)
        except Exception as exc:
            log.exception("handler failed", extra={"receive_count": receive_count})
            _span_error(exc)
            return _Result(message, "retry", f"{type(exc).__name__}: {_short(exc)}", delivery)
        return _Result(message, "ok", "", delivery)

    # -- settling ----------------------------------------------------------------------------

    def _settle(self, results: list[_Result]) -> None:
        to_delete = [r for r in results if r.outcome == "ok"]
        to_dlq = [
            r
            for r in results
            if r.outcome == "poison" or (r.outcome == "retry" and r.delivery is not None and r.delivery.final_attempt)
        ]
        to_back_off = [r for r in results if r.outcome == "retry" and r not in to_dlq]
        to_release = [r for r in results if r.outcome == "released"]

        moved = self._move_to_dlq(to_dlq)
        self._delete(to_delete + moved)
        self._change_visibility([(r, self._retry_delay(r)) for r in to_back_off])
        self._change_visibility([(r, 0) for r in to_release])
        for outcome, settled in (
            ("ok", to_delete),
            ("dead_lettered", moved),
            ("retried", to_back_off),
            ("released", to_release),
        ):
            if settled:
                MESSAGES.labels(self.queue_name, outcome).inc(len(settled))

    def _retry_delay(self, result: _Result) -> int:
        if result.delay is not None:
            return result.delay
        return self.options.backoff(result.delivery.receive_count if result.delivery else 1)

    def _move_to_dlq(self, results: list[_Result]) -> list[_Result]:
        moved: list[_Result] = []
        for start in range(0, len(results), 10):
            chunk = results[start : start + 10]
            response = self._sqs.send_message_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": r.message["Body"],
                        "MessageAttributes": {
                            **_carried_attributes(r.message),
                            ERROR_ATTRIBUTE: {"DataType": "String", "StringValue": r.error[:1000] or "unknown"},
                            SOURCE_QUEUE_ATTRIBUTE: {"DataType": "String", "StringValue": self.queue_url},
                            RECEIVE_COUNT_ATTRIBUTE: {
                                "DataType": "Number",
                                "StringValue": str(r.delivery.receive_count if r.delivery else 1),
                            },
                        },
                    }
                    for i, r in enumerate(chunk)
                ],
            )
            failed = {f["Id"] for f in response.get("Failed", [])}
            for i, r in enumerate(chunk):
                if str(i) in failed:
                    log.error("could not move a message to the DLQ; it will come back", extra={"error": r.error})
                else:
                    log.warning("message dead-lettered", extra={"message_id": r.message["MessageId"], "error": r.error})
                    moved.append(r)
        for r in moved:
            if self._on_dead_letter is not None:
                try:
                    self._on_dead_letter(r.message, r.error)
                except Exception:
                    log.exception("could not announce a dead-lettered message")
        return moved

    def _delete(self, results: list[_Result]) -> None:
        for start in range(0, len(results), 10):
            chunk = results[start : start + 10]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r.message["ReceiptHandle"]} for i, r in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                log.error("delete failed; the message will be delivered again", extra={"error": failure})

    def _change_visibility(self, pairs: list[tuple[_Result, int]]) -> None:
        for start in range(0, len(pairs), 10):
            chunk = pairs[start : start + 10]
            response = self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r.message["ReceiptHandle"], "VisibilityTimeout": seconds}
                    for i, (r, seconds) in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                log.warning("visibility change failed", extra={"error": failure})


def _carried_attributes(message: dict[str, Any]) -> dict[str, Any]:
    carried = {}
    for name, attribute in message.get("MessageAttributes", {}).items():
        if name in (ERROR_ATTRIBUTE, SOURCE_QUEUE_ATTRIBUTE, RECEIVE_COUNT_ATTRIBUTE):
            continue
        carried[name] = {k: v for k, v in attribute.items() if k in ("DataType", "StringValue", "BinaryValue")}
    return dict(list(carried.items())[:7])  # SQS allows ten attributes; three are ours


def _span_error(exc: BaseException) -> None:
    """Mark the current span (when tracing is on) as failed by this exception."""
    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, _short(exc)))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else type(exc).__name__
