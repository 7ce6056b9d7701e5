"""The outbox's other half: publishing the events of accepted requests that are not known to have
arrived (the process died, or SNS failed, between the write and the publish), and tidying up.

A new job's event is settled by the projection (the first codegen event clears it), so its happy
path costs no call here. Entries older than the grace are published again and postponed by another
grace; delivery is at least once, and consumers are idempotent on the event id. A deletion's event
sits on an item of its own, deleted in batches (25 per call, every half second) once published.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from snapinfra_api.codegen.store import JobRepository
from snapinfra_shared.events import Envelope
from snapinfra_shared.publisher import Publisher

log = logging.getLogger(__name__)

FLUSH_EVERY_SECONDS = 0.5


def publish_now(publisher: Publisher, event: Envelope) -> bool:
    """Publish an accepted request's event at once. A failure is only logged: the request is accepted all
    the same, its event waits in the outbox, and the relay publishes it later."""
    try:
        publisher.publish(event)
    except Exception:
        log.exception("publish failed; the outbox relay will publish the event", extra={"event_id": str(event.id)})
        return False
    return True


class OutboxRelay:
    def __init__(self, repository: JobRepository, publisher: Publisher, *, grace_seconds: float):
        self._repository = repository
        self._publisher = publisher
        self._grace = timedelta(seconds=grace_seconds)
        self._published: list[Envelope] = []
        self._lock = threading.Lock()

    def published(self, event: Envelope) -> None:
        """A standalone outbox event went out: its item goes with the next batch."""
        with self._lock:
            self._published.append(event)

    def flush(self) -> int:
        with self._lock:
            done, self._published = self._published, []
        if done:
            try:
                self._repository.outbox_delete_standalone(done)
            except Exception:
                with self._lock:
                    self._published[:0] = done
                raise
        return len(done)

    def relay_once(self, now: datetime | None = None) -> int:
        """Publish every event older than the grace; returns how many."""
        self.flush()
        now = now or datetime.now(UTC)
        due = self._repository.outbox_due(now - self._grace)
        if not due:
            return 0
        self._publisher.publish_many([entry.event for entry in due])
        self._repository.outbox_delete_standalone([e.event for e in due if e.standalone])
        for entry in due:
            if not entry.standalone:
                self._repository.outbox_postpone(entry, now)
        log.warning("relayed events not known to have arrived", extra={"count": len(due)})
        return len(due)

    def run(self, stop: threading.Event, interval: float) -> None:
        next_relay = time.monotonic() + interval
        while not stop.wait(FLUSH_EVERY_SECONDS):
            try:
                self.flush()
                if time.monotonic() >= next_relay:
                    self.relay_once()
                    next_relay = time.monotonic() + interval
            except Exception:
                log.exception("outbox upkeep failed; trying again")
        try:
            self.flush()
        except Exception:
            log.warning(
                "could not tidy the outbox on the way out; the relay will republish those events", exc_info=True
            )
