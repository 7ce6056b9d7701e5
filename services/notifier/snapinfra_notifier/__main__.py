"""`snapinfra-notifier`: the notifier worker. It consumes two queues: its events (subscriptions, the
users' job events, system alerts) in the main thread, and its delivery attempts beside it."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time

from snapinfra_notifier.bootstrap import build_delivery_handler, build_dependencies, build_handlers
from snapinfra_notifier.settings import NotifierSettings
from snapinfra_shared.consumer import Consumer
from snapinfra_shared.runtime import (
    Stopped,
    consumer_for,
    consumer_options,
    dead_letter_announcer,
    resolve_resources,
    start_service,
    stop_on_signals,
)


def main() -> None:
    settings = NotifierSettings()
    clients = start_service("notifier", settings)
    stop = stop_on_signals()  # while resources are awaited
    try:
        resources = resolve_resources(clients, settings, "notifier", stop)
    except Stopped:
        return
    work = settings.topology().work_queues["notifier"]
    delivery_url = str(clients.sqs.get_queue_url(QueueName=work.name)["QueueUrl"])
    delivery_dlq_url = str(clients.sqs.get_queue_url(QueueName=work.dlq_name)["QueueUrl"])
    deps = build_dependencies(settings, clients, resources, delivery_url)
    events = consumer_for(clients, settings, resources, build_handlers(deps))
    deliveries = Consumer(
        clients.sqs,
        queue_url=delivery_url,
        dlq_url=delivery_dlq_url,
        handle=build_delivery_handler(deps),
        # One slow receiver must not hold back the deliveries behind it: each settles on its own.
        options=dataclasses.replace(consumer_options(settings, work), pipelined=True),
        on_dead_letter=dead_letter_announcer(clients, resources, work.name),
        service="notifier",
    )
    stop = stop_on_signals(events) if not stop.is_set() else stop
    beside = threading.Thread(target=deliveries.run, args=(stop,), name="deliveries", daemon=True)
    beside.start()
    events.run(stop)
    # The delivery consumer finishes what it has in hand; blocked in a long poll it holds no work.
    deadline = time.monotonic() + settings.shutdown_grace_seconds
    while beside.is_alive() and not deliveries.receiving and time.monotonic() < deadline:
        beside.join(0.05)
    logging.shutdown()
    if any(t.name.startswith("handler") and t.is_alive() for t in threading.enumerate()):
        os._exit(0)


if __name__ == "__main__":
    main()
