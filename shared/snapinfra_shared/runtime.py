"""What every service process does around its own code: resolve its resources (waiting for them
while the stack comes up), serve metrics, dispatch events to handlers, stop on SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import start_http_server
from pydantic import ValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, stop_when_event_set, wait_exponential

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.catalog import MessageDeadLettered, UnknownEvent, dead_letter_event_type, parse_data
from snapinfra_shared.consumer import Consumer, ConsumerOptions, Delivery, PoisonMessage, parse_body
from snapinfra_shared.events import Envelope, Service, new_event
from snapinfra_shared.logs import configure_logging
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.settings import ServiceSettings, WorkerSettings
from snapinfra_shared.topology import QueueSpec
from snapinfra_shared.tracing import configure_tracing

log = logging.getLogger(__name__)

EventHandler = Callable[[Envelope, Any, Delivery], None]


@dataclass(frozen=True)
class Handlers:
    """A service's handlers, and what it must give back before its process exits (e.g. the leases of
    claims its unfinished handlers hold), so the next worker can take their messages at once."""

    by_type: Mapping[str, EventHandler]
    on_shutdown: Callable[[], object] | None = None


@dataclass(frozen=True)
class Resources:
    """The AWS resources one service owns, resolved to names, URLs and ARNs."""

    service: Service
    table: str
    bucket: str
    prefix: str
    topic_arn: str | None
    queue_url: str | None
    dlq_url: str | None


class Stopped(Exception):
    pass


def _interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


def resolve_resources(
    clients: AwsClients, settings: ServiceSettings, service: Service, stop: threading.Event | None = None
) -> Resources:
    """Look up this service's resources, waiting up to the startup timeout while they appear
    (or until `stop` is set, which raises Stopped)."""
    stop = stop or threading.Event()
    topology = settings.topology()
    queue = topology.queues.get(service)

    def lookup() -> Resources:
        clients.dynamodb.describe_table(TableName=topology.tables[service].name)
        queue_url = dlq_url = None
        if queue is not None:
            queue_url = clients.sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
            dlq_url = clients.sqs.get_queue_url(QueueName=queue.dlq_name)["QueueUrl"]
        topic = topology.topics.get(service)
        return Resources(
            service=service,
            table=topology.tables[service].name,
            bucket=topology.bucket,
            prefix=topology.prefixes[service],
            topic_arn=clients.topic_arn(topic) if topic else None,
            queue_url=queue_url,
            dlq_url=dlq_url,
        )

    retrying = Retrying(
        stop=stop_after_delay(settings.startup_timeout_seconds) | stop_when_event_set(stop),
        sleep=_interruptible_sleep(stop),
        wait=wait_exponential(multiplier=0.25, max=5),
        retry=retry_if_exception_type((ClientError, BotoCoreError)),
        before_sleep=lambda state: log.info(
            "waiting for resources", extra={"error": str(state.outcome.exception()) if state.outcome else ""}
        ),
        reraise=True,
    )
    try:
        return retrying(lookup)
    except (ClientError, BotoCoreError):
        if stop.is_set():
            raise Stopped from None
        raise


def log_event(event: Envelope, data: Any, delivery: Delivery) -> None:
    """A handler that only logs what it received (ids, not content), for a service whose own
    handling of an event is not built yet."""
    ids = {k: v for k, v in data.model_dump(mode="json").items() if k.endswith("_id")}
    log.info(
        "event received",
        extra={"event_type": event.type, "user_id": event.user_id, "receive_count": delivery.receive_count, **ids},
    )


class Dispatcher:
    """Routes an event to its handler with its data validated against the catalog."""

    def __init__(self, handlers: Mapping[str, EventHandler]):
        self.handlers = dict(handlers)

    def __call__(self, event: Envelope, delivery: Delivery) -> None:
        handler = self.handlers.get(event.type)
        if handler is None:
            raise PoisonMessage(f"this service has no handler for {event.type}")
        try:
            data = parse_data(event)
        except (UnknownEvent, ValidationError) as exc:
            raise PoisonMessage(f"invalid {event.type}: {exc}") from exc
        handler(event, data, delivery)


def start_service(service: Service, settings: ServiceSettings) -> AwsClients:
    configure_logging(service, settings.log_level, settings.log_format)
    configure_tracing(service)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=os.environ.get("SNAPINFRA_METRICS_ADDR", "127.0.0.1"))
    return AwsClients.from_settings(settings)


def dead_letter_announcer(
    clients: AwsClients, resources: Resources, queue_name: str
) -> Callable[[dict[str, Any], str], None] | None:
    """Publishes `<Service>MessageDeadLettered` (an admin alert) when the consumer gives up on a message."""
    if resources.topic_arn is None:
        return None
    publisher = Publisher(clients.sns, resources.topic_arn)
    alert_type = dead_letter_event_type(resources.service)

    def announce(message: dict[str, Any], error: str) -> None:
        attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        if attributes.get("type", "").endswith("MessageDeadLettered"):
            return  # an alert that could not be handled raises no alert of its own (no loop)
        data = MessageDeadLettered(
            queue=queue_name,
            message_id=message["MessageId"],
            event_type=attributes.get("type"),
            event_id=_event_id(message),
            user_id=attributes.get("user_id"),
            error=error[:1000] or "unknown",
        )
        publisher.publish(
            new_event(
                alert_type,
                source=resources.service,
                user_id="system",
                correlation_id=attributes.get("correlation_id") or message["MessageId"],
                data=data,
            )
        )

    return announce


def _event_id(message: dict[str, Any]) -> str | None:
    try:
        return str(parse_body(message["Body"]).id)
    except (ValueError, ValidationError):
        return None


def consumer_options(settings: WorkerSettings, queue: QueueSpec) -> ConsumerOptions:
    """How a service consumes one of its queues: the queue's own limits, the service's pace."""
    return ConsumerOptions(
        visibility_timeout=settings.visibility_timeout_seconds or queue.visibility_timeout,
        max_receive_count=queue.max_receive_count,
        wait_time_seconds=settings.wait_time_seconds,
        batch_size=settings.batch_size,
        concurrency=settings.concurrency,
        retry_base_seconds=settings.retry_base_seconds,
        retry_max_seconds=settings.retry_max_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )


def consumer_for(
    clients: AwsClients,
    settings: WorkerSettings,
    resources: Resources,
    handlers: Mapping[str, EventHandler] | Handlers,
) -> Consumer:
    queue = settings.topology().queues[resources.service]
    assert resources.queue_url and resources.dlq_url, "a consuming service has a queue"
    wired = handlers if isinstance(handlers, Handlers) else Handlers(handlers)
    return Consumer(
        clients.sqs,
        queue_url=resources.queue_url,
        dlq_url=resources.dlq_url,
        handle=Dispatcher(wired.by_type),
        options=consumer_options(settings, queue),
        on_dead_letter=dead_letter_announcer(clients, resources, queue.name),
        on_shutdown=wired.on_shutdown,
        service=resources.service,
    )


def stop_on_signals(consumer: Consumer | None = None) -> threading.Event:
    """SIGTERM (ECS) or SIGINT (Ctrl-C) sets the returned event; a long poll in progress is cut short."""
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        if consumer is not None and consumer.receiving:
            # Blocked in a long poll, this thread holds no lock of the Event: set it, then cut the poll.
            stop.set()
            consumer.interrupt_receive()
        else:
            # This thread may be inside stop.wait() holding the Event's lock, where a direct set()
            # would deadlock: a short-lived thread sets it once this one lets go.
            threading.Thread(target=stop.set, name="stop", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def run_worker(
    service: Service,
    settings: WorkerSettings,
    build_handlers: Callable[[AwsClients, Resources], Mapping[str, EventHandler] | Handlers],
) -> None:
    """The whole life of a worker process. A `Handlers` with `on_shutdown` has it run when the consumer
    stops: before the messages of handlers still running past the grace are released, and before exit."""
    clients = start_service(service, settings)
    stop = stop_on_signals()  # while resources are awaited
    try:
        resources = resolve_resources(clients, settings, service, stop)
    except Stopped:
        return
    consumer = consumer_for(clients, settings, resources, build_handlers(clients, resources))
    stop = stop_on_signals(consumer) if not stop.is_set() else stop
    consumer.run(stop)  # runs the on_shutdown hook before it returns
    logging.shutdown()
    # Handlers still running past the grace were released to other workers; don't wait for them.
    if any(t.name.startswith("handler") and t.is_alive() for t in threading.enumerate()):
        os._exit(0)
