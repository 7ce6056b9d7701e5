"""Publishing what the outbox holds: the events of accepted requests whose publish did not happen
(the process died, or SNS failed). Runs beside the web server."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from snapinfra_api.adapters.repository import JobRepository
from snapinfra_shared.publisher import Publisher

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, repository: JobRepository, publisher: Publisher, *, grace_seconds: float):
        self._repository = repository
        self._publisher = publisher
        self._grace = timedelta(seconds=grace_seconds)

    def relay_once(self, now: datetime | None = None) -> int:
        """Publish every event older than the grace; returns how many."""
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
        while not stop.wait(interval):
            try:
                self.relay_once()
            except Exception:
                log.exception("outbox relay failed; trying again")
