"""What the embedded AWS never does (it creates and deletes stacks at once, and never rolls back):
stacks in progress, a rollback, a failed delete. CloudFormation's answers are stubbed on the injected
client (botocore's Stubber); everything else (records, queues, topics) is the embedded AWS."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from snapinfra_deployer.adapters.stacks import Stacks, StackTargets
from snapinfra_shared.consumer import parse_body

from .conftest import TEMPLATE, deployer, destroy_requested, handle, published, put_artifact, requested

SID = "arn:aws:cloudformation:us-east-1:123456789012:stack/snapinfra-dev-x/1"
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class StubbedTargets(StackTargets):
    def __init__(self, client):
        super().__init__(default_region="us-east-1", external_id_prefix="snapinfra:", session_seconds=900)
        self.client = client

    def stacks(self, *, region, role_arn, user_id, session_name):
        return Stacks(self.client, region)


@pytest.fixture
def cf():
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def ev(n, logical, status, reason=None, kind="AWS::DynamoDB::Table"):
    event = {
        "StackId": SID,
        "EventId": f"e{n}",
        "StackName": "snapinfra-dev-x",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Timestamp": T0 + timedelta(seconds=n),
        "ResourceStatus": status,
    }
    return event | ({"ResourceStatusReason": reason} if reason else {})


def described(status, reason=None):
    stack = {"StackId": SID, "StackName": "snapinfra-dev-x", "CreationTime": T0, "StackStatus": status}
    return {"Stacks": [stack | ({"StackStatusReason": reason} if reason else {})]}


def test_a_stack_in_progress_is_looked_at_again_through_the_queue_then_its_rollback_is_reported(stack, cf):
    client, stubber = cf
    deps = replace(deployer(stack, recheck_base_seconds=4, recheck_max_seconds=30), targets=StubbedTargets(client))
    request = requested(put_artifact(stack, {"shop/template.yaml": TEMPLATE}))
    stubber.add_response("get_template_summary", {"Parameters": [{"ParameterKey": "Environment"}]})
    stubber.add_response("create_stack", {"StackId": SID})
    stubber.add_response("describe_stacks", described("CREATE_IN_PROGRESS"))
    started = [ev(2, "UsersTable", "CREATE_IN_PROGRESS"), ev(1, "snapinfra-dev-x", "CREATE_IN_PROGRESS")]
    stubber.add_response("describe_stack_events", {"StackEvents": started})

    began = time.monotonic()
    handle(deps, request)
    assert time.monotonic() - began < 5, "the handler waited instead of handing the wait to the queue"
    events = published(stack)
    assert [e.type for e in events if e.type != "DeploymentProgressed"] == ["DeploymentStarted"]
    record = deps.records.get(request.data["deployment_id"])
    assert record.status == "deploying" and record.last_event_id == "e2" and record.check_after > time.time()
    # A redelivery before the look that is due is a duplicate: dropped without a call (the stub has none).
    handle(deps, request, receive_count=2)
    assert published(stack) == []
    [copy] = stack.drain("deployer", wait=8)  # delayed by four seconds, then visible
    assert parse_body(copy["Body"]).id == request.id

    later = replace(deps, clock=lambda: time.time() + 5)
    stubber.add_response(
        "describe_stacks",
        described("ROLLBACK_COMPLETE", "The following resource(s) failed to create: [UsersTable]. Rollback requested"),
    )
    failing = [
        ev(5, "snapinfra-dev-x", "ROLLBACK_COMPLETE", kind="AWS::CloudFormation::Stack"),
        ev(4, "UsersTable", "DELETE_COMPLETE"),
        ev(3, "UsersTable", "CREATE_FAILED", 'Resource handler returned message: "Table already exists"'),
        *started,
    ]
    stubber.add_response("describe_stack_events", {"StackEvents": failing})
    stubber.add_response("describe_stack_events", {"StackEvents": failing})  # looking for the root cause
    handle(later, parse_body(copy["Body"]))

    events = published(stack)
    [failed] = [e for e in events if e.type == "DeploymentFailed"]
    assert failed.data == {
        "deployment_id": request.data["deployment_id"],
        "stack_name": request.data["stack_name"],
        "reason": 'UsersTable (AWS::DynamoDB::Table): Resource handler returned message: "Table already exists"',
        "stack_status": "ROLLBACK_COMPLETE",
    }
    steps = [s for e in events if e.type == "DeploymentProgressed" for s in e.data["steps"]]
    cloudformation = [(s["logical_id"], s["status"]) for s in steps if s["source"] == "cloudformation"]
    assert cloudformation == [
        ("UsersTable", "CREATE_FAILED"),
        ("UsersTable", "DELETE_COMPLETE"),
        ("snapinfra-dev-x", "ROLLBACK_COMPLETE"),
    ]  # only the new ones, oldest first
    assert stack.drain("deployer", wait=0) == []  # settled: no further look


def test_a_failed_destroy_can_be_retried_and_a_late_answer_to_the_first_changes_nothing(stack, cf):
    client, stubber = cf
    deps = replace(deployer(stack), targets=StubbedTargets(client))
    request = requested(put_artifact(stack, {"shop/template.yaml": TEMPLATE}))
    stubber.add_response("get_template_summary", {"Parameters": []})
    stubber.add_response("create_stack", {"StackId": SID})
    stubber.add_response("describe_stacks", described("CREATE_COMPLETE"))
    stubber.add_response("describe_stack_events", {"StackEvents": [ev(1, "UsersTable", "CREATE_COMPLETE")]})
    handle(deps, request)
    assert "DeploymentCompleted" in [e.type for e in published(stack)]

    stubber.add_response("describe_stacks", described("CREATE_COMPLETE"))
    stubber.add_response("delete_stack", {})
    stubber.add_response("describe_stacks", described("DELETE_FAILED", "The following resource(s) failed to delete"))
    refused = ev(3, "UsersTable", "DELETE_FAILED", "Table is protected against deletion")
    stubber.add_response("describe_stack_events", {"StackEvents": [refused]})
    stubber.add_response("describe_stack_events", {"StackEvents": [refused]})
    first = destroy_requested(request, attempt=1)
    handle(deps, first)
    [failed] = [e for e in published(stack) if e.type == "DeploymentDestroyFailed"]
    assert failed.data["reason"] == "UsersTable (AWS::DynamoDB::Table): Table is protected against deletion"
    assert failed.data["attempt"] == 1 and failed.data["stack_status"] == "DELETE_FAILED"

    stubber.add_response("describe_stacks", described("DELETE_FAILED"))
    stubber.add_response("delete_stack", {})
    stubber.add_response("describe_stacks", described("DELETE_COMPLETE"))
    stubber.add_response("describe_stack_events", {"StackEvents": [ev(4, "UsersTable", "DELETE_COMPLETE"), refused]})
    handle(deps, destroy_requested(request, attempt=2))
    [destroyed] = [e for e in published(stack) if e.type == "DeploymentDestroyed"]
    assert destroyed.data["attempt"] == 2

    handle(deps, first, receive_count=2)  # the first request again: superseded, nothing happens
    assert published(stack) == []
    assert deps.records.get(request.data["deployment_id"]).status == "destroyed"
