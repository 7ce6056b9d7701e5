"""The api's read model of a code generation job, and the rules of its status."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from snapinfra_shared.catalog import Artifact
from snapinfra_shared.spec import ProjectSpec, ProjectType

Status = Literal["queued", "generating", "completed", "failed"]

# A status only moves forward: a late or duplicated event never undoes a later one.
STATUS_RANK: dict[Status, int] = {"queued": 0, "generating": 1, "completed": 2, "failed": 2}


@dataclass(frozen=True)
class CodeGenJob:
    id: str
    user_id: str
    project_id: str
    type: ProjectType
    prompt: str
    spec: ProjectSpec
    spec_source: Literal["given", "inferred"]
    status: Status
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    artifact: Artifact | None = None
    reason: str | None = None
    attempts: int = 0

    @property
    def status_rank(self) -> int:
        return STATUS_RANK[self.status]

    def with_status(self, status: Status, at: datetime) -> CodeGenJob:
        return replace(self, status=status, updated_at=at)
