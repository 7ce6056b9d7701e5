"""How one user's deliveries are kept from delaying another's.

All deliveries share one queue, which hands out messages roughly in the order they were sent. Two
rules keep a user with a large backlog (or slow receivers) from standing before everyone else:

- Pacing: each user has a schedule in the notifier's table. A user's new deliveries take its next
  slots and wait in the queue, invisible, until their slot; so a backlog is spread over time instead
  of lying visible before another user's first delivery, which finds its own schedule free. Slots are
  at most `rate` a second (after a `burst` due at once), and no closer than the user's share of
  attempts can keep up with (how long its attempts take, over `in_flight`).
- Shares: a worker makes at most `in_flight` attempts of one user's deliveries at once. One more is
  deferred to the user's next slot: it is not an attempt, and it is never dead-lettered for waiting
  (past half the queue's receives it is sent again as a fresh message), so slow or failing receivers
  of one user never hold every handler thread.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
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
    """Attempts in progress in this process, per user, and how long each user's attempts take (a moving
    average), from which the spacing of the user's slots follows; thread-safe."""

    def __init__(self, limit: int, *, remembered: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self._held: Counter[str] = Counter()
        self._took: OrderedDict[str, float] = OrderedDict()  # user -> seconds an attempt takes, averaged
        self._remembered = remembered
        self._clock = clock
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, user_id: str) -> Iterator[bool]:
        """Yields True with one of the user's shares held until the block ends, False if all are in use."""
        with self._lock:
            taken = self._held[user_id] < self.limit
            if taken:
                self._held[user_id] += 1
        started = self._clock()
        try:
            yield taken
        finally:
            if taken:
                self._release(user_id, self._clock() - started)

    def _release(self, user_id: str, seconds: float) -> None:
        with self._lock:
            self._held[user_id] -= 1
            if not self._held[user_id]:
                del self._held[user_id]
            before = self._took.pop(user_id, None)
            self._took[user_id] = seconds if before is None else 0.8 * before + 0.2 * seconds
            if len(self._took) > self._remembered:
                self._took.popitem(last=False)

    def held(self, user_id: str) -> int:
        with self._lock:
            return self._held[user_id]

    def spacing(self, user_id: str) -> float:
        """Seconds between the user's deliveries that its share of attempts can keep up with (0 if unknown)."""
        with self._lock:
            return self._took.get(user_id, 0.0) / self.limit
