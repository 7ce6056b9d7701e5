"""How one user's deliveries are kept from delaying another's.

All deliveries share one queue, which hands out messages roughly in the order they were sent. Two
rules keep a user with a large backlog (or slow receivers) from standing before everyone else:

- Pacing: each user has a schedule in the notifier's table. A user's new deliveries take its next
  slots and wait in the queue, invisible, until their slot; so a backlog is spread over time instead
  of lying visible before another user's first delivery, which finds its own schedule free. Slots are
  at most `rate` a second (after a `burst` due at once), and no closer than the user's share of
  attempts can keep up with (how long its attempts take, over `in_flight`).
- Shares: a worker makes at most `in_flight` attempts of one user's deliveries at once. One more is
  deferred, spread after the user's other deferred ones by the same spacing: it is not an attempt,
  and it is never dead-lettered for waiting (with too few receives left for its attempts, it is sent
  again as a fresh message), so slow or failing receivers of one user never hold every handler thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
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


@dataclass
class _User:
    held: int = 0  # attempts in progress
    took: float | None = None  # seconds an attempt takes, a moving average
    deferred_to: float = 0.0  # the latest time a deferred delivery of the user was sent to


class UserShares:
    """Attempts in progress in this process, per user; how long each user's attempts take, from which
    the spacing of the user's slots follows; and when the user's deferred deliveries come back (spread
    by that spacing, without a write anywhere, since a deferral must cost next to nothing). Thread-safe."""

    def __init__(self, limit: int, *, remembered: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self._users: OrderedDict[str, _User] = OrderedDict()
        self._remembered = remembered
        self._clock = clock
        self._lock = threading.Lock()

    def _user(self, user_id: str) -> _User:
        """The user's record, most recently used last (the lock held)."""
        user = self._users.pop(user_id, None) or _User()
        self._users[user_id] = user
        while len(self._users) > self._remembered:
            oldest = next(iter(self._users))
            if self._users[oldest].held:
                break
            del self._users[oldest]
        return user

    @contextmanager
    def hold(self, user_id: str) -> Iterator[bool]:
        """Yields True with one of the user's shares held until the block ends, False if all are in use."""
        with self._lock:
            user = self._user(user_id)
            taken = user.held < self.limit
            if taken:
                user.held += 1
        started = self._clock()
        try:
            yield taken
        finally:
            if taken:
                took = self._clock() - started
                with self._lock:
                    user.held -= 1
                    user.took = took if user.took is None else 0.8 * user.took + 0.2 * took

    def held(self, user_id: str) -> int:
        with self._lock:
            return self._users[user_id].held if user_id in self._users else 0

    def spacing(self, user_id: str) -> float:
        """Seconds between the user's deliveries that its share of attempts keeps up with (0 if unknown)."""
        with self._lock:
            user = self._users.get(user_id)
            return (user.took or 0.0) / self.limit if user else 0.0

    def defer(self, user_id: str, earliest: float, spacing: float) -> float:
        """When a deferred delivery of the user comes back: from `earliest`, after the user's others."""
        with self._lock:
            user = self._user(user_id)
            user.deferred_to = max(user.deferred_to + spacing, earliest)
            return user.deferred_to
