"""The api's projection of the deployer's events onto its deployments read model and step log.
Each status update is conditional on the status rank, so duplicates and reordering never move a
deployment backwards."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping

from snapinfra_api.deployments.model import Step
from snapinfra_api.deployments.store import DeploymentRepository
from snapinfra_shared.catalog import (
    DeploymentCompleted,
    DeploymentDestroyed,
    DeploymentDestroyFailed,
    DeploymentFailed,
    DeploymentProgressed,
    DeploymentStarted,
)
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope
from snapinfra_shared.runtime import EventHandler

log = logging.getLogger(__name__)


def _applied(moved: bool, event: Envelope) -> None:
    if not moved:
        log.info("event did not move the deployment (already further)", extra={"event_type": event.type})


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def started(event: Envelope, data: DeploymentStarted, _: Delivery, *, repo: DeploymentRepository) -> None:
    fields = {"region": _s(data.region), "started_at": _s(event.occurred_at.isoformat())}
    _applied(repo.advance(event.user_id, data.deployment_id, "deploying", event.occurred_at, fields), event)


def progressed(event: Envelope, data: DeploymentProgressed, _: Delivery, *, repo: DeploymentRepository) -> None:
    repo.add_steps(data.deployment_id, [Step(**step.model_dump()) for step in data.steps])


def completed(event: Envelope, data: DeploymentCompleted, _: Delivery, *, repo: DeploymentRepository) -> None:
    fields = {
        "region": _s(data.region),
        "stack_id": _s(data.stack_id),
        "outputs": _s(json.dumps(data.outputs)),
        "deployed_at": _s(data.completed_at.isoformat()),
    }
    _applied(repo.advance(event.user_id, data.deployment_id, "deployed", event.occurred_at, fields), event)


def failed(event: Envelope, data: DeploymentFailed, _: Delivery, *, repo: DeploymentRepository) -> None:
    fields = {"error": _s(data.reason)} | ({"stack_status": _s(data.stack_status)} if data.stack_status else {})
    _applied(repo.advance(event.user_id, data.deployment_id, "failed", event.occurred_at, fields), event)


def destroyed(event: Envelope, data: DeploymentDestroyed, _: Delivery, *, repo: DeploymentRepository) -> None:
    moved = repo.advance(
        event.user_id,
        data.deployment_id,
        "destroyed",
        event.occurred_at,
        {"destroyed_at": _s(data.destroyed_at.isoformat())},
        destroy_attempt=data.attempt,
    )
    _applied(moved, event)


def destroy_failed(event: Envelope, data: DeploymentDestroyFailed, _: Delivery, *, repo: DeploymentRepository) -> None:
    fields = {"error": _s(data.reason)} | ({"stack_status": _s(data.stack_status)} if data.stack_status else {})
    moved = repo.advance(
        event.user_id, data.deployment_id, "destroy_failed", event.occurred_at, fields, destroy_attempt=data.attempt
    )
    _applied(moved, event)


def deployment_handlers(repo: DeploymentRepository) -> Mapping[str, EventHandler]:
    return {
        "DeploymentStarted": functools.partial(started, repo=repo),
        "DeploymentProgressed": functools.partial(progressed, repo=repo),
        "DeploymentCompleted": functools.partial(completed, repo=repo),
        "DeploymentFailed": functools.partial(failed, repo=repo),
        "DeploymentDestroyed": functools.partial(destroyed, repo=repo),
        "DeploymentDestroyFailed": functools.partial(destroy_failed, repo=repo),
    }
