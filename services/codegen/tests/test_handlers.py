"""The codegen handlers with their real adapters against the embedded AWS; the generator is a small
in-test one where a test needs it to fail in a particular way."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime

import pytest

from snapinfra_codegen.adapters.artifacts import ArtifactStore
from snapinfra_codegen.adapters.jobs import JobRepository
from snapinfra_codegen.adapters.leases import LeaseKeeper
from snapinfra_codegen.bootstrap import build_handlers
from snapinfra_codegen.generators.base import GeneratedProject, GenerationError, GenerationRequest
from snapinfra_codegen.generators.validation import ProjectLimits
from snapinfra_codegen.handlers import Dependencies, JobBusy, project_name
from snapinfra_shared.catalog import CodeGenerationDeleted, CodeGenerationRequested
from snapinfra_shared.consumer import Delivery, parse_body
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import Dispatcher
from snapinfra_shared.spec import ProjectSpec

SPEC = ProjectSpec.model_validate({"entities": [{"name": "User", "fields": [{"name": "email", "type": "email"}]}]})


class ScriptedGenerator:
    """Returns a small valid project, or raises what the test scripted for each call."""

    name = "scripted"

    def __init__(self, *outcomes: Exception | None):
        self.outcomes = list(outcomes)
        self.calls: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> GeneratedProject:
        self.calls.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        root = request.project_name
        return GeneratedProject({f"{root}/README.md": b"# hello\n", f"{root}/app.py": b"print('hi')\n"})


def deps_for(stack, generator, clock=None, lease_seconds: int = 60) -> Dependencies:
    """The real adapters; the lease keeper's thread is left out, the tests renew with their own clock."""
    clients = stack.clients
    jobs = JobRepository(clients.dynamodb, stack.topology.tables["codegen"].name, **({"clock": clock} if clock else {}))
    return Dependencies(
        jobs=jobs,
        artifacts=ArtifactStore(clients.s3, stack.topology.bucket, "codegen/"),
        publisher=Publisher(clients.sns, stack.provisioned["topics"]["codegen"]),
        generator=generator,
        limits=ProjectLimits(),
        leases=LeaseKeeper(jobs, lease_seconds, background=False),
    )


def requested(job_id: str | None = None) -> Envelope:
    return new_event(
        "CodeGenerationRequested",
        source="api",
        user_id="alice",
        correlation_id="req-1",
        data=CodeGenerationRequested(
            job_id=job_id or str(uuid.uuid4()),
            project_id="Project 123",
            project_type="api",
            prompt="user management",
            spec=SPEC,
            spec_source="inferred",
        ),
    )


def deliver(
    deps: Dependencies, event: Envelope, receive_count: int = 1, max_receive_count: int = 5, message_id: str = "m"
) -> None:
    Dispatcher(build_handlers(deps))(event, Delivery(message_id, receive_count, max_receive_count))


def published(stack) -> list[Envelope]:
    return [parse_body(m["Body"]) for m in stack.drain("api")]


def objects(stack, prefix: str) -> list[dict]:
    return stack.clients.s3.list_object_versions(Bucket=stack.topology.bucket, Prefix=prefix).get("Versions", [])


def test_a_request_makes_a_zip_and_manifest_and_announces_start_and_completion(stack):
    deps = deps_for(stack, ScriptedGenerator())
    event = requested()
    deliver(deps, event)

    started, completed = published(stack)
    assert (started.type, completed.type) == ("CodeGenerationStarted", "CodeGenerationCompleted")
    assert started.correlation_id == completed.correlation_id == "req-1"
    artifact = completed.data["artifact"]
    assert artifact["key"] == f"codegen/alice/{event.data['job_id']}/attempt-1/project-123.zip"
    body = stack.clients.s3.get_object(Bucket=artifact["bucket"], Key=artifact["key"])["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert names == ["project-123/README.md", "project-123/app.py", "project-123/docs/architecture.svg"]
    manifest = json.loads(
        stack.clients.s3.get_object(Bucket=artifact["bucket"], Key=artifact["manifest_key"])["Body"].read()
    )
    assert [f["path"] for f in manifest["files"]] == names
    assert manifest["zip_sha256"] == artifact["sha256"]
    assert artifact["file_count"] == 3 and artifact["size_bytes"] == len(body)
    # the diagram beside the ZIP, under the attempt's folder, is the one inside it
    assert artifact["diagram_key"] == f"codegen/alice/{event.data['job_id']}/attempt-1/architecture.svg"
    stored = stack.clients.s3.get_object(Bucket=artifact["bucket"], Key=artifact["diagram_key"])
    assert stored["ContentType"] == "image/svg+xml"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert stored["Body"].read() == archive.read("project-123/docs/architecture.svg")
        readme = archive.read("project-123/README.md").decode()
    assert "## Architecture" in readme and "```mermaid\nerDiagram" in readme


def test_a_redelivered_request_does_not_generate_twice_but_announces_again(stack):
    generator = ScriptedGenerator()
    deps = deps_for(stack, generator)
    event = requested()
    deliver(deps, event)
    deliver(deps, event, receive_count=2)
    assert len(generator.calls) == 1
    events = published(stack)
    assert [e.type for e in events] == ["CodeGenerationStarted", "CodeGenerationCompleted", "CodeGenerationCompleted"]
    assert events[1].id == events[2].id  # the same outcome, the same id: consumers drop the repeat


def test_a_permanent_failure_is_recorded_and_announced_with_its_reason(stack):
    deps = deps_for(stack, ScriptedGenerator(GenerationError("the model's answer was not a project: no files")))
    event = requested()
    deliver(deps, event)  # no exception: the message is settled
    _started, failed = published(stack)
    assert failed.type == "CodeGenerationFailed"
    assert failed.data["reason"] == "the model's answer was not a project: no files"
    assert objects(stack, f"codegen/alice/{event.data['job_id']}/") == []


def test_invalid_generator_output_fails_with_the_validation_reason(stack):
    class Escaping(ScriptedGenerator):
        def generate(self, request):
            return GeneratedProject({"../etc/passwd": b"x"})

    deps = deps_for(stack, Escaping())
    deliver(deps, requested())
    _, failed = published(stack)
    assert failed.type == "CodeGenerationFailed" and "passwd" in failed.data["reason"]


def test_a_transient_failure_is_retried_and_the_retry_may_claim_the_job_at_once(stack):
    generator = ScriptedGenerator(TimeoutError("model endpoint timed out"), None)
    deps = deps_for(stack, generator)
    event = requested()
    with pytest.raises(TimeoutError):
        deliver(deps, event, receive_count=1)
    deliver(deps, event, receive_count=2)  # the lease was released: no JobBusy
    types = [e.type for e in published(stack)]
    assert types == ["CodeGenerationStarted", "CodeGenerationStarted", "CodeGenerationCompleted"]
    record = deps.jobs.get_item(event.data["job_id"])
    assert record["status"]["S"] == "completed" and record["attempts"]["N"] == "2"


def test_the_last_failed_attempt_announces_the_failure_and_still_raises_for_the_dlq(stack):
    deps = deps_for(stack, ScriptedGenerator(ConnectionError("S3 unreachable")))
    event = requested()
    with pytest.raises(ConnectionError):
        deliver(deps, event, receive_count=5, max_receive_count=5)
    _, failed = published(stack)
    assert failed.type == "CodeGenerationFailed"
    assert failed.data["reason"] == "gave up after 1 attempt: S3 unreachable"


def test_a_job_held_by_another_attempt_is_busy(stack):
    deps = deps_for(stack, ScriptedGenerator())
    event = requested()
    deps.jobs.claim(event.data["job_id"], "alice", "p", 600, "another-message")
    with pytest.raises(JobBusy):
        deliver(deps, event)


def test_deleting_removes_every_version_and_a_late_request_generates_nothing(stack):
    generator = ScriptedGenerator()
    deps = deps_for(stack, generator)
    event = requested()
    job_id = event.data["job_id"]
    deliver(deps, event)
    assert len(objects(stack, f"codegen/alice/{job_id}/")) == 3  # the ZIP, its manifest, its diagram
    deleted = new_event(
        "CodeGenerationDeleted",
        source="api",
        user_id="alice",
        correlation_id="req-2",
        data=CodeGenerationDeleted(job_id=job_id, project_id="Project 123"),
    )
    deliver(deps, deleted)
    deliver(deps, deleted)  # a redelivery is harmless
    assert objects(stack, f"codegen/alice/{job_id}/") == []
    published(stack)
    # A request for a job deleted before it was generated (events are unordered) makes nothing.
    early = requested()
    deliver(
        deps,
        new_event(
            "CodeGenerationDeleted",
            source="api",
            user_id="alice",
            correlation_id="c",
            data=CodeGenerationDeleted(job_id=early.data["job_id"], project_id="p"),
        ),
    )
    deliver(deps, early)
    assert len(generator.calls) == 1
    assert published(stack) == []


@pytest.mark.parametrize(
    ("project_id", "slug"),
    [
        ("project-123", "project-123"),
        ("Project 123", "project-123"),
        ("123", "project-123"),
        ("My_App.v2", "my-app-v2"),
    ],
)
def test_project_names_are_safe_slugs(project_id, slug):
    assert project_name(project_id) == slug


def test_an_event_of_another_type_is_refused_as_poison(stack):
    from snapinfra_shared.consumer import PoisonMessage

    deps = deps_for(stack, ScriptedGenerator())
    odd = Envelope(
        id=uuid.uuid4(),
        type="CodeGenerationStarted",
        occurred_at=datetime.now(UTC),
        source="codegen",
        correlation_id="c",
        user_id="alice",
        data={},
    )
    with pytest.raises(PoisonMessage):
        deliver(deps, odd)
