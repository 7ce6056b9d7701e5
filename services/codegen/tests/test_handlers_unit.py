"""The codegen handler's decisions, with in-memory fakes of its adapters (no AWS, milliseconds)."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import replace

import pytest

from snapinfra_codegen.adapters.jobs import Claim, JobRecord, Lease
from snapinfra_codegen.adapters.leases import LeaseKeeper
from snapinfra_codegen.generators.base import GeneratedProject, GenerationError
from snapinfra_codegen.generators.validation import ProjectLimits
from snapinfra_codegen.handlers import Dependencies, JobBusy, generate_code
from snapinfra_shared.catalog import Artifact, CodeGenerationRequested
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.spec import ProjectSpec

SPEC = ProjectSpec.model_validate({"entities": [{"name": "Task", "fields": [{"name": "title"}]}]})


class FakeJobs:
    """The claim semantics of the real repository, in a dict, on a clock the test moves."""

    def __init__(self):
        self.records: dict[str, JobRecord] = {}
        self.messages: dict[str, str] = {}
        self.now = 1000.0
        self.delete_during_generation = False

    def clock(self):
        return self.now

    def claim(self, job_id, user_id, project_id, lease_seconds, message_id):
        record = self.records.get(job_id)
        if record and (
            record.status != "generating" or (record.lease_until >= self.now and self.messages[job_id] != message_id)
        ):
            return Claim("busy" if record.status == "generating" else "done", record)
        attempts = record.attempts + 1 if record else 1
        owner = str(uuid.uuid4())
        self.records[job_id] = JobRecord(
            job_id, user_id, project_id, "generating", attempts, owner=owner, lease_until=self.now + lease_seconds
        )
        self.messages[job_id] = message_id
        return Claim("claimed", self.records[job_id], Lease(job_id, owner, attempts))

    def get(self, job_id):
        return self.records.get(job_id)

    def _held(self, lease, **changes):
        record = self.records[lease.job_id]
        if self.delete_during_generation:
            record = self.records[lease.job_id] = replace(record, status="deleted", owner=None)
        if record.status != "generating" or record.owner != lease.owner:
            return False
        self.records[lease.job_id] = replace(record, **changes)
        return True

    def renew(self, lease, lease_seconds):
        return self._held(lease, lease_until=self.now + lease_seconds)

    def release(self, lease):
        return self._held(lease, lease_until=0.0, owner=None)

    def complete(self, lease, artifact, completed_at):
        return self._held(lease, status="completed", artifact=artifact, completed_at=completed_at, owner=None)

    def fail(self, lease, reason):
        return self._held(lease, status="failed", reason=reason, owner=None)


class FakeArtifacts:
    def __init__(self):
        self.stored: dict[tuple[str, int], bytes] = {}
        self.diagrams: dict[tuple[str, int], bytes | None] = {}

    def put(self, user_id, job_id, attempt, project_name, package, code_package=None, *, diagram=None):
        self.stored[(job_id, attempt)] = package.zip_bytes
        self.diagrams[(job_id, attempt)] = diagram
        return Artifact(
            bucket="b",
            key=f"codegen/{user_id}/{job_id}/attempt-{attempt}/{project_name}.zip",
            manifest_key="m",
            size_bytes=len(package.zip_bytes),
            file_count=package.manifest["file_count"],
            sha256=package.sha256,
        )

    def delete_job(self, user_id, job_id):
        gone = [k for k in self.stored if k[0] == job_id]
        for k in gone:
            del self.stored[k]
        return len(gone)

    def delete_attempt(self, user_id, job_id, attempt):
        return 1 if self.stored.pop((job_id, attempt), None) is not None else 0


class RecordingPublisher:
    def __init__(self):
        self.events: list[Envelope] = []

    def publish(self, event):
        self.events.append(event)

    @property
    def types(self):
        return [e.type for e in self.events]


class Generator:
    name = "fake"

    def __init__(self, failure: Exception | None = None):
        self.failure, self.calls = failure, 0

    def generate(self, request):
        self.calls += 1
        if self.failure:
            raise self.failure
        return GeneratedProject({f"{request.project_name}/main.py": b"x = 1\n"})


def make(generator=None):
    jobs = FakeJobs()
    return Dependencies(
        jobs,
        FakeArtifacts(),
        RecordingPublisher(),
        generator or Generator(),
        ProjectLimits(),
        LeaseKeeper(jobs, 60, background=False),
    )


def request() -> tuple[Envelope, CodeGenerationRequested]:
    data = CodeGenerationRequested(
        job_id=str(uuid.uuid4()),
        project_id="p",
        project_type="model",
        prompt="tasks",
        spec=SPEC,
        spec_source="inferred",
    )
    return new_event("CodeGenerationRequested", source="api", user_id="u", correlation_id="c", data=data), data


def test_success_announces_started_then_completed_with_the_artifact():
    deps = make()
    event, data = request()
    generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    assert deps.publisher.types == ["CodeGenerationStarted", "CodeGenerationCompleted"]
    # the generator's one file, and the architecture diagram the handler adds to every project
    assert deps.publisher.events[1].data["artifact"]["file_count"] == 2
    assert all(e.correlation_id == "c" and e.user_id == "u" for e in deps.publisher.events)
    with zipfile.ZipFile(io.BytesIO(deps.artifacts.stored[(data.job_id, 1)])) as archive:
        assert archive.namelist() == ["p/docs/architecture.svg", "p/main.py"]
        assert archive.read("p/docs/architecture.svg") == deps.artifacts.diagrams[(data.job_id, 1)]


def test_a_job_another_attempt_holds_is_busy_until_its_lease_ends_and_nothing_is_announced():
    deps = make()
    event, data = request()
    deps.jobs.claim(data.job_id, "u", "p", 60, "other-message")
    deps.jobs.now += 20
    with pytest.raises(JobBusy) as busy:
        generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    assert busy.value.seconds == 45  # the 40 s the lease has left, and a margin
    assert deps.publisher.events == []


def test_a_duplicate_on_its_last_attempt_is_dropped_while_the_holder_lives():
    deps = make()
    event, data = request()
    deps.jobs.claim(data.job_id, "u", "p", 60, "other-message")
    generate_code(event, data, Delivery("m", 5, 5), deps=deps)  # returns: the message is settled, not dead-lettered
    assert deps.generator.calls == 0 and deps.publisher.events == []


def test_the_holders_own_message_come_back_takes_the_job_over_at_once():
    deps = make()
    event, data = request()
    deps.jobs.claim(data.job_id, "u", "p", 60, "m")  # its worker died; SQS hands the same message out again
    generate_code(event, data, Delivery("m", 2, 5), deps=deps)
    assert deps.publisher.types == ["CodeGenerationStarted", "CodeGenerationCompleted"]
    assert deps.jobs.records[data.job_id].attempts == 2


def test_a_settled_job_is_announced_again_without_generating():
    deps = make()
    event, data = request()
    generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    generate_code(event, data, Delivery("m", 2, 5), deps=deps)
    assert deps.generator.calls == 1
    assert deps.publisher.types[-1] == "CodeGenerationCompleted"


def test_a_generation_error_fails_the_job_once_and_settles_the_message():
    deps = make(Generator(GenerationError("nothing to build")))
    event, data = request()
    generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    generate_code(event, data, Delivery("m", 2, 5), deps=deps)  # redelivered: announced again, not regenerated
    assert deps.generator.calls == 1
    assert deps.publisher.types == ["CodeGenerationStarted", "CodeGenerationFailed", "CodeGenerationFailed"]
    assert deps.jobs.records[data.job_id].reason == "nothing to build"


def test_a_transient_error_releases_the_job_and_raises_for_a_retry():
    deps = make(Generator(TimeoutError("slow model")))
    event, data = request()
    with pytest.raises(TimeoutError):
        generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    assert deps.jobs.records[data.job_id].owner is None and deps.jobs.records[data.job_id].lease_until == 0
    assert deps.publisher.types == ["CodeGenerationStarted"]


def test_a_job_deleted_while_generated_leaves_no_artifact_and_no_completion():
    deps = make()
    deps.jobs.delete_during_generation = True
    event, data = request()
    generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    assert deps.artifacts.stored == {}
    assert deps.publisher.types == ["CodeGenerationStarted"]


def test_the_keeper_renews_what_is_due_keeps_trying_after_an_error_and_gives_back_holds_after_shutdown():
    jobs = FakeJobs()
    keeper = LeaseKeeper(jobs, 60, background=False)
    first = keeper.hold(jobs.claim("a", "u", "p", 60, "m-a").lease)
    jobs.now += 10
    keeper.hold(jobs.claim("b", "u", "p", 60, "m-b").lease)
    jobs.now += 10  # a's renewal is due (a third of the lease), b's is not yet
    assert keeper.renew_due() == 1 and jobs.records["a"].lease_until == jobs.now + 60

    calls = []

    def unreachable(lease, seconds):
        calls.append(lease.job_id)
        raise ConnectionError("DynamoDB unreachable")

    jobs.renew, saved = unreachable, jobs.renew
    jobs.now += 20
    assert keeper.renew_due() == 0 and sorted(calls) == ["a", "b"] and not first.lost  # tried again next time
    jobs.renew = saved
    assert keeper.renew_due() == 2

    assert keeper.release_all() == 2 and first.lost
    assert jobs.records["a"].lease_until == 0 and jobs.records["a"].owner is None
    late = keeper.hold(jobs.claim("c", "u", "p", 60, "m-c").lease)  # a handler that claimed as the worker stopped
    assert late.lost and jobs.records["c"].lease_until == 0
