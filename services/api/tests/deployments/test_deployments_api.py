"""The /api/deployments routes and the projection of the deployer's events, against the embedded AWS."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from snapinfra_api.codegen.projection import build_handlers
from snapinfra_shared import catalog
from snapinfra_shared.catalog import Artifact, CodeGenerationCompleted
from snapinfra_shared.consumer import Delivery, parse_body
from snapinfra_shared.events import new_event
from snapinfra_shared.runtime import Dispatcher

SPEC = {"entities": [{"name": "Spaceship", "fields": [{"name": "callsign", "type": "string"}]}]}


def deliver(deps, source, type_, user, at=None, **data):
    """Deliver an event to the api's projection, as its queue would."""
    event = new_event(
        type_, source=source, user_id=user, correlation_id="c", data=getattr(catalog, type_)(**data), occurred_at=at
    )
    Dispatcher(build_handlers(deps.repository, deps.deployments.repository))(event, Delivery("m", 1, 5))
    return event


# Where codegen says each project type's template is (the api forwards what the artifact says, never guesses).
TEMPLATE_AT = {"infra": "template.yaml", "full-stack": "infra/template.yaml"}


def completed_job(who, deps, project_type="infra", project_id="project-123", template_path="default"):
    job = who.post("/api/code-gen", json={"projectId": project_id, "type": project_type, "prompt": "x", "spec": SPEC})
    assert job.status_code == 202
    job_id = job.json["id"]
    key = f"codegen/{who.user}/{job_id}/{project_id}.zip"
    if template_path == "default":
        template_path = f"{project_id}/{TEMPLATE_AT[project_type]}" if project_type in TEMPLATE_AT else None
    artifact = Artifact(
        bucket="b", key=key, manifest_key="m", size_bytes=1, file_count=1, sha256="0" * 64, template_path=template_path
    )
    deliver(
        deps,
        "codegen",
        "CodeGenerationCompleted",
        who.user,
        **CodeGenerationCompleted(
            job_id=job_id,
            project_id=project_id,
            project_type=project_type,
            generator="templated",
            artifact=artifact,
            completed_at=datetime.now(UTC),
        ).model_dump(),
    )
    return job_id


def deploy(who, job_id, **body):
    response = who.post("/api/deployments", json={"codeGenId": job_id, "environment": "dev", **body})
    assert response.status_code == 202, response.json
    return response.json


def requests_on_the_deployer_queue(stack):
    return [parse_body(m["Body"]) for m in stack.drain("deployer")]


def test_a_deployment_of_a_completed_infra_generation_is_accepted_and_requested(alice, deps, stack):
    job_id = completed_job(alice, deps)
    stack.drain("deployer")
    response = alice.post(
        "/api/deployments",
        json={"codeGenId": job_id, "environment": "staging", "parameters": {"Environment": "staging"}},
        headers={"X-Request-Id": "req-d1"},
    )
    assert response.status_code == 202
    d = response.json
    assert response.headers["Location"] == f"/api/deployments/{d['id']}"
    assert set(d) == {
        "id", "codeGenId", "projectId", "environment", "status", "stackName", "region", "outputs", "error",
        "createdAt", "updatedAt", "deployedAt", "destroyedAt",
    }  # fmt: skip
    assert d["status"] == "queued" and d["codeGenId"] == job_id and d["projectId"] == "project-123"
    assert re.fullmatch(r"snapinfra-staging-[0-9a-f]{12}", d["stackName"]) and d["stackName"].endswith(d["id"][-12:])
    assert d["outputs"] == {} and d["error"] is None and d["region"] is None
    [event] = requests_on_the_deployer_queue(stack)
    assert event.type == "DeploymentRequested" and event.correlation_id == "req-d1"
    assert event.data["template_path"] == "project-123/template.yaml"
    assert event.data["artifact"]["key"] == f"codegen/alice/{job_id}/project-123.zip"
    assert event.data["parameters"] == {"Environment": "staging"} and event.data["stack_name"] == d["stackName"]
    assert alice.get(f"/api/deployments/{d['id']}").json == d


def test_a_full_stack_generation_deploys_its_infra_folder_in_the_region_asked(alice, deps, stack):
    job_id = completed_job(alice, deps, "full-stack")
    stack.drain("deployer")
    role = "arn:aws:iam::111111111111:role/snapinfra-deployer"
    d = deploy(alice, job_id, region="eu-west-1", roleArn=role)
    assert d["region"] == "eu-west-1"
    [event] = requests_on_the_deployer_queue(stack)
    assert event.data["template_path"] == "project-123/infra/template.yaml"
    assert event.data["region"] == "eu-west-1" and event.data["role_arn"] == role


def test_the_template_path_is_the_one_codegen_announced(alice, deps, stack):
    job_id = completed_job(alice, deps, "full-stack", template_path="project-123/template.yaml")
    stack.drain("deployer")
    deploy(alice, job_id)
    [event] = requests_on_the_deployer_queue(stack)
    assert event.data["template_path"] == "project-123/template.yaml"


def test_a_generation_whose_artifact_names_no_template_gets_409(alice, deps):
    job_id = completed_job(alice, deps, "full-stack", template_path=None)
    response = alice.post("/api/deployments", json={"codeGenId": job_id, "environment": "dev"})
    assert response.status_code == 409 and response.json["error"]["code"] == "no_infrastructure", response.json


def test_what_cannot_be_deployed_gets_409_with_the_reason_and_another_user_s_generation_404(alice, bob, deps):
    api_job = completed_job(alice, deps, "api")
    refused = alice.post("/api/deployments", json={"codeGenId": api_job, "environment": "dev"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_infrastructure"
    assert "type api" in refused.json["error"]["message"]

    queued = alice.post("/api/code-gen", json={"projectId": "p", "type": "infra", "prompt": "x", "spec": SPEC}).json
    refused = alice.post("/api/deployments", json={"codeGenId": queued["id"], "environment": "dev"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_completed"
    assert "queued" in refused.json["error"]["message"]

    infra_job = completed_job(alice, deps)
    theirs = bob.post("/api/deployments", json={"codeGenId": infra_job, "environment": "dev"})
    assert theirs.status_code == 404 and theirs.json["error"]["fields"][0]["field"] == "codeGenId"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"codeGenId": None, "environment": "dev"}, "codeGenId"),
        ({"codeGenId": "not-a-uuid", "environment": "dev"}, "codeGenId"),
        ({"environment": "qa"}, "environment"),
        ({"environment": "dev", "region": "Mars-1"}, "region"),
        ({"environment": "dev", "roleArn": "arn:aws:iam::12:user/x"}, "roleArn"),
        ({"environment": "dev", "parameters": {"bad name": "x"}}, "parameters.bad name.[key]"),
        ({"environment": "dev", "parameters": {"A": 1}}, "parameters.A"),
        ({"environment": "dev", "stackName": "mine"}, "stackName"),
    ],
)
def test_bad_input_gets_422_naming_the_field(alice, deps, body, field):
    job_id = completed_job(alice, deps)
    response = alice.post("/api/deployments", json={"codeGenId": job_id, **body})
    assert response.status_code == 422, response.json
    assert field in [f["field"] for f in response.json["error"]["fields"]]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "secretAccessKey"),
        ({"awsAccessKeyId": "x"}, "awsAccessKeyId"),
        ({"credentials": {"SessionToken": "x"}}, "credentials.SessionToken"),
        ({"parameters": {"AwsSecretAccessKey": "s3cr3t"}}, "parameters.AwsSecretAccessKey"),
        ({"parameters": {"Key": "AKIAIOSFODNN7EXAMPLE"}}, "parameters.Key"),
        ({"parameters": {"Key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}, "parameters.Key"),
        ({"parameters": {"Token": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH"}}, "parameters.Token"),
    ],
)
def test_credentials_anywhere_in_the_body_are_refused_and_never_stored(alice, deps, stack, extra, field):
    job_id = completed_job(alice, deps)
    stack.drain("deployer")
    response = alice.post("/api/deployments", json={"codeGenId": job_id, "environment": "dev", **extra})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "credentials_refused"
    assert [f["field"] for f in response.json["error"]["fields"]] == [field]
    assert "AKIA" not in response.text and "wJalr" not in response.text and "IQoJ" not in response.text
    assert alice.get("/api/deployments").json["items"] == []
    assert requests_on_the_deployer_queue(stack) == []


def test_a_sha1_is_not_mistaken_for_a_secret_key(alice, deps):
    job_id = completed_job(alice, deps)
    deploy(alice, job_id, parameters={"Commit": "0a4d55a8d778e5022fab701977c5d840bbc486d0"})


def test_the_projection_moves_forward_only_and_keeps_the_step_log_oldest_first(alice, deps):
    d = deploy(alice, completed_job(alice, deps))
    ids = {"deployment_id": d["id"], "stack_name": d["stackName"]}
    t0 = datetime.now(UTC)
    stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{d['stackName']}/1"
    deliver(
        deps, "deployer", "DeploymentCompleted", "alice", at=t0 + timedelta(seconds=2), **ids, stack_id=stack_id,
        region="us-east-1", outputs={"SpaceshipTableName": "t"}, completed_at=t0 + timedelta(seconds=2),
    )  # fmt: skip
    deliver(deps, "deployer", "DeploymentStarted", "alice", at=t0, **ids, region="us-east-1", attempt=1)
    deliver(deps, "deployer", "DeploymentFailed", "alice", at=t0, **ids, reason="late")
    got = alice.get(f"/api/deployments/{d['id']}").json
    assert got["status"] == "deployed" and got["outputs"] == {"SpaceshipTableName": "t"}
    assert got["region"] == "us-east-1" and got["error"] is None and got["deployedAt"] is not None

    steps = [
        {"at": t0 + timedelta(seconds=i), "source": "cloudformation", "message": f"step {i}", "status": "X"}
        for i in range(5)
    ]
    deliver(deps, "deployer", "DeploymentProgressed", "alice", **ids, steps=steps[3:])
    deliver(deps, "deployer", "DeploymentProgressed", "alice", **ids, steps=steps[:3])
    deliver(deps, "deployer", "DeploymentProgressed", "alice", **ids, steps=steps[:3])  # redelivered
    first = alice.get(f"/api/deployments/{d['id']}/events?limit=3").json
    assert [e["message"] for e in first["items"]] == ["step 0", "step 1", "step 2"]
    assert set(first["items"][0]) == {"at", "source", "message", "logicalId", "resourceType", "status", "reason"}
    rest = alice.get(f"/api/deployments/{d['id']}/events?limit=3&cursor={first['nextCursor']}").json
    assert [e["message"] for e in rest["items"]] == ["step 3", "step 4"] and rest["nextCursor"] is None


def test_destroy_is_refused_while_deploying_and_a_failed_destroy_can_be_retried(alice, bob, deps, stack):
    d = deploy(alice, completed_job(alice, deps))
    ids = {"deployment_id": d["id"], "stack_name": d["stackName"]}
    refused = alice.delete(f"/api/deployments/{d['id']}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "still_deploying"
    deliver(deps, "deployer", "DeploymentStarted", "alice", **ids, region="us-east-1", attempt=1)
    assert alice.delete(f"/api/deployments/{d['id']}").status_code == 409
    deliver(
        deps, "deployer", "DeploymentCompleted", "alice", **ids, stack_id="s", region="us-east-1",
        completed_at=datetime.now(UTC),
    )  # fmt: skip
    stack.drain("deployer")

    assert bob.delete(f"/api/deployments/{d['id']}").status_code == 404
    response = alice.delete(f"/api/deployments/{d['id']}", headers={"X-Request-Id": "req-del"})
    assert response.status_code == 202 and response.json["status"] == "destroying"
    again = alice.delete(f"/api/deployments/{d['id']}")
    assert again.status_code == 202 and again.json["status"] == "destroying"
    [request] = requests_on_the_deployer_queue(stack)  # asked once
    assert request.type == "DeploymentDestroyRequested" and request.correlation_id == "req-del"
    assert request.data == {**ids, "attempt": 1}

    deliver(deps, "deployer", "DeploymentDestroyFailed", "alice", **ids, reason="DELETE_FAILED: bucket not empty")
    got = alice.get(f"/api/deployments/{d['id']}").json
    assert got["status"] == "destroy_failed" and got["error"] == "DELETE_FAILED: bucket not empty"

    assert alice.delete(f"/api/deployments/{d['id']}").json["status"] == "destroying"
    [retry] = requests_on_the_deployer_queue(stack)
    assert retry.data["attempt"] == 2
    deliver(deps, "deployer", "DeploymentDestroyFailed", "alice", **ids, reason="late answer to the first")
    assert alice.get(f"/api/deployments/{d['id']}").json["status"] == "destroying"
    deliver(deps, "deployer", "DeploymentDestroyed", "alice", **ids, destroyed_at=datetime.now(UTC), attempt=2)
    got = alice.get(f"/api/deployments/{d['id']}").json
    assert got["status"] == "destroyed" and got["destroyedAt"] is not None
    deliver(deps, "deployer", "DeploymentDestroyFailed", "alice", **ids, reason="late", attempt=2)
    assert alice.get(f"/api/deployments/{d['id']}").json["status"] == "destroyed"
    gone = alice.delete(f"/api/deployments/{d['id']}")
    assert gone.status_code == 409 and gone.json["error"]["code"] == "already_destroyed"


def test_listing_is_newest_first_paginated_and_filtered_by_queries(alice, bob, deps):
    infra = completed_job(alice, deps)
    other = completed_job(alice, deps, project_id="other")
    a = deploy(alice, infra)
    b = deploy(alice, other, environment="prod")
    c = deploy(alice, infra, environment="prod")
    deliver(deps, "deployer", "DeploymentFailed", "alice", deployment_id=b["id"], stack_name="s", reason="no")

    def ids(query=""):
        return [d["id"] for d in alice.get(f"/api/deployments{query}").json["items"]]

    assert ids() == [c["id"], b["id"], a["id"]]
    assert ids("?projectId=project-123") == [c["id"], a["id"]]
    assert ids("?environment=prod") == [c["id"], b["id"]]
    assert ids("?status=failed") == [b["id"]]
    assert ids("?status=queued") == [c["id"], a["id"]]
    assert ids("?projectId=project-123&environment=prod") == [c["id"]]
    assert ids("?status=queued&environment=dev") == [a["id"]]
    page = alice.get("/api/deployments?limit=2").json
    assert [d["id"] for d in page["items"]] == [c["id"], b["id"]]
    assert ids(f"?limit=2&cursor={page['nextCursor']}") == [a["id"]]
    assert bob.get(f"/api/deployments?cursor={page['nextCursor']}").status_code == 400
    assert bob.get("/api/deployments").json == {"items": [], "nextCursor": None}
    assert bob.get(f"/api/deployments/{a['id']}").status_code == 404
    assert bob.get(f"/api/deployments/{a['id']}/events").status_code == 404
    assert alice.get("/api/deployments?status=exploded").status_code == 400


def test_an_accepted_deployment_whose_publish_fails_is_relayed_and_settled_by_the_deployer(alice, deps, stack):
    job_id = completed_job(alice, deps)
    stack.drain("deployer")

    class Down:
        def publish(self, _event):
            raise RuntimeError("SNS is down")

    deps.deployments.__dict__["publisher"] = Down()
    d = deploy(alice, job_id)
    assert requests_on_the_deployer_queue(stack) == []
    assert deps.relay.relay_once(datetime.now(UTC) + timedelta(seconds=120)) == 1
    [event] = requests_on_the_deployer_queue(stack)
    assert event.type == "DeploymentRequested" and event.data["deployment_id"] == d["id"]
    deliver(
        deps, "deployer", "DeploymentStarted", "alice", deployment_id=d["id"], stack_name=d["stackName"],
        region="us-east-1", attempt=1,
    )  # fmt: skip
    assert deps.relay.relay_once(datetime.now(UTC) + timedelta(seconds=120)) == 0


# -- a write DynamoDB applied, whose answer was lost: botocore's retry meets its own condition ------------


def test_a_deployment_whose_applied_write_botocore_retried_is_accepted_once(alice, deps, stack, lost_answers):
    job_id = completed_job(alice, deps)
    stack.drain("deployer")
    lost_answers.arm(deps.clients.dynamodb, "PutItem")
    response = alice.post("/api/deployments", json={"codeGenId": job_id, "environment": "dev"})
    assert lost_answers.lost == ["PutItem"]
    assert response.status_code == 202, response.json
    assert [d["id"] for d in alice.get("/api/deployments").json["items"]] == [response.json["id"]]
    [event] = requests_on_the_deployer_queue(stack)
    assert event.data["deployment_id"] == response.json["id"]


def test_a_deployment_that_meets_another_under_its_key_still_conflicts(alice, deps, stack, lost_answers):
    from dataclasses import replace

    from botocore.exceptions import ClientError

    d = deps.deployments.get("alice", deploy(alice, completed_job(alice, deps))["id"])
    [event] = requests_on_the_deployer_queue(stack)
    lost_answers.arm(deps.clients.dynamodb, "PutItem")
    with pytest.raises(ClientError) as conflict:
        deps.deployments.repository.add(replace(d, environment="prod"), event)
    assert lost_answers.lost == ["PutItem"]
    assert conflict.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert deps.deployments.get("alice", d.id).environment == "dev"


def test_a_destroy_whose_applied_write_botocore_retried_asks_the_deployer_at_once(alice, deps, stack, lost_answers):
    d = deploy(alice, completed_job(alice, deps))
    ids = {"deployment_id": d["id"], "stack_name": d["stackName"]}
    deliver(
        deps, "deployer", "DeploymentCompleted", "alice", **ids, stack_id="s", region="us-east-1",
        completed_at=datetime.now(UTC),
    )  # fmt: skip
    stack.drain("deployer")
    lost_answers.arm(deps.clients.dynamodb, "UpdateItem")
    response = alice.delete(f"/api/deployments/{d['id']}")
    assert lost_answers.lost == ["UpdateItem"]
    assert response.status_code == 202 and response.json["status"] == "destroying"
    [request] = requests_on_the_deployer_queue(stack)  # published now, not left to the relay's grace
    assert request.type == "DeploymentDestroyRequested" and request.data == {**ids, "attempt": 1}
