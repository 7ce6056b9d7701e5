"""What the HTTP app needs from the world, as Protocols: `create_app(settings, ports)` takes an `ApiPorts`.
bootstrap.py builds the real ones from AWS; the tests' in-memory fakes (tests/fakes.py) implement the same
Protocols, so that auth, limit and contract tests run without an embedded AWS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from snapinfra_api.adapters.limits import IdempotencyRecord, StoredResponse, Verdict
from snapinfra_api.admin.store import DeadLetter, Depth, Redrive
from snapinfra_api.codegen.artifacts import Download
from snapinfra_api.codegen.model import CodeGenJob
from snapinfra_api.codegen.store import Page
from snapinfra_api.codegen.use_cases import CodeGenJobs
from snapinfra_api.deployments.use_cases import Deployments
from snapinfra_api.http.auth import Authenticator
from snapinfra_api.notifications.use_cases import Notifications
from snapinfra_api.settings import ApiSettings
from snapinfra_shared.catalog import Artifact
from snapinfra_shared.events import Envelope
from snapinfra_shared.topology import QueueSpec


class JobStore(Protocol):
    """The api's code generation jobs, each written with its event in the outbox."""

    def add(self, job: CodeGenJob, event: Envelope) -> None: ...
    def get(self, user_id: str, job_id: str) -> CodeGenJob | None: ...
    def list(self, user_id: str, *, limit: int, cursor: str | None, project_id: str | None) -> Page: ...
    def remove(self, user_id: str, job_id: str, event: Envelope) -> bool: ...


class EventPublisher(Protocol):
    def publish(self, event: Envelope) -> None: ...
    def publish_many(self, events: Sequence[Envelope]) -> None: ...


class Outbox(Protocol):
    def published(self, event: Envelope) -> None: ...


class Artifacts(Protocol):
    """The generated ZIPs and diagrams: a presigned URL, or the bytes streamed through the api."""

    def presigned_url(self, artifact: Artifact, expires_in: int, *, key: str | None = None) -> str: ...
    def open(self, artifact: Artifact, chunk_size: int = ..., *, key: str | None = None) -> Download: ...


class RateLimiter(Protocol):
    def take(self, key: str, *, rate_per_second: float, burst: int) -> Verdict: ...


class IdempotencyKeys(Protocol):
    def claim(
        self, user_id: str, scope: str, key: str, fingerprint: str, *, ttl: int, lease: int
    ) -> IdempotencyRecord | None: ...
    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse, *, ttl: int) -> None: ...
    def release(self, user_id: str, scope: str, key: str) -> None: ...


class QueueAdmin(Protocol):
    """The system's queues, for /api/admin."""

    def queues(self) -> list[QueueSpec]: ...
    def is_work_queue(self, spec: QueueSpec) -> bool: ...
    def find(self, name: str) -> QueueSpec: ...
    def depth(self, name: str) -> Depth: ...
    def dead_letters(self, spec: QueueSpec, limit: int) -> list[DeadLetter]: ...
    def redrive(self, spec: QueueSpec, limit: int) -> Redrive: ...


class HealthProbe(Protocol):
    def checks(self) -> dict[str, str]:
        """Each dependency's name and "ok" or "failed: ..."."""
        ...


@dataclass
class ApiPorts:
    """Everything the routes reach, built once (bootstrap.py, or a test's fakes)."""

    settings: ApiSettings
    authenticator: Authenticator
    jobs: CodeGenJobs
    deployments: Deployments
    notifications: Notifications
    rate_limits: RateLimiter
    idempotency: IdempotencyKeys
    queues: QueueAdmin
    health: HealthProbe
