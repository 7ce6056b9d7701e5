"""How one user's deliveries are kept from delaying another's.

All deliveries share one queue, which hands out messages roughly in the order they were sent. Two
rules keep a user with a large backlog (or slow receivers) from standing before everyone else:

- Pacing: each user has a schedule in the notifier's table. A user's new deliveries take its next
  slots (`rate` a second, after a `burst` that is due at once) and wait in the queue, invisible, until
  their slot; so a backlog is spread over time instead of lying visible before another user's first
  delivery, which finds its own schedule free.
- Shares: a worker makes at most `in_flight` attempts of one user's deliveries at once. One more is
  deferred: sent again as a fresh message for the user's next slot (its receive count starts over, it
  is not an attempt, it is never dead-lettered for waiting), so slow or failing receivers of one user
  never hold every handler thread.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    rate: float  # deliveries of one user that become due per second, once its burst is used
    burst: int  # deliveries of an idle user due at once

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def credit_from(self, now: float) -> float:
        """Where an idle user's schedule starts: `burst` slots already due."""
        return now - (self.burst - 1) * self.interval


class UserShares:
    """Attempts in progress in this process, per user; thread-safe."""

    def __init__(self, limit: int):
        self.limit = limit
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, user_id: str) -> Iterator[bool]:
        """Yields True with one of the user's shares held until the block ends, False if all are in use."""
        with self._lock:
            taken = self._held[user_id] < self.limit
            if taken:
                self._held[user_id] += 1
        try:
            yield taken
        finally:
            if taken:
                with self._lock:
                    self._held[user_id] -= 1
                    if not self._held[user_id]:
                        del self._held[user_id]

    def held(self, user_id: str) -> int:
        with self._lock:
            return self._held[user_id]
