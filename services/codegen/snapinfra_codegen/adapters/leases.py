"""Keeps the leases of the jobs this process is generating alive, and gives them back on shutdown.

One background thread renews every held lease after each third of it, so a live attempt keeps its job
while a dead one's lease runs out soon (the setting keeps the lease below the queue's visibility
timeout). An attempt whose renewal finds the job taken over, settled or deleted learns it lost
(`Held.lost`); its writes are conditional on its lease anyway, so it cannot win.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from snapinfra_codegen.adapters.jobs import JobRepository, Lease

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Held:
    lease: Lease
    renew_at: float
    lost_event: threading.Event = field(default_factory=threading.Event)

    @property
    def lost(self) -> bool:
        return self.lost_event.is_set()


class LeaseKeeper:
    def __init__(
        self,
        jobs: JobRepository,
        lease_seconds: float,
        *,
        clock: Callable[[], float] | None = None,
        background: bool = True,
    ):
        self._jobs = jobs
        self.lease_seconds = lease_seconds
        self._clock = clock or jobs.clock
        self._background = background  # False in tests, which call renew_due() with their own clock
        self._held: dict[int, Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def renew_every(self) -> float:
        return self.lease_seconds / 3

    def hold(self, lease: Lease) -> Held:
        """Keep `lease` alive until `drop`. After `release_all` (shutting down) a new lease is given back at once."""
        held = Held(lease, self._clock() + self.renew_every)
        with self._lock:
            closed = self._closed
            if not closed:
                self._held[id(held)] = held
                self._start()
        if closed:
            self._jobs.release(lease)
            held.lost_event.set()
        return held

    def drop(self, held: Held) -> None:
        """Stop renewing (the attempt settled or released the job itself)."""
        with self._lock:
            self._held.pop(id(held), None)

    def renew_due(self) -> int:
        """Renew every lease whose renewal is due; returns how many were renewed."""
        now = self._clock()
        with self._lock:
            due = [h for h in self._held.values() if h.renew_at <= now]
        renewed = 0
        for held in due:
            try:
                kept = self._jobs.renew(held.lease, self.lease_seconds)
            except Exception:
                log.exception("lease renewal failed; trying again", extra={"job_id": held.lease.job_id})
                continue
            if kept:
                held.renew_at = now + self.renew_every
                renewed += 1
            else:
                log.warning(
                    "lease lost: another attempt took the job, or it was settled or deleted",
                    extra={"job_id": held.lease.job_id, "attempt": held.lease.attempt},
                )
                held.lost_event.set()
                self.drop(held)
        return renewed

    def release_all(self) -> int:
        """On shutdown: stop renewing and give back every held lease, so the next worker may claim at once."""
        with self._lock:
            self._closed = True
            held, self._held = list(self._held.values()), {}
        self._stop.set()
        released = 0
        for h in held:
            h.lost_event.set()
            try:
                released += int(self._jobs.release(h.lease))
            except Exception:
                log.exception("could not release a lease; it runs out by itself", extra={"job_id": h.lease.job_id})
        if held:
            log.info("leases released", extra={"released": released, "held": len(held)})
        return released

    def _start(self) -> None:
        if self._background and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.renew_every / 2):
            self.renew_due()
