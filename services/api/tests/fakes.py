"""In-memory ports for the api (snapinfra_api.ports), for tests of HTTP behaviour that is not AWS behaviour:
auth, limits, the contract. Type-checked against the Protocols (mypy runs over this file).

Deployments and subscriptions are not modelled yet: their use cases hold stores that fail loudly if a test
reaches them (such a test still needs the embedded AWS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

from snapinfra_api.adapters.limits import IdempotencyRecord, StoredResponse, TokenBuckets, Verdict
from snapinfra_api.admin.store import DeadLetter, Depth, QueueInspector, Redrive
from snapinfra_api.bootstrap import build_authenticator, notification_policy
from snapinfra_api.codegen.artifacts import ArtifactMissing, Download
from snapinfra_api.codegen.model import CodeGenJob
from snapinfra_api.codegen.store import Page
from snapinfra_api.codegen.use_cases import CodeGenJobs
from snapinfra_api.deployments.use_cases import Deployments
from snapinfra_api.notifications.use_cases import Notifications
from snapinfra_api.ports import ApiPorts
from snapinfra_api.settings import ApiSettings
from snapinfra_shared.catalog import Artifact
from snapinfra_shared.events import Envelope
from snapinfra_shared.topology import QueueSpec


class FakeJobStore:
    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], CodeGenJob] = {}
        self.outbox: list[Envelope] = []
        self._lock = threading.Lock()

    def add(self, job: CodeGenJob, event: Envelope) -> None:
        with self._lock:
            self.jobs[(job.user_id, job.id)] = job
            self.outbox.append(event)

    def get(self, user_id: str, job_id: str) -> CodeGenJob | None:
        return self.jobs.get((user_id, job_id))

    def list(self, user_id: str, *, limit: int, cursor: str | None, project_id: str | None) -> Page:
        """Newest first (job ids are UUIDv7), `cursor` the last id of the previous page."""
        mine = sorted(
            (j for (u, _), j in self.jobs.items() if u == user_id and project_id in (None, j.project_id)),
            key=lambda j: j.id,
            reverse=True,
        )
        if cursor is not None:
            mine = [j for j in mine if j.id < cursor]
        page = mine[:limit]
        return Page(page, page[-1].id if len(mine) > limit else None)

    def remove(self, user_id: str, job_id: str, event: Envelope) -> bool:
        with self._lock:
            if self.jobs.pop((user_id, job_id), None) is None:
                return False
            self.outbox.append(event)
            return True


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    def publish(self, event: Envelope) -> None:
        self.published.append(event)

    def publish_many(self, events: Sequence[Envelope]) -> None:
        self.published.extend(events)


class FakeOutbox:
    def __init__(self) -> None:
        self.done: list[Envelope] = []

    def published(self, event: Envelope) -> None:
        self.done.append(event)


class NoArtifacts:
    """No artifact is stored: every download is ArtifactMissing."""

    def presigned_url(self, artifact: Artifact, expires_in: int, *, key: str | None = None) -> str:
        raise ArtifactMissing(key or artifact.key)

    def open(self, artifact: Artifact, chunk_size: int = 64 * 1024, *, key: str | None = None) -> Download:
        raise ArtifactMissing(key or artifact.key)


class FakeRateLimiter:
    """Token buckets as the real ones count them (GCRA: one `tat` per bucket), in memory, on `clock`."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._tat: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str, *, rate_per_second: float, burst: int) -> Verdict:
        micros = TokenBuckets.MICROS  # whole microseconds, as the real buckets count
        interval = max(1, round(micros / rate_per_second))
        with self._lock:
            now = round(self._clock() * micros)
            tat = max(self._tat.get(key, now), now)
            limit = now + (burst - 1) * interval
            if tat > limit:
                return Verdict(False, burst, 0, (tat - limit) / micros, (tat - now) / micros)
            tat += interval
            self._tat[key] = tat
            remaining = (burst * interval - (tat - now)) // interval
            return Verdict(True, burst, max(0, remaining), 0.0, (tat - now) / micros)


class FakeIdempotencyKeys:
    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        # (user, scope, key) -> (fingerprint, response or None while in progress, lease or expiry time)
        self.records: dict[tuple[str, str, str], tuple[str, StoredResponse | None, float]] = {}
        self._lock = threading.Lock()

    def claim(
        self, user_id: str, scope: str, key: str, fingerprint: str, *, ttl: int, lease: int
    ) -> IdempotencyRecord | None:
        now = self._clock()
        with self._lock:
            found = self.records.get((user_id, scope, key))
            if found is None or found[2] < now:
                self.records[(user_id, scope, key)] = (fingerprint, None, now + lease)
                return None
            return IdempotencyRecord(found[0], found[1])

    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse, *, ttl: int) -> None:
        with self._lock:
            fingerprint = self.records[(user_id, scope, key)][0]
            self.records[(user_id, scope, key)] = (fingerprint, response, self._clock() + ttl)

    def release(self, user_id: str, scope: str, key: str) -> None:
        with self._lock:
            self.records.pop((user_id, scope, key), None)


class EmptyQueues:
    """The topology's queues, every one empty."""

    def __init__(self, settings: ApiSettings):
        self._topology = QueueInspector(None, settings.topology())

    def queues(self) -> list[QueueSpec]:
        return self._topology.queues()

    def is_work_queue(self, spec: QueueSpec) -> bool:
        return self._topology.is_work_queue(spec)

    def find(self, name: str) -> QueueSpec:
        return self._topology.find(name)

    def depth(self, name: str) -> Depth:
        return Depth(name, 0, 0, 0)

    def dead_letters(self, spec: QueueSpec, limit: int) -> list[DeadLetter]:
        return []

    def redrive(self, spec: QueueSpec, limit: int) -> Redrive:
        return Redrive(0, 0, 0)


class Healthy:
    def checks(self) -> dict[str, str]:
        return {"table": "ok", "queue": "ok", "bucket": "ok"}


class NotModelled:
    """A store these fakes do not model: any use fails the test, naming what it reached for."""

    def __init__(self, what: str):
        self._what = what

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the in-memory ports do not model {self._what}.{name}; use the embedded AWS")


class FakePorts(ApiPorts):
    """Real use cases and authenticator over in-memory stores; the test reads the fakes back."""

    def __init__(self, settings: ApiSettings, clock: Callable[[], float] = time.time):
        self.store, self.publisher, self.outbox = FakeJobStore(), FakePublisher(), FakeOutbox()
        super().__init__(
            settings=settings,
            authenticator=build_authenticator(settings),
            jobs=CodeGenJobs(self.store, self.publisher, NoArtifacts(), self.outbox, settings.presign_expiry_seconds),
            deployments=Deployments(cast(Any, NotModelled("deployments")), self.store, self.publisher, self.outbox),
            notifications=Notifications(
                cast(Any, NotModelled("subscriptions")),
                self.publisher,
                self.outbox,
                cast(Any, NotModelled("windows")),
                notification_policy(settings),
                clock,
            ),
            rate_limits=FakeRateLimiter(clock),
            idempotency=FakeIdempotencyKeys(clock),
            queues=EmptyQueues(settings),
            health=Healthy(),
        )
