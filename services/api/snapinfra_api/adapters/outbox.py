"""The outbox's other half: tidying up after events that were published, and publishing those that
were not (the process died, or SNS failed, between the job's transaction and its publish).

Deleting a published event's outbox item is batched (25 per call, every half second), so the
request path makes no call for it. Should the process die before a batch is deleted, the relay
publishes those events again after the grace: delivery is at least once, and consumers are
idempotent on the event id.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from snapinfra_api.adapters.repository import JobRepository
from snapinfra_shared.events import Envelope
from snapinfra_shared.publisher import Publisher

log = logging.getLogger(__name__)

FLUSH_EVERY_SECONDS = 0.5


class OutboxRelay:
    def __init__(self, repository: JobRepository, publisher: Publisher, *, grace_seconds: float):
        self._repository = repository
        self._publisher = publisher
        self._grace = timedelta(seconds=grace_seconds)
        self._published: list[Envelope] = []
        self._lock = threading.Lock()

    def published(self, event: Envelope) -> None:
        """The event went out: its outbox item goes with the next batch."""
        with self._lock:
            self._published.append(event)

    def flush(self) -> int:
        with self._lock:
            done, self._published = self._published, []
        if done:
            try:
                self._repository.outbox_done_many(done)
            except Exception:
                with self._lock:
                    self._published[:0] = done
                raise
        return len(done)

    def relay_once(self, now: datetime | None = None) -> int:
        """Publish every event older than the grace; returns how many."""
        self.flush()
        total = 0
        while True:
            due = self._repository.outbox_due((now or datetime.now(UTC)) - self._grace)
            if not due:
                return total
            self._publisher.publish_many(due)
            self._repository.outbox_done_many(due)
            total += len(due)
            log.warning("relayed unpublished events from the outbox", extra={"count": len(due)})

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
