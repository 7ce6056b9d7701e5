"""The api's read model of a deployment, and the rules of its status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from snapinfra_shared.catalog import Environment

DeploymentStatus = Literal["queued", "deploying", "deployed", "failed", "destroying", "destroyed", "destroy_failed"]
DEPLOYMENT_STATUSES: tuple[DeploymentStatus, ...] = (
    "queued",
    "deploying",
    "deployed",
    "failed",
    "destroying",
    "destroyed",
    "destroy_failed",
)


def status_rank(status: DeploymentStatus, destroy_attempt: int = 0) -> int:
    """A status only moves forward. Each destroy attempt n has ranks of its own (destroying 1+2n, its
    outcome 2+2n), so a destroy retried after `destroy_failed` moves forward too, and a late answer to
    an earlier attempt never overwrites a later one."""
    if status == "queued":
        return 0
    if status == "deploying":
        return 1
    if status in ("deployed", "failed"):
        return 2
    n = max(1, destroy_attempt)
    return 1 + 2 * n if status == "destroying" else 2 + 2 * n


@dataclass(frozen=True)
class Deployment:
    id: str
    user_id: str
    code_gen_id: str
    project_id: str
    environment: Environment
    status: DeploymentStatus
    stack_name: str
    region: str | None
    created_at: datetime
    updated_at: datetime
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    deployed_at: datetime | None = None
    destroyed_at: datetime | None = None
    stack_id: str | None = None
    stack_status: str | None = None
    destroy_attempt: int = 0


@dataclass(frozen=True)
class Step:
    """One line of a deployment's step log."""

    at: datetime
    source: str
    message: str
    logical_id: str | None = None
    resource_type: str | None = None
    status: str | None = None
    reason: str | None = None
