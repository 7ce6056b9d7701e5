"""/api/admin against the embedded AWS: queue depths, dead letters read without loss, redrive, audit."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from snapinfra_shared.consumer import Consumer, ConsumerOptions, PoisonMessage
from snapinfra_shared.events import Envelope

from ..conftest import As


def event(n: int) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type="CodeGenerationStarted",
        occurred_at=datetime.now(UTC),
        source="codegen",
        correlation_id=f"c-{n}",
        user_id="user-1",
        data={"n": n},
    )


def dead_letter(stack, events: list[Envelope], why: str = "refers to a job of another user") -> None:
    """Put events on the api queue and let the real consumer dead-letter them."""
    url = stack.queue_url("api")
    for e in events:
        stack.clients.sqs.send_message(
            QueueUrl=url,
            MessageBody=e.model_dump_json(),
            MessageAttributes={"type": {"DataType": "String", "StringValue": e.type}},
        )

    def refuse(_event, _delivery):
        raise PoisonMessage(why)

    consumer = Consumer(
        stack.clients.sqs,
        queue_url=url,
        dlq_url=stack.queue_url("api", dlq=True),
        handle=refuse,
        options=ConsumerOptions(visibility_timeout=30, max_receive_count=3, wait_time_seconds=1),
    )
    settled = 0
    while settled < len(events):
        settled += len(consumer.poll_once())


def test_queue_status_shows_every_queue_and_its_dlq(client, stack):
    admin = As(client, "admin")
    stack.clients.sqs.send_message(QueueUrl=stack.queue_url("codegen"), MessageBody="{}")
    stack.clients.sqs.send_message(QueueUrl=stack.queue_url("notifier", dlq=True), MessageBody="{}")
    response = admin.get("/api/admin/queue-status")
    assert response.status_code == 200
    events = {q["service"]: q for q in response.json["queues"] if q["purpose"] == "events"}
    work = {q["queue"]["name"]: q for q in response.json["queues"] if q["purpose"] == "work"}
    assert set(events) == set(stack.topology.queues)
    assert (
        set(work)
        == {spec.name for spec in stack.topology.work_queues.values()}
        == {f"{stack.prefix}-notifier-deliveries"}
    )
    queues = events
    assert queues["codegen"]["queue"] == {"name": f"{stack.prefix}-codegen", "visible": 1, "inFlight": 0, "delayed": 0}
    assert queues["notifier"]["dlq"]["name"] == f"{stack.prefix}-notifier-dlq"
    assert queues["notifier"]["dlqDepth"] == 1 and queues["codegen"]["dlqDepth"] == 0


def test_admin_routes_refuse_a_user_without_admin_rights(alice, client):
    for method, path in (
        ("get", "/api/admin/queue-status"),
        ("get", "/api/admin/dlq/api"),
        ("post", "/api/admin/dlq/api/redrive"),
    ):
        response = getattr(alice, method)(path)
        assert response.status_code == 403, path
        assert response.json["error"]["code"] == "forbidden"
    assert client.get("/api/admin/queue-status").status_code == 401


def test_listing_a_dlq_shows_why_and_loses_nothing(client, stack, caplog):
    caplog.set_level(logging.INFO, logger="snapinfra.audit")
    admin = As(client, "admin")
    events = [event(i) for i in range(12)]  # more than one receive batch
    dead_letter(stack, events)
    first = admin.get("/api/admin/dlq/api")
    assert first.status_code == 200
    items = first.json["items"]
    assert {i["eventId"] for i in items} == {str(e.id) for e in events}
    assert {i["type"] for i in items} == {"CodeGenerationStarted"}
    assert {i["error"] for i in items} == {"refers to a job of another user"}
    assert {i["receiveCount"] for i in items} == {1}
    assert all(i["sourceQueue"] == stack.queue_url("api") for i in items)
    # Listed messages were released: all visible again at once, and a second listing sees them all.
    depth = stack.clients.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url("api", dlq=True), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "12"
    again = admin.get("/api/admin/dlq/api?limit=50").json["items"]
    assert {i["eventId"] for i in again} == {str(e.id) for e in events}
    assert len(admin.get("/api/admin/dlq/api?limit=5").json["items"]) == 5
    audits = [r for r in caplog.records if getattr(r, "audit", False)]
    assert [(r.action, r.admin_user, r.queue) for r in audits][:1] == [("dlq-list", "admin", f"{stack.prefix}-api")]


def test_redrive_moves_dead_letters_back_to_their_queue(client, stack, caplog):
    caplog.set_level(logging.INFO, logger="snapinfra.audit")
    admin = As(client, "admin")
    events = [event(i) for i in range(3)]
    dead_letter(stack, events)
    response = admin.post(f"/api/admin/dlq/{stack.prefix}-api/redrive")
    assert response.status_code == 200
    assert response.json == {"queue": f"{stack.prefix}-api", "moved": 3, "failed": 0, "remaining": 0}
    back = stack.drain("api")
    assert sorted(m["Body"] for m in back) == sorted(e.model_dump_json() for e in events)
    # The event's own attributes go back with it; what the DLQ move added does not.
    assert {tuple(sorted(m.get("MessageAttributes", {}))) for m in back} == {("type",)}
    assert stack.drain("api", dlq=True) == []
    assert any(getattr(r, "action", "") == "dlq-redrive" and r.moved == 3 for r in caplog.records)


def test_a_work_queue_is_inspected_and_redriven_by_its_short_name(client, stack):
    admin = As(client, "admin")
    spec = stack.topology.work_queues["notifier"]
    dlq_url = stack.clients.sqs.get_queue_url(QueueName=spec.dlq_name)["QueueUrl"]
    stack.clients.sqs.send_message(QueueUrl=dlq_url, MessageBody='{"delivery": "d-1"}')
    listed = admin.get("/api/admin/dlq/notifier-deliveries")
    assert listed.status_code == 200
    assert listed.json["queue"] == spec.name and listed.json["dlq"] == spec.dlq_name
    assert len(listed.json["items"]) == 1
    redriven = admin.post("/api/admin/dlq/notifier-deliveries/redrive")
    assert redriven.json == {"queue": spec.name, "moved": 1, "failed": 0, "remaining": 0}
    queue_url = stack.clients.sqs.get_queue_url(QueueName=spec.name)["QueueUrl"]
    back = stack.clients.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in back] == ['{"delivery": "d-1"}']


def test_an_unknown_queue_is_404(client):
    admin = As(client, "admin")
    assert admin.get("/api/admin/dlq/someone-elses-queue").status_code == 404
    assert admin.post("/api/admin/dlq/nope/redrive").status_code == 404
