"""The use cases of code generation jobs, apart from HTTP: request, read, list, download (the ZIP or its
architecture diagram), delete."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import uuid6

from snapinfra_api.adapters.outbox import publish_now
from snapinfra_api.codegen.artifacts import ArtifactMissing, Download
from snapinfra_api.codegen.model import CodeGenJob
from snapinfra_api.codegen.store import Page
from snapinfra_api.interpreter import infer_spec
from snapinfra_shared.catalog import CodeGenerationDeleted, CodeGenerationRequested
from snapinfra_shared.events import new_event
from snapinfra_shared.spec import ProjectSpec, ProjectType

if TYPE_CHECKING:
    from snapinfra_api.ports import Artifacts, EventPublisher, JobStore, Outbox


class JobNotFound(LookupError):
    pass


class JobNotReady(RuntimeError):
    def __init__(self, job: CodeGenJob):
        super().__init__(
            f"code generation {job.id} is {job.status}; its download is available once it is completed"
            + (f" (it failed: {job.reason})" if job.status == "failed" else "")
        )
        self.job = job


class ArtifactGone(LookupError):
    def __init__(self, job: CodeGenJob):
        super().__init__(
            f"code generation {job.id} completed, but its ZIP is no longer stored; request the project again"
        )
        self.job = job


class DiagramGone(LookupError):
    def __init__(self, job: CodeGenJob):
        super().__init__(
            f"code generation {job.id} completed, but its architecture diagram is not stored (it was generated "
            "before diagrams were, or it is gone); request the project again"
        )
        self.job = job


@dataclass(frozen=True)
class CodeGenJobs:
    repository: JobStore
    publisher: EventPublisher
    artifacts: Artifacts
    outbox: Outbox
    presign_expiry_seconds: int

    def request(
        self,
        *,
        user_id: str,
        project_id: str,
        project_type: ProjectType,
        prompt: str,
        spec: ProjectSpec | None,
        correlation_id: str,
    ) -> CodeGenJob:
        """Accept a job: record it with its event in one write, then publish. The outbox relay
        publishes it later if this process dies or SNS fails in between."""
        spec_source: Literal["given", "inferred"] = "given" if spec is not None else "inferred"
        resolved = spec if spec is not None else infer_spec(prompt)  # raises UninterpretablePrompt
        now = datetime.now(UTC)
        job = CodeGenJob(
            id=str(uuid6.uuid7()),
            user_id=user_id,
            project_id=project_id,
            type=project_type,
            prompt=prompt,
            spec=resolved,
            spec_source=spec_source,
            status="queued",
            created_at=now,
            updated_at=now,
        )
        event = new_event(
            "CodeGenerationRequested",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            occurred_at=now,
            data=CodeGenerationRequested(
                job_id=job.id,
                project_id=project_id,
                project_type=project_type,
                prompt=prompt,
                spec=resolved,
                spec_source=spec_source,
            ),
        )
        self.repository.add(job, event)
        publish_now(self.publisher, event)  # settled by the projection when codegen's first event arrives
        return job

    def get(self, user_id: str, job_id: str) -> CodeGenJob:
        job = self.repository.get(user_id, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def list(self, user_id: str, *, limit: int, cursor: str | None, project_id: str | None) -> Page:
        return self.repository.list(user_id, limit=limit, cursor=cursor, project_id=project_id)

    def delete(self, user_id: str, job_id: str, correlation_id: str) -> None:
        job = self.get(user_id, job_id)
        event = new_event(
            "CodeGenerationDeleted",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            data=CodeGenerationDeleted(job_id=job.id, project_id=job.project_id),
        )
        if not self.repository.remove(user_id, job_id, event):
            raise JobNotFound(job_id)
        if publish_now(self.publisher, event):
            self.outbox.published(event)

    def download_url(self, user_id: str, job_id: str) -> tuple[str, int]:
        job = self._completed(user_id, job_id)
        assert job.artifact is not None
        try:
            url = self.artifacts.presigned_url(job.artifact, self.presign_expiry_seconds)
        except ArtifactMissing as exc:
            raise ArtifactGone(job) from exc
        return url, self.presign_expiry_seconds

    def download(self, user_id: str, job_id: str) -> Download:
        job = self._completed(user_id, job_id)
        assert job.artifact is not None
        try:
            return self.artifacts.open(job.artifact)
        except ArtifactMissing as exc:
            raise ArtifactGone(job) from exc

    def diagram_url(self, user_id: str, job_id: str) -> tuple[str, int]:
        """A presigned URL of the job's architecture diagram (SVG), stored beside its ZIP."""
        job = self._completed(user_id, job_id)
        assert job.artifact is not None
        if job.artifact.diagram_key is None:
            raise DiagramGone(job)
        try:
            url = self.artifacts.presigned_url(job.artifact, self.presign_expiry_seconds, key=job.artifact.diagram_key)
        except ArtifactMissing as exc:
            raise DiagramGone(job) from exc
        return url, self.presign_expiry_seconds

    def diagram(self, user_id: str, job_id: str) -> Download:
        job = self._completed(user_id, job_id)
        assert job.artifact is not None
        if job.artifact.diagram_key is None:
            raise DiagramGone(job)
        try:
            return self.artifacts.open(job.artifact, key=job.artifact.diagram_key)
        except ArtifactMissing as exc:
            raise DiagramGone(job) from exc

    def _completed(self, user_id: str, job_id: str) -> CodeGenJob:
        job = self.get(user_id, job_id)
        if job.status != "completed" or job.artifact is None:
            raise JobNotReady(job)
        return job
