"""The api's projection: codegen events move its read model of each job. Each update is
conditional on the status rank, so duplicates and reordering never move a job backwards."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

from snapinfra_api.codegen.store import JobRepository
from snapinfra_api.deployments.projection import deployment_handlers
from snapinfra_api.deployments.store import DeploymentRepository
from snapinfra_shared.catalog import CodeGenerationCompleted, CodeGenerationFailed, CodeGenerationStarted
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope
from snapinfra_shared.runtime import EventHandler

log = logging.getLogger(__name__)


def _applied(moved: bool, event: Envelope) -> None:
    if not moved:
        log.info("event did not move the job (already further, or deleted)", extra={"event_type": event.type})


def job_started(event: Envelope, data: CodeGenerationStarted, _: Delivery, *, jobs: JobRepository) -> None:
    moved = jobs.advance(
        event.user_id,
        data.job_id,
        "generating",
        event.occurred_at,
        {"started_at": {"S": event.occurred_at.isoformat()}, "attempts": {"N": str(data.attempt)}},
    )
    _applied(moved, event)


def job_completed(event: Envelope, data: CodeGenerationCompleted, _: Delivery, *, jobs: JobRepository) -> None:
    moved = jobs.advance(
        event.user_id,
        data.job_id,
        "completed",
        event.occurred_at,
        {"completed_at": {"S": data.completed_at.isoformat()}, "artifact": {"S": data.artifact.model_dump_json()}},
    )
    _applied(moved, event)


def job_failed(event: Envelope, data: CodeGenerationFailed, _: Delivery, *, jobs: JobRepository) -> None:
    moved = jobs.advance(
        event.user_id,
        data.job_id,
        "failed",
        event.occurred_at,
        {"reason": {"S": data.reason}, "attempts": {"N": str(data.attempts)}},
    )
    _applied(moved, event)


def build_handlers(jobs: JobRepository, deployments: DeploymentRepository | None = None) -> Mapping[str, EventHandler]:
    return {
        "CodeGenerationStarted": functools.partial(job_started, jobs=jobs),
        "CodeGenerationCompleted": functools.partial(job_completed, jobs=jobs),
        "CodeGenerationFailed": functools.partial(job_failed, jobs=jobs),
        **(deployment_handlers(deployments) if deployments is not None else {}),
    }
