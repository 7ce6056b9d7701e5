"""What the deployer does with each event it consumes. Plain functions; their dependencies are bound by
`bootstrap.build_handlers`. An exception propagates to the consumer loop (retry with backoff, then DLQ).

A handling never waits on CloudFormation: it does what can be done now (copy the template, create or
delete the stack, report the new stack events), and while the stack is still in progress it puts a
delayed copy of the event back on its own queue and returns. The outcome events carry ids derived from
the deployment, so announcing one again (after a crash, or to a redelivery) is a duplicate consumers drop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from snapinfra_deployer.adapters.rechecks import Rechecks
from snapinfra_deployer.adapters.records import DeploymentRecord, DeploymentRecords
from snapinfra_deployer.adapters.stacks import (
    CREATED,
    DELETED,
    NOT_CREATED,
    NOT_DELETED,
    StackEvent,
    StackRejected,
    Stacks,
    StackTargets,
)
from snapinfra_deployer.adapters.templates import TemplateStore, TemplateUnavailable
from snapinfra_shared.catalog import (
    DeploymentCompleted,
    DeploymentDestroyed,
    DeploymentDestroyFailed,
    DeploymentDestroyRequested,
    DeploymentFailed,
    DeploymentProgressed,
    DeploymentRequested,
    DeploymentStarted,
    DeploymentStep,
    EventData,
)
from snapinfra_shared.consumer import Delivery, NotYet, PoisonMessage
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.publisher import Publisher

log = logging.getLogger(__name__)


class DeploymentBusy(NotYet):
    """A destroy arrived while the stack is still being created: it comes back after a backoff."""


@dataclass(frozen=True)
class Policy:
    deploy_timeout_seconds: int = 3600
    destroy_timeout_seconds: int = 3600
    recheck_base_seconds: int = 5
    recheck_max_seconds: int = 60
    hold_seconds: float = 120.0  # one turn's lease; below the queue's visibility timeout

    def recheck_delay(self, checks: int) -> int:
        return int(min(self.recheck_max_seconds, self.recheck_base_seconds * 2 ** min(10, max(0, checks - 1))))


@dataclass(frozen=True)
class Dependencies:
    records: DeploymentRecords
    templates: TemplateStore
    targets: StackTargets
    publisher: Publisher
    rechecks: Rechecks
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.time


# -- events -------------------------------------------------------------------------------------


def _publish(deps: Dependencies, cause: Envelope, type_: str, data: EventData, key: str | None = None) -> None:
    """With `key` (the deployment and the outcome) the event's id is derived from it, the same whoever announces it."""
    deps.publisher.publish(
        new_event(
            type_, source="deployer", user_id=cause.user_id, correlation_id=cause.correlation_id, data=data, key=key
        )
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _said(message: str) -> DeploymentStep:
    return DeploymentStep(at=_now(), source="deployer", message=message)


def _reported(event: StackEvent) -> DeploymentStep:
    message = f"{event.logical_id} {event.status}" + (f": {event.reason}" if event.reason else "")
    return DeploymentStep(
        at=event.at,
        source="cloudformation",
        message=message,
        logical_id=event.logical_id,
        resource_type=event.resource_type,
        status=event.status,
        reason=event.reason,
    )


def _progress(deps: Dependencies, cause: Envelope, record: DeploymentRecord, steps: list[DeploymentStep]) -> None:
    for start in range(0, len(steps), 100):
        _publish(
            deps,
            cause,
            "DeploymentProgressed",
            DeploymentProgressed(
                deployment_id=record.deployment_id, stack_name=record.stack_name, steps=steps[start : start + 100]
            ),
        )


def _short_id(deployment_id: str) -> str:
    return deployment_id.replace("-", "")[-12:]


def _stacks(deps: Dependencies, record: DeploymentRecord) -> Stacks:
    return deps.targets.stacks(
        region=record.region,
        role_arn=record.role_arn,
        user_id=record.user_id,
        session_name=f"snapinfra-{_short_id(record.deployment_id)}",
    )


def _new_events(
    deps: Dependencies, cause: Envelope, record: DeploymentRecord, stacks: Stacks, steps: list[DeploymentStep]
) -> None:
    """Report the stack events not reported yet, after `steps`; remember the newest."""
    assert record.stack_id is not None
    new = stacks.events_since(record.stack_id, record.last_event_id)
    steps = steps + [_reported(e) for e in new]
    if steps:
        _progress(deps, cause, record, steps)
    if new:
        deps.records.update(record.deployment_id, {"last_event_id": new[-1].event_id}, status=record.status)


# -- deploying ----------------------------------------------------------------------------------


def deploy(event: Envelope, data: DeploymentRequested, delivery: Delivery, *, deps: Dependencies) -> None:
    now = deps.clock()
    record = deps.records.open(
        DeploymentRecord(
            deployment_id=data.deployment_id,
            user_id=event.user_id,
            project_id=data.project_id,
            code_gen_id=data.code_gen_id,
            environment=data.environment,
            stack_name=data.stack_name,
            region=deps.targets.region(data.region),
            status="deploying",
            started_at=now,
            role_arn=data.role_arn,
        )
    )
    if record.user_id != event.user_id:
        raise PoisonMessage(f"deployment {data.deployment_id} belongs to another user")
    if record.status in ("deployed", "failed"):
        log.info("deployment already settled; announcing its outcome again", extra={"status": record.status})
        _announce_deploy(deps, event, record)
        return
    if record.status != "deploying":
        log.info("deployment is destroyed or being destroyed; request ignored", extra={"status": record.status})
        return
    turn = deps.records.take_turn(record, now, deps.policy.hold_seconds)
    if turn is None:
        log.info("another delivery is looking after this deployment; dropped as a duplicate")
        return
    try:
        _deploy_turn(deps, event, data, turn)
    except Exception as exc:
        deps.records.update(turn.deployment_id, {"check_after": 0}, status="deploying")
        if delivery.final_attempt:
            _fail(deps, event, turn, f"gave up after {delivery.receive_count} attempts: {exc}", None, [])
        raise


def _deploy_turn(deps: Dependencies, event: Envelope, data: DeploymentRequested, turn: DeploymentRecord) -> None:
    steps: list[DeploymentStep] = []
    try:
        stacks = _stacks(deps, turn)
        if turn.stack_id is None:
            turn = _create_stack(deps, event, data, turn, stacks, steps)
    except (StackRejected, TemplateUnavailable) as exc:
        _fail(deps, event, turn, str(exc), None, steps)
        return
    assert turn.stack_id is not None
    state = stacks.describe(turn.stack_id)
    if state is None:
        _fail(deps, event, turn, f"the stack {turn.stack_id} no longer exists", None, steps)
        return
    if state.status in CREATED:
        _new_events(deps, event, turn, stacks, steps)
        _progress(deps, event, turn, [_said(f"stack {state.status} with {len(state.outputs)} outputs")])
        completed_at = _now().isoformat()
        changes = {"status": "deployed", "outputs": state.outputs, "stack_status": state.status}
        if deps.records.update(turn.deployment_id, {**changes, "completed_at": completed_at}, status="deploying"):
            _announce_deploy(deps, event, deps.records.get(turn.deployment_id) or turn)
        return
    if state.status in NOT_CREATED:
        _new_events(deps, event, turn, stacks, steps)
        _fail(deps, event, turn, stacks.failure_reason(state), state.status, [])
        return
    elapsed = deps.clock() - turn.started_at
    if elapsed > deps.policy.deploy_timeout_seconds:
        _new_events(deps, event, turn, stacks, steps)
        reason = (
            f"the stack was not created within {deps.policy.deploy_timeout_seconds} s "
            f"(CloudFormation reports {state.status})"
        )
        _fail(deps, event, turn, reason, state.status, [])
        return
    _new_events(deps, event, turn, stacks, steps)
    _look_again(deps, event, turn, "deploying")


def _create_stack(
    deps: Dependencies,
    event: Envelope,
    data: DeploymentRequested,
    turn: DeploymentRecord,
    stacks: Stacks,
    steps: list[DeploymentStep],
) -> DeploymentRecord:
    _publish(
        deps,
        event,
        "DeploymentStarted",
        DeploymentStarted(
            deployment_id=turn.deployment_id, stack_name=turn.stack_name, region=turn.region, attempt=turn.checks
        ),
        key=f"{turn.deployment_id}:started",
    )
    steps.append(_said(f"deploying code generation {turn.code_gen_id} as stack {turn.stack_name} in {turn.region}"))
    template = deps.templates.copy(data.artifact, data.template_path, turn.user_id, turn.deployment_id)
    deps.records.update(turn.deployment_id, {"template_key": template.key}, status="deploying")
    steps.append(_said(f"template {template.path} copied to s3://{template.bucket}/{template.key}"))
    declared = stacks.declared_parameters(template.body)
    parameters = dict(data.parameters)
    undeclared = sorted(set(parameters) - declared)
    if undeclared:
        raise StackRejected(f"Parameters: [{', '.join(undeclared)}] do not exist in the template")
    if "Environment" in declared and "Environment" not in parameters:
        parameters["Environment"] = turn.environment
    if CODE_PARAMETERS & declared:
        parameters.update(_code_parameters(deps, data, turn, declared))
        steps.append(_said(f"function code package copied to s3://{deps.templates.bucket}/{parameters['CodeKey']}"))
    stack_id = stacks.create(
        name=turn.stack_name,
        body=template.body,
        parameters=parameters,
        tags={
            "snapinfra:user": turn.user_id,
            "snapinfra:project": turn.project_id,
            "snapinfra:deployment": turn.deployment_id,
            "snapinfra:code-generation": turn.code_gen_id,
        },
        timeout_minutes=max(1, -(-deps.policy.deploy_timeout_seconds // 60)),
        token=f"snapinfra-create-{turn.deployment_id}",
    )
    deps.records.update(turn.deployment_id, {"stack_id": stack_id}, status="deploying")
    steps.append(_said(f"stack creation requested ({stack_id})"))
    log.info("stack creation requested", extra={"stack_name": turn.stack_name, "region": turn.region})
    return replace(turn, stack_id=stack_id, template_key=template.key)


# The parameters a template with a function declares for its code package; the deployer fills them.
CODE_PARAMETERS = frozenset({"CodeBucket", "CodeKey", "CodeRuntime", "CodeArchitecture"})


def _code_parameters(
    deps: Dependencies, data: DeploymentRequested, turn: DeploymentRecord, declared: set[str]
) -> dict[str, str]:
    """Where the deployment's copy of the code package is, and what it was built for (codegen's manifest)."""
    key, package = deps.templates.copy_code_package(data.artifact, turn.user_id, turn.deployment_id)
    values = {
        "CodeBucket": deps.templates.bucket,
        "CodeKey": key,
        "CodeRuntime": package.runtime,
        "CodeArchitecture": package.architecture,
    }
    return {name: value for name, value in values.items() if name in declared}


def _look_again(deps: Dependencies, event: Envelope, turn: DeploymentRecord, status: str) -> None:
    delay = deps.policy.recheck_delay(turn.checks)
    attempt = turn.destroy_attempt if status == "destroying" else None
    deps.records.update(
        turn.deployment_id,
        {"check_after": deps.clock() + delay},
        status=status,  # type: ignore[arg-type]
        attempt=attempt,
    )
    deps.rechecks.later(event, delay)
    log.info("stack in progress; looking again later", extra={"delay_seconds": delay, "checks": turn.checks})


def _fail(
    deps: Dependencies,
    event: Envelope,
    record: DeploymentRecord,
    reason: str,
    stack_status: str | None,
    steps: list[DeploymentStep],
) -> None:
    log.warning("deployment failed", extra={"reason": reason, "stack_status": stack_status})
    _progress(deps, event, record, [*steps, _said(f"failed: {reason}")])
    changes = {"status": "failed", "reason": reason, "stack_status": stack_status, "check_after": 0}
    if deps.records.update(record.deployment_id, changes, status="deploying"):
        _announce_deploy(deps, event, deps.records.get(record.deployment_id) or record)


def _announce_deploy(deps: Dependencies, cause: Envelope, record: DeploymentRecord) -> None:
    if record.status == "deployed" and record.stack_id is not None:
        _publish(
            deps,
            cause,
            "DeploymentCompleted",
            DeploymentCompleted(
                deployment_id=record.deployment_id,
                stack_name=record.stack_name,
                stack_id=record.stack_id,
                region=record.region,
                outputs=record.outputs,
                completed_at=datetime.fromisoformat(record.completed_at or _now().isoformat()),
            ),
            key=f"{record.deployment_id}:completed",
        )
    elif record.status == "failed":
        _publish(
            deps,
            cause,
            "DeploymentFailed",
            DeploymentFailed(
                deployment_id=record.deployment_id,
                stack_name=record.stack_name,
                reason=record.reason or "failed",
                stack_status=record.stack_status,
            ),
            key=f"{record.deployment_id}:failed",
        )


# -- destroying ---------------------------------------------------------------------------------


def destroy(event: Envelope, data: DeploymentDestroyRequested, delivery: Delivery, *, deps: Dependencies) -> None:
    now = deps.clock()
    record = deps.records.get(data.deployment_id)
    if record is None:
        # Never deployed here: nothing to delete. The tombstone keeps a late request from creating it.
        record = deps.records.open(
            DeploymentRecord(
                deployment_id=data.deployment_id,
                user_id=event.user_id,
                project_id="",
                code_gen_id="",
                environment="",
                stack_name=data.stack_name,
                region=deps.targets.default_region,
                status="destroyed",
                started_at=now,
                destroy_attempt=data.attempt,
                destroyed_at=_now().isoformat(),
            )
        )
    if record.user_id != event.user_id:
        raise PoisonMessage(f"deployment {data.deployment_id} belongs to another user")
    n = data.attempt
    if record.destroy_attempt > n:
        log.info("a later destroy supersedes this one; ignored", extra={"attempt": n})
        return
    if record.status == "destroyed":
        # Destroyed already: a redelivered (or repeated) destroy succeeds again, it never fails.
        if record.destroy_attempt < n:
            deps.records.update(record.deployment_id, {"destroy_attempt": n}, status="destroyed")
        _announce_destroyed(deps, event, record, n)
        return
    if record.status == "destroy_failed" and record.destroy_attempt == n:
        _announce_destroy_failed(deps, event, record)
        return
    if record.status == "deploying":
        raise DeploymentBusy(f"deployment {record.deployment_id} is still deploying; destroying it after that")
    if record.destroy_attempt < n:
        began = deps.records.begin_destroy(record.deployment_id, n, now)
        if began is None:
            raise DeploymentBusy(f"deployment {record.deployment_id} changed meanwhile; trying again")
        record = began
    turn = deps.records.take_turn(record, now, deps.policy.hold_seconds)
    if turn is None:
        log.info("another delivery is looking after this destroy; dropped as a duplicate")
        return
    try:
        _destroy_turn(deps, event, turn)
    except Exception as exc:
        deps.records.update(turn.deployment_id, {"check_after": 0}, status="destroying", attempt=n)
        if delivery.final_attempt:
            _destroy_failed(deps, event, turn, f"gave up after {delivery.receive_count} attempts: {exc}", None, [])
        raise


def _destroy_turn(deps: Dependencies, event: Envelope, turn: DeploymentRecord) -> None:
    n = turn.destroy_attempt
    if turn.stack_id is None:
        _destroyed(deps, event, turn, [_said("no stack was created; nothing to delete")])
        return
    try:
        stacks = _stacks(deps, turn)
    except StackRejected as exc:
        _destroy_failed(deps, event, turn, str(exc), None, [])
        return
    steps: list[DeploymentStep] = []
    state = stacks.describe(turn.stack_id)
    settled = state is None or state.status in DELETED or state.status == "DELETE_IN_PROGRESS"
    failed_this_time = state is not None and state.status in NOT_DELETED and turn.delete_requested == n
    if state is not None and not settled and not failed_this_time:
        try:
            stacks.delete(turn.stack_id, token=f"snapinfra-delete-{turn.deployment_id}-{n}")
        except StackRejected as exc:
            _destroy_failed(deps, event, turn, str(exc), state.status, [])
            return
        deps.records.update(turn.deployment_id, {"delete_requested": n}, status="destroying", attempt=n)
        steps.append(_said(f"stack deletion requested ({turn.stack_name} in {turn.region})"))
        state = stacks.describe(turn.stack_id)
    if state is None or state.status in DELETED:
        _new_events(deps, event, turn, stacks, steps)
        _destroyed(deps, event, turn, [_said("stack deleted")])
        return
    _new_events(deps, event, turn, stacks, steps)
    if state.status in NOT_DELETED:
        _destroy_failed(deps, event, turn, stacks.failure_reason(state), state.status, [])
        return
    if deps.clock() - turn.destroy_started_at > deps.policy.destroy_timeout_seconds:
        reason = (
            f"the stack was not deleted within {deps.policy.destroy_timeout_seconds} s "
            f"(CloudFormation reports {state.status})"
        )
        _destroy_failed(deps, event, turn, reason, state.status, [])
        return
    _look_again(deps, event, turn, "destroying")


def _destroyed(deps: Dependencies, event: Envelope, turn: DeploymentRecord, steps: list[DeploymentStep]) -> None:
    _progress(deps, event, turn, steps)
    changes = {"status": "destroyed", "destroyed_at": _now().isoformat(), "check_after": 0}
    if deps.records.update(turn.deployment_id, changes, status="destroying", attempt=turn.destroy_attempt):
        log.info("stack destroyed", extra={"stack_name": turn.stack_name})
        _announce_destroyed(deps, event, deps.records.get(turn.deployment_id) or turn, turn.destroy_attempt)


def _destroy_failed(
    deps: Dependencies,
    event: Envelope,
    turn: DeploymentRecord,
    reason: str,
    stack_status: str | None,
    steps: list[DeploymentStep],
) -> None:
    log.warning("destroy failed", extra={"reason": reason, "stack_status": stack_status})
    _progress(deps, event, turn, [*steps, _said(f"destroy failed: {reason}")])
    changes = {"status": "destroy_failed", "reason": reason, "stack_status": stack_status, "check_after": 0}
    if deps.records.update(turn.deployment_id, changes, status="destroying", attempt=turn.destroy_attempt):
        _announce_destroy_failed(deps, event, deps.records.get(turn.deployment_id) or turn)


def _announce_destroyed(deps: Dependencies, cause: Envelope, record: DeploymentRecord, attempt: int) -> None:
    _publish(
        deps,
        cause,
        "DeploymentDestroyed",
        DeploymentDestroyed(
            deployment_id=record.deployment_id,
            stack_name=record.stack_name,
            destroyed_at=datetime.fromisoformat(record.destroyed_at or _now().isoformat()),
            attempt=attempt,
        ),
        key=f"{record.deployment_id}:destroyed:{attempt}",
    )


def _announce_destroy_failed(deps: Dependencies, cause: Envelope, record: DeploymentRecord) -> None:
    _publish(
        deps,
        cause,
        "DeploymentDestroyFailed",
        DeploymentDestroyFailed(
            deployment_id=record.deployment_id,
            stack_name=record.stack_name,
            reason=record.reason or "the stack could not be deleted",
            stack_status=record.stack_status,
            attempt=record.destroy_attempt,
        ),
        key=f"{record.deployment_id}:destroy_failed:{record.destroy_attempt}",
    )
