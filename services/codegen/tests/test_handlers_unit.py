"""The codegen handler's decisions, with in-memory fakes of its adapters (no AWS, milliseconds)."""

from __future__ import annotations

import uuid

import pytest

from snapinfra_codegen.adapters.jobs import Claim, JobRecord
from snapinfra_codegen.generators.base import GeneratedProject, GenerationError
from snapinfra_codegen.generators.validation import ProjectLimits
from snapinfra_codegen.handlers import Dependencies, JobBusy, generate_code
from snapinfra_shared.catalog import Artifact, CodeGenerationRequested
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.spec import ProjectSpec

SPEC = ProjectSpec.model_validate({"entities": [{"name": "Task", "fields": [{"name": "title"}]}]})


class FakeJobs:
    """The claim semantics of the real repository, in a dict."""

    def __init__(self):
        self.records: dict[str, JobRecord] = {}
        self.leased: set[str] = set()
        self.delete_during_generation = False

    def claim(self, job_id, user_id, project_id, lease_seconds):
        record = self.records.get(job_id)
        if record and (record.status != "generating" or job_id in self.leased):
            return Claim("busy" if record.status == "generating" else "done", record)
        attempts = record.attempts + 1 if record else 1
        self.records[job_id] = JobRecord(job_id, user_id, project_id, "generating", attempts)
        self.leased.add(job_id)
        return Claim("claimed", self.records[job_id])

    def release(self, job_id):
        self.leased.discard(job_id)

    def _settle(self, job_id, **changes):
        record = self.records[job_id]
        if self.delete_during_generation:
            self.records[job_id] = JobRecord(job_id, record.user_id, record.project_id, "deleted", record.attempts)
        if self.records[job_id].status != "generating":
            return False
        self.records[job_id] = JobRecord(**{**record.__dict__, **changes})
        self.leased.discard(job_id)
        return True

    def complete(self, job_id, artifact, completed_at):
        return self._settle(job_id, status="completed", artifact=artifact, completed_at=completed_at)

    def fail(self, job_id, reason):
        return self._settle(job_id, status="failed", reason=reason)


class FakeArtifacts:
    def __init__(self):
        self.stored: dict[str, bytes] = {}

    def put(self, user_id, job_id, project_name, package):
        self.stored[job_id] = package.zip_bytes
        return Artifact(
            bucket="b",
            key=f"codegen/{user_id}/{job_id}/{project_name}.zip",
            manifest_key="m",
            size_bytes=len(package.zip_bytes),
            file_count=package.manifest["file_count"],
            sha256=package.sha256,
        )

    def delete_job(self, user_id, job_id):
        return 1 if self.stored.pop(job_id, None) is not None else 0


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
    return Dependencies(
        FakeJobs(), FakeArtifacts(), RecordingPublisher(), generator or Generator(), ProjectLimits(), 60
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
    assert deps.publisher.events[1].data["artifact"]["file_count"] == 1
    assert all(e.correlation_id == "c" and e.user_id == "u" for e in deps.publisher.events)


def test_a_job_another_attempt_holds_is_busy_and_nothing_is_announced():
    deps = make()
    event, data = request()
    deps.jobs.claim(data.job_id, "u", "p", 60)
    with pytest.raises(JobBusy):
        generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    assert deps.publisher.events == []


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
    assert data.job_id not in deps.jobs.leased
    assert deps.publisher.types == ["CodeGenerationStarted"]


def test_a_job_deleted_while_generated_leaves_no_artifact_and_no_completion():
    deps = make()
    deps.jobs.delete_during_generation = True
    event, data = request()
    generate_code(event, data, Delivery("m", 1, 5), deps=deps)
    assert deps.artifacts.stored == {}
    assert deps.publisher.types == ["CodeGenerationStarted"]
