"""The /api/code-gen routes through Flask's test client, against the embedded AWS."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import requests

from snapinfra_api.codegen.projection import build_handlers
from snapinfra_shared.catalog import Artifact, CodeGenerationCompleted, CodeGenerationFailed, CodeGenerationStarted
from snapinfra_shared.consumer import Delivery, parse_body
from snapinfra_shared.events import new_event
from snapinfra_shared.runtime import Dispatcher

GUIDE_REQUEST = {"projectId": "project-123", "type": "api", "prompt": "Create a REST API for user management"}
SPEC = {"entities": [{"name": "Spaceship", "fields": [{"name": "callsign", "type": "string", "maxLength": 40}]}]}


def create(who, **overrides):
    response = who.post("/api/code-gen", json={**GUIDE_REQUEST, "spec": SPEC, **overrides})
    assert response.status_code == 202, response.json
    return response.json


def project(deps, event_type, user, job_id, at=None, **data):
    """Deliver a codegen event to the api's projection, as its queue would."""
    models = {
        "CodeGenerationStarted": CodeGenerationStarted,
        "CodeGenerationCompleted": CodeGenerationCompleted,
        "CodeGenerationFailed": CodeGenerationFailed,
    }
    event = new_event(
        event_type,
        source="codegen",
        user_id=user,
        correlation_id="c",
        data=models[event_type](job_id=job_id, project_id="project-123", **data),
        occurred_at=at,
    )
    Dispatcher(build_handlers(deps.repository))(event, Delivery("m", 1, 5))
    return event


def complete(deps, stack, user, job_id, content=b"PK-zip-bytes"):
    key = f"codegen/{user}/{job_id}/project-123.zip"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=key, Body=content)
    artifact = Artifact(
        bucket=stack.topology.bucket,
        key=key,
        manifest_key=key + ".json",
        size_bytes=len(content),
        file_count=3,
        sha256="0" * 64,
    )
    project(
        deps,
        "CodeGenerationCompleted",
        user,
        job_id,
        project_type="api",
        generator="templated",
        artifact=artifact,
        completed_at=datetime.now(UTC),
    )


def test_the_guide_request_is_accepted_at_once_and_its_event_published(alice, stack):
    response = alice.post("/api/code-gen", json=GUIDE_REQUEST, headers={"X-Request-Id": "req-guide-1"})
    assert response.status_code == 202
    job = response.json
    assert response.headers["Location"] == f"/api/code-gen/{job['id']}"
    assert response.headers["X-Request-Id"] == "req-guide-1"
    assert job["status"] == "queued" and job["projectId"] == "project-123"
    assert job["entities"] == ["User"] and job["specSource"] == "inferred"
    [message] = stack.drain("codegen")
    event = parse_body(message["Body"])
    assert event.type == "CodeGenerationRequested" and event.correlation_id == "req-guide-1"
    assert event.data["job_id"] == job["id"] and event.user_id == "alice"
    assert message["MessageAttributes"]["type"]["StringValue"] == "CodeGenerationRequested"


def test_a_request_id_is_generated_when_absent(alice):
    response = alice.get("/api/code-gen")
    assert uuid.UUID(response.headers["X-Request-Id"])


def test_a_given_spec_drives_the_job(alice):
    assert create(alice)["entities"] == ["Spaceship"]


def _v2(field: dict) -> dict:
    """A spec with an Author and a Book holding `field`."""
    return {
        "entities": [
            {"name": "Author", "fields": [{"name": "name"}]},
            {"name": "Book", "fields": [field]},
        ]
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GUIDE_REQUEST, "colour": "red"}, "colour"),
        ({k: v for k, v in GUIDE_REQUEST.items() if k != "type"}, "type"),
        ({**GUIDE_REQUEST, "type": "website"}, "type"),
        ({**GUIDE_REQUEST, "projectId": "../../etc"}, "projectId"),
        ({**GUIDE_REQUEST, "prompt": ""}, "prompt"),
        ({**GUIDE_REQUEST, "prompt": "x" * 4001}, "prompt"),
        ({**GUIDE_REQUEST, "spec": {"entities": []}}, "spec.entities"),
        (
            {**GUIDE_REQUEST, "spec": {"entities": [{"name": "user", "fields": [{"name": "a"}]}]}},
            "spec.entities.0.name",
        ),
        (
            {**GUIDE_REQUEST, "spec": {"entities": [{"name": "User", "fields": [{"name": "id"}]}]}},
            "spec.entities.0.fields.0.name",
        ),
        # Spec v2: the rules the generator relies on are refused at the door, never a failed job.
        (
            {**GUIDE_REQUEST, "spec": _v2({"name": "author_id", "type": "reference", "references": "Writer"})},
            "spec.entities.1.fields.0.references",
        ),
        (
            {**GUIDE_REQUEST, "spec": _v2({"name": "status", "type": "enum", "values": []})},
            "spec.entities.1.fields.0.values",
        ),
        (
            {
                **GUIDE_REQUEST,
                "spec": _v2({"name": "author_id", "type": "reference", "references": "Author", "onDelete": "erase"}),
            },
            "spec.entities.1.fields.0.onDelete",
        ),
        (
            {**GUIDE_REQUEST, "spec": _v2({"name": "price", "type": "decimal", "minimum": 5, "maximum": 1})},
            "spec.entities.1.fields.0.minimum",
        ),
        (
            {**GUIDE_REQUEST, "spec": _v2({"name": "count", "type": "integer", "minLength": 2})},
            "spec.entities.1.fields.0.minLength",
        ),
        (
            {
                **GUIDE_REQUEST,
                "spec": _v2({"name": "tags", "type": "list", "items": "string", "minItems": 4, "maxItems": 2}),
            },
            "spec.entities.1.fields.0.minItems",
        ),
        (
            {
                **GUIDE_REQUEST,
                "spec": {
                    "entities": [
                        {"name": "Egg", "fields": [{"name": "hen_id", "type": "reference", "references": "Hen"}]},
                        {"name": "Hen", "fields": [{"name": "egg_id", "type": "reference", "references": "Egg"}]},
                    ]
                },
            },
            "spec.entities.1.fields.0.references",
        ),
    ],
)
def test_bad_input_gets_422_naming_the_field(alice, body, field):
    response = alice.post("/api/code-gen", json=body)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert field in [f["field"] for f in error["fields"]]


def test_a_prompt_nothing_can_be_built_from_gets_422_saying_why(alice, stack):
    response = alice.post("/api/code-gen", json={**GUIDE_REQUEST, "prompt": "hello"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "uninterpretable_prompt" and error["fields"][0]["field"] == "prompt"
    assert error["message"]
    assert stack.drain("codegen") == []


def test_content_type_json_and_size_are_checked(alice, app):
    assert (
        alice.post("/api/code-gen", data="projectId=1", content_type="application/x-www-form-urlencoded").status_code
        == 415
    )
    bad = alice.post("/api/code-gen", data="{not json", content_type="application/json")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_json"
    assert alice.post("/api/code-gen", json=[1, 2]).status_code == 422
    huge = alice.post(
        "/api/code-gen", data=b"{" + b" " * app.config["MAX_CONTENT_LENGTH"] + b"}", content_type="application/json"
    )
    assert huge.status_code == 413 and huge.json["error"]["code"] == "payload_too_large"


def test_unknown_routes_and_methods_answer_json(alice):
    missing = alice.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert alice.put("/api/code-gen").status_code == 405


def test_without_the_dev_header_the_caller_is_unauthorized(client):
    response = client.get("/api/code-gen")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert client.get("/api/code-gen", headers={"x-dev-user-id": "bad user!"}).status_code == 401


def test_a_job_moves_monotonically_whatever_the_order_of_its_events(alice, deps, stack):
    job_id = create(alice)["id"]
    assert alice.get(f"/api/code-gen/{job_id}").json["status"] == "queued"
    complete(deps, stack, "alice", job_id)
    project(deps, "CodeGenerationStarted", "alice", job_id, generator="templated", attempt=1)  # late
    project(deps, "CodeGenerationFailed", "alice", job_id, reason="late", attempts=1)  # same rank: ignored
    job = alice.get(f"/api/code-gen/{job_id}").json
    assert job["status"] == "completed" and job["reason"] is None
    assert job["fileCount"] == 3 and job["sizeBytes"] == len(b"PK-zip-bytes")
    assert job["links"]["downloadUrl"].endswith("/download-url")


def test_a_failed_job_shows_its_reason(alice, deps):
    job_id = create(alice)["id"]
    project(deps, "CodeGenerationStarted", "alice", job_id, generator="templated", attempt=1)
    assert alice.get(f"/api/code-gen/{job_id}").json["status"] == "generating"
    project(deps, "CodeGenerationFailed", "alice", job_id, reason="the code model rejected the credentials", attempts=2)
    job = alice.get(f"/api/code-gen/{job_id}").json
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "the code model rejected the credentials", 2)
    conflict = alice.get(f"/api/code-gen/{job_id}/download-url")
    assert conflict.status_code == 409 and "failed" in conflict.json["error"]["message"]


def test_downloads_answer_409_until_completed_then_serve_the_zip(alice, deps, stack, aws_endpoint):
    job_id = create(alice)["id"]
    for path in ("download-url", "download"):
        response = alice.get(f"/api/code-gen/{job_id}/{path}")
        assert response.status_code == 409 and response.json["error"]["code"] == "not_completed"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("project-123/README.md", "# hi")
    complete(deps, stack, "alice", job_id, archive.getvalue())

    signed = alice.get(f"/api/code-gen/{job_id}/download-url").json
    assert signed["expiresIn"] == 3600 and signed["url"].startswith(aws_endpoint)
    fetched = requests.get(signed["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == archive.getvalue()

    streamed = alice.get(f"/api/code-gen/{job_id}/download")
    assert streamed.status_code == 200 and streamed.mimetype == "application/zip"
    assert streamed.data == archive.getvalue()
    assert 'filename="project-123.zip"' in streamed.headers["Content-Disposition"]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><text>Book</text></svg>'


def complete_with_diagram(deps, stack, user, job_id, svg=SVG):
    """A completed job whose diagram codegen stored beside its ZIP, as its Completed event names it."""
    key = f"codegen/{user}/{job_id}/attempt-1/architecture.svg"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=key, Body=svg, ContentType="image/svg+xml")
    zip_key = f"codegen/{user}/{job_id}/attempt-1/project-123.zip"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=zip_key, Body=b"PK")
    artifact = Artifact(
        bucket=stack.topology.bucket,
        key=zip_key,
        manifest_key=zip_key + ".json",
        size_bytes=2,
        file_count=2,
        sha256="0" * 64,
        diagram_key=key,
    )
    project(
        deps,
        "CodeGenerationCompleted",
        user,
        job_id,
        project_type="api",
        generator="templated",
        artifact=artifact,
        completed_at=datetime.now(UTC),
    )
    return key


def test_the_diagram_answers_409_until_completed_then_serves_the_svg_and_a_presigned_url(alice, deps, stack):
    job_id = create(alice)["id"]
    for path in ("diagram", "diagram-url"):
        response = alice.get(f"/api/code-gen/{job_id}/{path}")
        assert response.status_code == 409 and response.json["error"]["code"] == "not_completed", path
    assert "diagram" not in alice.get(f"/api/code-gen/{job_id}").json["links"]
    complete_with_diagram(deps, stack, "alice", job_id)

    job = alice.get(f"/api/code-gen/{job_id}").json
    assert job["links"]["diagram"] == f"/api/code-gen/{job_id}/diagram"
    assert job["links"]["diagramUrl"] == f"/api/code-gen/{job_id}/diagram-url"
    served = alice.get(job["links"]["diagram"])
    assert served.status_code == 200 and served.mimetype == "image/svg+xml" and served.data == SVG
    assert served.headers["Content-Disposition"] == 'inline; filename="project-123-architecture.svg"'
    assert "default-src 'none'" in served.headers["Content-Security-Policy"]
    signed = alice.get(job["links"]["diagramUrl"]).json
    assert signed["expiresIn"] == 3600
    fetched = requests.get(signed["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == SVG


def test_a_completed_job_without_its_diagram_answers_410(alice, deps, stack):
    old = create(alice)["id"]
    complete(deps, stack, "alice", old)  # completed before diagrams: its artifact names none
    assert "diagram" not in alice.get(f"/api/code-gen/{old}").json["links"]
    gone = create(alice)["id"]
    key = complete_with_diagram(deps, stack, "alice", gone)
    stack.clients.s3.delete_object(Bucket=stack.topology.bucket, Key=key)
    for job_id in (old, gone):
        for path in ("diagram", "diagram-url"):
            response = alice.get(f"/api/code-gen/{job_id}/{path}")
            assert response.status_code == 410, (job_id, path)
            assert response.json["error"]["code"] == "artifact_gone"
            assert "architecture diagram is not stored" in response.json["error"]["message"]
    assert alice.get(f"/api/code-gen/{gone}/download").status_code == 200  # the ZIP is still there


def test_a_user_never_sees_downloads_or_deletes_another_users_job(alice, bob, deps, stack):
    job_id = create(alice)["id"]
    complete_with_diagram(deps, stack, "alice", job_id)
    for path in ("", "/download-url", "/download", "/diagram", "/diagram-url"):
        assert bob.get(f"/api/code-gen/{job_id}{path}").status_code == 404
    assert bob.delete(f"/api/code-gen/{job_id}").status_code == 404
    assert bob.get("/api/code-gen").json["items"] == []
    assert alice.get(f"/api/code-gen/{job_id}").status_code == 200
    assert alice.get("/api/code-gen/not-a-uuid").status_code == 404


def test_listing_is_newest_first_paginated_and_filtered_by_project(alice, bob):
    ids = [create(alice, projectId="p-one" if i % 2 else "p-two")["id"] for i in range(5)]
    create(bob)
    first = alice.get("/api/code-gen?limit=2").json
    second = alice.get(f"/api/code-gen?limit=2&cursor={first['nextCursor']}").json
    third = alice.get(f"/api/code-gen?limit=2&cursor={second['nextCursor']}").json
    listed = [j["id"] for page in (first, second, third) for j in page["items"]]
    assert listed == ids[::-1]
    assert third["nextCursor"] is None or alice.get(f"/api/code-gen?cursor={third['nextCursor']}").json["items"] == []
    only_one = alice.get("/api/code-gen?projectId=p-one").json["items"]
    assert [j["id"] for j in only_one] == [ids[3], ids[1]]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "colour=red", "projectId=a%20b"])
def test_bad_list_queries_get_400_naming_the_parameter(alice, query):
    response = alice.get(f"/api/code-gen?{query}")
    assert response.status_code == 400
    assert response.json["error"]["fields"]


def test_a_cursor_from_another_user_is_refused(alice, bob):
    for _ in range(3):
        create(alice)
    cursor = alice.get("/api/code-gen?limit=1").json["nextCursor"]
    response = bob.get(f"/api/code-gen?cursor={cursor}")
    assert response.status_code == 400 and response.json["error"]["fields"][0]["field"] == "cursor"


def test_deleting_removes_the_job_and_asks_codegen_to_delete_its_artifact(alice, deps, stack):
    job_id = create(alice)["id"]
    stack.drain("codegen")
    assert alice.delete(f"/api/code-gen/{job_id}").status_code == 204
    assert alice.get(f"/api/code-gen/{job_id}").status_code == 404
    [message] = stack.drain("codegen")
    assert parse_body(message["Body"]).type == "CodeGenerationDeleted"
    complete(deps, stack, "alice", job_id)  # a late event does not bring it back
    assert alice.get(f"/api/code-gen/{job_id}").status_code == 404
    assert alice.delete(f"/api/code-gen/{job_id}").status_code == 404


class _DiesOnPublish:
    def __init__(self, exc: BaseException):
        self.exc = exc

    def publish(self, event):
        raise self.exc


def test_when_publishing_fails_the_job_is_still_accepted_and_the_relay_publishes_it(alice, deps, stack):
    deps.jobs.__dict__["publisher"] = _DiesOnPublish(ConnectionError("SNS is unreachable"))
    response = alice.post("/api/code-gen", json={**GUIDE_REQUEST, "spec": SPEC})
    assert response.status_code == 202
    assert stack.drain("codegen") == []
    assert deps.relay.relay_once(now=datetime.now(UTC) + timedelta(minutes=10)) == 1
    [message] = stack.drain("codegen")
    assert parse_body(message["Body"]).data["job_id"] == response.json["id"]
    assert deps.relay.relay_once(now=datetime.now(UTC) + timedelta(minutes=10)) == 0


def test_a_process_that_dies_between_its_write_and_its_publish_loses_nothing(stack):
    """The api is interrupted (as by SIGKILL) right after its transaction; a fresh api relays the event."""
    from snapinfra_api.app import create_app
    from snapinfra_api.bootstrap import build_dependencies

    from ..conftest import As, api_settings

    dying = build_dependencies(api_settings(stack))
    dying.jobs.__dict__["publisher"] = _DiesOnPublish(SystemExit(137))
    with pytest.raises(SystemExit):
        As(create_app(ports=dying).test_client(), "alice").post("/api/code-gen", json={**GUIDE_REQUEST, "spec": SPEC})
    assert stack.drain("codegen") == []

    restarted = build_dependencies(api_settings(stack, outbox_grace_seconds=0))
    assert restarted.relay.relay_once() == 1
    [message] = stack.drain("codegen")
    event = parse_body(message["Body"])
    assert event.type == "CodeGenerationRequested"
    job = restarted.repository.get("alice", event.data["job_id"])
    assert job is not None and job.status == "queued"


def test_health_and_readiness(client, stack):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and set(ready.json["checks"].values()) == {"ok"}
    stack.clients.dynamodb.delete_table(TableName=stack.topology.tables["api"].name)
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json["checks"]["table"].startswith("failed")


def test_metrics_count_aws_calls_by_operation(alice, client):
    create(alice)
    text = client.get("/metrics").data.decode()
    assert 'snapinfra_aws_calls_total{aws_service="dynamodb",operation="TransactWriteItems"}' in text


def outbox_entries(stack) -> int:
    return stack.clients.dynamodb.query(
        TableName=stack.topology.tables["api"].name,
        IndexName="outbox",
        KeyConditionExpression="outbox_pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "OUTBOX"}},
    )["Count"]


def test_a_job_s_outbox_entry_is_settled_by_the_first_codegen_event(alice, deps, stack):
    first, second = create(alice)["id"], create(alice)["id"]
    assert outbox_entries(stack) == 2  # accepted, published, not yet known to have arrived
    project(deps, "CodeGenerationStarted", "alice", first, generator="templated", attempt=1)
    complete(deps, stack, "alice", second)  # events are unordered: any of them settles it
    assert outbox_entries(stack) == 0
    assert deps.relay.relay_once(now=datetime.now(UTC) + timedelta(minutes=10)) == 0
    assert len(stack.drain("codegen")) == 2


def test_an_unsettled_event_is_republished_once_per_grace(alice, deps, stack):
    job_id = create(alice)["id"]
    stack.drain("codegen")
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert deps.relay.relay_once(now=later) == 1  # codegen never answered: published again
    assert deps.relay.relay_once(now=later) == 0  # postponed by a grace
    assert deps.relay.relay_once(now=later + timedelta(minutes=10)) == 1
    [first, second] = stack.drain("codegen")
    assert parse_body(first["Body"]).data["job_id"] == parse_body(second["Body"]).data["job_id"] == job_id
    project(deps, "CodeGenerationStarted", "alice", job_id, generator="templated", attempt=1)
    assert deps.relay.relay_once(now=later + timedelta(minutes=60)) == 0


def test_a_deletion_s_outbox_item_is_deleted_in_a_batch_once_published(alice, deps, stack):
    job_id = create(alice)["id"]
    project(deps, "CodeGenerationStarted", "alice", job_id, generator="templated", attempt=1)
    assert alice.delete(f"/api/code-gen/{job_id}").status_code == 204
    assert outbox_entries(stack) == 1  # the request path made no call for it
    assert deps.relay.flush() == 1
    assert outbox_entries(stack) == 0


# -- a write DynamoDB applied, whose answer was lost: botocore's retry meets its own condition ------------


def jobs_of(stack, user: str) -> list[dict]:
    return stack.clients.dynamodb.query(
        TableName=stack.topology.tables["api"].name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"USER#{user}"}, ":prefix": {"S": "CODEGEN#"}},
        ConsistentRead=True,
    )["Items"]


def test_a_create_whose_applied_write_botocore_retried_is_accepted_once(alice, deps, stack, lost_answers):
    lost_answers.arm(deps.clients.dynamodb, "PutItem")
    response = alice.post("/api/code-gen", json={**GUIDE_REQUEST, "spec": SPEC})
    assert lost_answers.lost == ["PutItem"]  # the write was applied, its answer lost, and retried
    assert response.status_code == 202, response.json
    [item] = jobs_of(stack, "alice")
    assert item["job_id"]["S"] == response.json["id"]
    [message] = stack.drain("codegen")
    assert parse_body(message["Body"]).data["job_id"] == response.json["id"]


def test_a_create_that_meets_another_job_under_its_key_still_conflicts(alice, deps, stack, lost_answers):
    from dataclasses import replace

    from botocore.exceptions import ClientError

    job = deps.repository.get("alice", create(alice)["id"])
    [event] = [parse_body(m["Body"]) for m in stack.drain("codegen")]
    lost_answers.arm(deps.clients.dynamodb, "PutItem")  # even when botocore retried it
    with pytest.raises(ClientError) as conflict:
        deps.repository.add(replace(job, prompt="another job"), event)
    assert lost_answers.lost == ["PutItem"]
    assert conflict.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    [item] = jobs_of(stack, "alice")
    assert item["prompt"]["S"] == job.prompt


def test_a_delete_whose_applied_transaction_botocore_retried_answers_204(alice, deps, stack, lost_answers):
    job_id = create(alice)["id"]
    stack.drain("codegen")
    lost_answers.arm(deps.clients.dynamodb, "TransactWriteItems")
    assert alice.delete(f"/api/code-gen/{job_id}").status_code == 204
    assert lost_answers.lost == ["TransactWriteItems"]
    assert jobs_of(stack, "alice") == []
    [message] = stack.drain("codegen")
    assert parse_body(message["Body"]).type == "CodeGenerationDeleted"
    assert alice.delete(f"/api/code-gen/{job_id}").status_code == 404  # a real second delete finds nothing


# -- a completed job whose ZIP is gone ---------------------------------------------------------------------


def test_a_completed_job_whose_zip_is_gone_answers_410_never_500(alice, deps, stack):
    job_id = create(alice)["id"]
    complete(deps, stack, "alice", job_id)
    key = deps.repository.get("alice", job_id).artifact.key
    stack.clients.s3.delete_object(Bucket=stack.topology.bucket, Key=key)
    for path in ("download-url", "download"):
        response = alice.get(f"/api/code-gen/{job_id}/{path}")
        assert response.status_code == 410, path
        assert response.json["error"]["code"] == "artifact_gone"
        assert job_id in response.json["error"]["message"] and "no longer stored" in response.json["error"]["message"]
    assert alice.get(f"/api/code-gen/{job_id}").json["status"] == "completed"
