"""Provisioning from the topology, against the embedded AWS: idempotent, and routes as declared."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from snapinfra_shared.consumer import parse_body
from snapinfra_shared.events import Envelope
from snapinfra_shared.provision import provision
from snapinfra_shared.publisher import Publisher


def test_provisioning_again_reuses_what_is_there(stack):
    again = provision(stack.clients, stack.topology)
    assert again == stack.provisioned
    for service, spec in stack.topology.queues.items():
        subscriptions = [
            s
            for topic in stack.provisioned["topics"].values()
            for s in stack.clients.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
            if s["Endpoint"].endswith(f":{spec.name}")
        ]
        assert len(subscriptions) == len(spec.subscriptions), service  # no duplicates
        redrive = stack.clients.sqs.get_queue_attributes(QueueUrl=stack.queue_url(service), AttributeNames=["All"])
        policy = json.loads(redrive["Attributes"]["RedrivePolicy"])
        assert policy["maxReceiveCount"] == spec.max_receive_count
        assert policy["deadLetterTargetArn"].endswith(f":{spec.dlq_name}")


def test_an_event_reaches_exactly_the_queues_of_its_consumers_raw(stack):
    event = Envelope(
        id=uuid.uuid4(),
        type="CodeGenerationStarted",
        occurred_at=datetime.now(UTC),
        source="codegen",
        correlation_id="c",
        user_id="u",
        data={"job_id": "j", "project_id": "p", "generator": "g", "attempt": 1},
    )
    Publisher(stack.clients.sns, stack.provisioned["topics"]["codegen"]).publish(event)
    for service, expected in (("api", 1), ("notifier", 1), ("codegen", 0), ("deployer", 0)):
        received = stack.drain(service)
        assert len(received) == expected, service
        if received:
            assert parse_body(received[0]["Body"]) == event  # raw delivery: the envelope itself
            assert received[0]["MessageAttributes"]["type"]["StringValue"] == "CodeGenerationStarted"
