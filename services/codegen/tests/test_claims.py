"""Claims under faults, with the real adapters against the embedded AWS and a clock the test moves: a
dead holder's job is taken again, a live holder keeps it, a shutdown gives it back, a losing attempt
never removes the winner's ZIP, and an outcome is announced under one id however often it is handled."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from snapinfra_codegen.generators.base import GeneratedProject, GenerationRequest
from snapinfra_codegen.handlers import LEASE_MARGIN_SECONDS, Dependencies, JobBusy
from snapinfra_codegen.settings import CodegenSettings
from snapinfra_shared.catalog import CodeGenerationDeleted
from snapinfra_shared.events import new_event

from .test_handlers import deliver, deps_for, objects, published, requested

LEASE = 60


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class MidwayGenerator:
    """Makes a project whose content names its call; on the first call runs `midway` first, as if
    other workers acted while this attempt was generating."""

    name = "midway"

    def __init__(self, midway: Callable[[], None] | None = None):
        self.midway = midway
        self.calls = 0

    def generate(self, request: GenerationRequest) -> GeneratedProject:
        self.calls += 1
        if self.calls == 1 and self.midway is not None:
            self.midway()
        root = request.project_name
        return GeneratedProject({f"{root}/app.py": f"print('call {self.calls}')\n".encode()})


def setup(stack, midway: Callable[[Dependencies], None] | None = None) -> tuple[Dependencies, Clock]:
    clock = Clock()
    holder: list[Dependencies] = []
    generator = MidwayGenerator((lambda: midway(holder[0])) if midway else None)
    holder.append(deps_for(stack, generator, clock=clock, lease_seconds=LEASE))
    return holder[0], clock


def zip_of(stack, artifact: dict) -> bytes:
    return stack.clients.s3.get_object(Bucket=artifact["bucket"], Key=artifact["key"])["Body"].read()


def test_a_job_whose_holder_died_is_claimed_again_and_completed(stack):
    deps, clock = setup(stack)
    event = requested()
    job_id = event.data["job_id"]
    dead = deps.jobs.claim(job_id, "alice", "Project 123", LEASE, "message-of-the-dead-worker")
    assert dead.outcome == "claimed"

    clock.now += 30  # a duplicate meanwhile waits for the rest of the lease
    with pytest.raises(JobBusy) as busy:
        deliver(deps, event, message_id="duplicate")
    assert busy.value.seconds == int(LEASE - 30 + LEASE_MARGIN_SECONDS)

    clock.now += 31  # no renewal came: the lease ran out
    deliver(deps, event, receive_count=2, message_id="duplicate")
    started, completed = published(stack)
    assert (started.type, started.data["attempt"]) == ("CodeGenerationStarted", 2)
    assert completed.type == "CodeGenerationCompleted"
    assert completed.data["artifact"]["key"] == f"codegen/alice/{job_id}/attempt-2/project-123.zip"
    assert deps.jobs.get(job_id).status == "completed"


def test_the_dead_holders_own_message_takes_the_job_over_without_waiting_for_its_lease(stack):
    deps, _clock = setup(stack)
    event = requested()
    deps.jobs.claim(event.data["job_id"], "alice", "Project 123", LEASE, "m-1")
    deliver(deps, event, receive_count=2, message_id="m-1")  # a live holder would keep m-1 invisible
    assert [e.type for e in published(stack)] == ["CodeGenerationStarted", "CodeGenerationCompleted"]


def test_a_live_holders_lease_is_renewed_and_a_duplicate_waits_then_is_dropped_on_its_last_attempt(stack):
    event = requested()
    job_id = event.data["job_id"]
    seen: dict[str, object] = {}

    def meanwhile(deps: Dependencies) -> None:
        clock.now += 50
        assert deps.leases.renew_due() == 1  # due after a third of the lease
        clock.now += 50  # past the first lease's end, within the renewed one
        assert deps.leases.renew_due() == 1
        seen["lease_until"] = deps.jobs.get(job_id).lease_until
        with pytest.raises(JobBusy) as busy:
            deliver(deps, event, receive_count=1, message_id="duplicate")
        seen["retry_in"] = busy.value.seconds
        deliver(deps, event, receive_count=5, max_receive_count=5, message_id="duplicate")  # settled, not raised

    deps, clock = setup(stack, meanwhile)
    start = clock.now
    deliver(deps, event, message_id="holder")
    assert seen == {"lease_until": start + 100 + LEASE, "retry_in": int(LEASE + LEASE_MARGIN_SECONDS)}
    assert deps.generator.calls == 1
    types = [e.type for e in published(stack)]
    assert types == ["CodeGenerationStarted", "CodeGenerationCompleted"]
    assert stack.drain("codegen", dlq=True, wait=0) == []


def test_a_renewal_that_finds_the_job_taken_over_stops_the_attempt_before_it_stores_anything(stack):
    event = requested()
    job_id = event.data["job_id"]

    def meanwhile(deps: Dependencies) -> None:
        clock.now += LEASE + 1  # this worker stalled: its lease ran out and another attempt claimed
        assert deps.jobs.claim(job_id, "alice", "Project 123", LEASE, "other").outcome == "claimed"
        assert deps.leases.renew_due() == 0

    deps, clock = setup(stack, meanwhile)
    with pytest.raises(JobBusy):  # the job is the other attempt's now: this message waits like a duplicate
        deliver(deps, event, message_id="stalled")
    assert objects(stack, f"codegen/alice/{job_id}/") == []
    assert [e.type for e in published(stack)] == ["CodeGenerationStarted"]
    assert deps.jobs.get(job_id).attempts == 2


def test_shutdown_releases_held_leases_and_the_next_claim_succeeds_at_once(stack):
    event = requested()
    job_id = event.data["job_id"]
    claims: list[str] = []

    def meanwhile(deps: Dependencies) -> None:
        assert deps.leases.release_all() == 1  # SIGTERM past the grace: the worker's on_shutdown hook
        claims.append(deps.jobs.claim(job_id, "alice", "Project 123", LEASE, "next-worker").outcome)

    deps, _clock = setup(stack, meanwhile)
    with pytest.raises(JobBusy):  # had it lived on, the released attempt would not complete
        deliver(deps, event, message_id="stopping")
    assert claims == ["claimed"]
    record = deps.jobs.get(job_id)
    assert record.status == "generating" and record.attempts == 2
    assert objects(stack, f"codegen/alice/{job_id}/") == []


def test_the_same_request_handled_three_times_and_after_completion_has_one_completed_id(stack):
    deps, _clock = setup(stack)
    event = requested()
    for receive_count in (1, 2, 3):
        deliver(deps, event, receive_count=receive_count)
    # The outbox relay republishes the request as a new event (a new id) for the same job.
    republished = event.model_copy(update={"id": uuid.uuid4()})
    deliver(deps, republished, message_id="relay")
    events = published(stack)
    completed = [e for e in events if e.type == "CodeGenerationCompleted"]
    assert len(completed) == 4 and len({e.id for e in completed}) == 1
    assert [e.type for e in events].count("CodeGenerationStarted") == 1
    assert deps.generator.calls == 1


def test_a_loser_whose_completion_fails_leaves_the_winners_zip_downloadable(stack):
    event = requested()
    job_id = event.data["job_id"]

    def meanwhile(deps: Dependencies) -> None:
        clock.now += LEASE + 1  # this attempt stalled; another takes the job and completes it
        deliver(deps, event, receive_count=2, message_id="winner")

    deps, clock = setup(stack, meanwhile)
    deliver(deps, event, message_id="loser")  # stores its ZIP, fails to complete, removes only its own
    completed = [e for e in published(stack) if e.type == "CodeGenerationCompleted"]
    assert len(completed) == 1
    artifact = completed[0].data["artifact"]
    assert artifact["key"] == f"codegen/alice/{job_id}/attempt-2/project-123.zip"
    body = zip_of(stack, artifact)
    assert hashlib.sha256(body).hexdigest() == artifact["sha256"] and len(body) == artifact["size_bytes"]
    assert deps.jobs.get(job_id).artifact.key == artifact["key"]
    keys = sorted(o["Key"] for o in objects(stack, f"codegen/alice/{job_id}/"))
    assert keys == sorted([f"codegen/alice/{job_id}/attempt-2/manifest.json", artifact["key"], artifact["diagram_key"]])
    assert artifact["diagram_key"] == f"codegen/alice/{job_id}/attempt-2/architecture.svg"


def test_a_job_deleted_during_generation_still_has_its_objects_removed(stack):
    event = requested()
    job_id = event.data["job_id"]

    def meanwhile(deps: Dependencies) -> None:
        deleted = new_event(
            "CodeGenerationDeleted",
            source="api",
            user_id="alice",
            correlation_id="req-2",
            data=CodeGenerationDeleted(job_id=job_id, project_id="Project 123"),
        )
        deliver(deps, deleted, message_id="delete")

    deps, _clock = setup(stack, meanwhile)
    deliver(deps, event)
    assert objects(stack, f"codegen/alice/{job_id}/") == []
    assert [e.type for e in published(stack)] == ["CodeGenerationStarted"]
    assert deps.jobs.get(job_id).status == "deleted"


def test_a_lease_as_long_as_the_queues_visibility_timeout_is_refused():
    visibility = CodegenSettings().topology().queues["codegen"].visibility_timeout
    assert CodegenSettings(lease_seconds=visibility - 1).lease_seconds == visibility - 1
    with pytest.raises(ValidationError, match="visibility timeout"):
        CodegenSettings(lease_seconds=visibility)
