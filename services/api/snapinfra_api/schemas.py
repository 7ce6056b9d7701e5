"""What the HTTP API accepts and returns (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from snapinfra_api.domain.jobs import CodeGenJob, Status
from snapinfra_shared.spec import ProjectSpec, ProjectType

PROJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_PROMPT_CHARS = 4000


class CreateCodeGeneration(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=AliasGenerator(validation_alias=to_camel))

    project_id: str = Field(pattern=PROJECT_ID_PATTERN, description="the client's project this job belongs to")
    type: ProjectType
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    spec: ProjectSpec | None = Field(
        default=None, description="entities and fields; inferred from the prompt if absent"
    )


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=AliasGenerator(validation_alias=to_camel))

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)
    project_id: str | None = Field(default=None, pattern=PROJECT_ID_PATTERN)


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ArtifactOut(_Out):
    file_count: int
    size_bytes: int
    sha256: str


class CodeGenerationOut(_Out):
    id: str
    project_id: str
    type: ProjectType
    status: Status
    prompt: str
    entities: list[str]
    spec_source: Literal["given", "inferred"]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    attempts: int
    file_count: int | None
    size_bytes: int | None
    artifact: ArtifactOut | None
    reason: str | None
    links: dict[str, str]

    @classmethod
    def of(cls, job: CodeGenJob) -> CodeGenerationOut:
        base = f"/api/code-gen/{job.id}"
        links = {"self": base}
        if job.status == "completed":
            links |= {"downloadUrl": f"{base}/download-url", "download": f"{base}/download"}
        artifact = job.artifact
        return cls(
            id=job.id,
            project_id=job.project_id,
            type=job.type,
            status=job.status,
            prompt=job.prompt,
            entities=[e.name for e in job.spec.entities],
            spec_source=job.spec_source,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            attempts=job.attempts,
            file_count=artifact.file_count if artifact else None,
            size_bytes=artifact.size_bytes if artifact else None,
            artifact=ArtifactOut(file_count=artifact.file_count, size_bytes=artifact.size_bytes, sha256=artifact.sha256)
            if artifact
            else None,
            reason=job.reason,
            links=links,
        )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class CodeGenerationListOut(_Out):
    items: list[CodeGenerationOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class DownloadUrlOut(_Out):
    url: str
    expires_in: int = Field(description="seconds the URL stays valid")
