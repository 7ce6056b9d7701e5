"""What the HTTP API accepts and returns (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from snapinfra_api.codegen.model import CodeGenJob, Status
from snapinfra_shared.spec import EntitySpec, FieldSpec, ProjectSpec, ProjectType

PROJECT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MAX_PROMPT_CHARS = 4000


# Every request body: camelCase names only (the snake_case spelling is an unknown field), and JSON types as
# declared (no 0/1/"true" for a boolean, no "3" for an integer).
BODY = ConfigDict(extra="forbid", strict=True, alias_generator=AliasGenerator(validation_alias=to_camel))


class FieldSpecIn(FieldSpec):
    """One typed field of an entity (`maxLength`, camelCase like the rest of the api). `id`, `created_at` and
    `updated_at` are always generated."""

    model_config = BODY


class EntitySpecIn(EntitySpec):
    """One resource of the generated project (a table, a REST collection, a model class)."""

    model_config = BODY

    fields: list[FieldSpecIn] = EntitySpec.model_fields["fields"]  # type: ignore[assignment]


class ProjectSpecIn(ProjectSpec):
    """The entities a generated project is built from: the shared spec model and all its rules (names that would
    clash in the generated code are refused), with the api's camelCase names."""

    model_config = BODY

    entities: list[EntitySpecIn] = ProjectSpec.model_fields["entities"]  # type: ignore[assignment]

    def internal(self) -> ProjectSpec:
        """The spec as events and the read model carry it (snake_case, as the services name it)."""
        return ProjectSpec.model_validate(self.model_dump())


class CreateCodeGeneration(BaseModel):
    model_config = BODY

    project_id: str = Field(pattern=PROJECT_ID_PATTERN, description="the client's project this job belongs to")
    type: ProjectType
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    spec: ProjectSpecIn | None = Field(
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
            if job.artifact is not None and job.artifact.diagram_key is not None:
                links |= {"diagramUrl": f"{base}/diagram-url", "diagram": f"{base}/diagram"}
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


class DeletedEventOut(_Out):
    """The data of a stream's `deleted` event: nothing (the resource is gone, the stream ends)."""

    model_config = ConfigDict(extra="forbid")


class DownloadUrlOut(_Out):
    url: str
    expires_in: int = Field(description="seconds the URL stays valid")
