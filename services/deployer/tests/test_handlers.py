"""The deployer's handlers against the embedded AWS: real stacks, real tables, real queues."""

from __future__ import annotations

import time
from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ClientError

from snapinfra_deployer.adapters.stacks import StackTargets
from snapinfra_shared.consumer import parse_body

from .conftest import TEMPLATE, deployer, destroy_requested, handle, published, put_artifact, requested


def by_type(events):
    found: dict[str, list] = {}
    for event in events:
        found.setdefault(event.type, []).append(event)
    return found


def table_exists(client, name: str) -> bool:
    """Asked by name: the session's embedded AWS holds more tables than one listing page."""
    try:
        return client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return False


def test_a_deployment_creates_its_stack_reports_it_and_a_destroy_deletes_it(stack, cloudformation):
    deps = deployer(stack)
    request = requested(put_artifact(stack, {"shop/template.yaml": TEMPLATE, "shop/README.md": "# shop"}))
    name = request.data["stack_name"]
    handle(deps, request)

    found = by_type(published(stack))
    [started] = found["DeploymentStarted"]
    assert started.data["region"] == "us-east-1" and started.data["attempt"] == 1
    [completed] = found["DeploymentCompleted"]
    assert completed.data["outputs"] == {"UserTableName": f"{name}-users"}
    assert completed.correlation_id == "c-1" and completed.user_id == "alice"
    steps = [s for e in found["DeploymentProgressed"] for s in e.data["steps"]]
    assert {s["source"] for s in steps} == {"deployer", "cloudformation"}
    assert any(s["status"] == "CREATE_COMPLETE" and s["logical_id"] == name for s in steps)
    assert table_exists(stack.clients.dynamodb, f"{name}-users")

    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags == {
        "snapinfra:user": "alice",
        "snapinfra:project": "shop",
        "snapinfra:deployment": request.data["deployment_id"],
        "snapinfra:code-generation": request.data["code_gen_id"],
    }
    assert {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]} == {"Environment": "dev"}
    copy = f"deployments/alice/{request.data['deployment_id']}/template.yaml"
    assert stack.clients.s3.get_object(Bucket=stack.topology.bucket, Key=copy)["Body"].read().decode() == TEMPLATE

    # A redelivered request never creates a second stack; it announces the same outcome (same event id).
    stack.clients.s3.delete_object(Bucket=stack.topology.bucket, Key=request.data["artifact"]["key"])
    handle(deps, request, receive_count=2)
    again = by_type(published(stack))
    assert [e.id for e in again["DeploymentCompleted"]] == [completed.id]
    assert "DeploymentStarted" not in again
    stacks = [s for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == name]
    assert len(stacks) == 1

    destroy = destroy_requested(request)
    handle(deps, destroy)
    [destroyed] = by_type(published(stack))["DeploymentDestroyed"]
    assert destroyed.data["attempt"] == 1
    assert not table_exists(stack.clients.dynamodb, f"{name}-users")
    # A redelivered destroy never fails a destroyed deployment.
    handle(deps, destroy, receive_count=2)
    assert [e.id for e in by_type(published(stack))["DeploymentDestroyed"]] == [destroyed.id]
    # ... and neither does a retried one, nor a late request that would bring it back.
    handle(deps, destroy_requested(request, attempt=2))
    assert by_type(published(stack))["DeploymentDestroyed"][0].data["attempt"] == 2
    handle(deps, request, receive_count=3)
    assert published(stack) == []
    assert not table_exists(stack.clients.dynamodb, f"{name}-users")


def test_the_full_stack_template_is_found_in_its_infra_folder(stack):
    deps = deployer(stack)
    artifact = put_artifact(stack, {"shop/infra/template.yaml": TEMPLATE, "shop/app.py": "print()"})
    handle(deps, requested(artifact, template_path="shop/infra/template.yaml", environment="staging"))
    [completed] = by_type(published(stack))["DeploymentCompleted"]
    assert completed.data["outputs"]["UserTableName"].endswith("-users")


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            {"shop/template.yaml": 'AWSTemplateFormatVersion: "2010-09-09"\nDescription: nothing\n'},
            "Template format error: At least one Resources member must be defined.",
        ),
        ({"shop/README.md": "no template"}, "the code generation has no CloudFormation template at shop/template.yaml"),
    ],
)
def test_a_template_cloudformation_rejects_fails_with_its_reason_and_the_deployer_keeps_working(
    stack, cloudformation, files, reason
):
    deps = deployer(stack)
    request = requested(put_artifact(stack, files))
    handle(deps, request)
    found = by_type(published(stack))
    [failed] = found["DeploymentFailed"]
    assert failed.data["reason"] == reason and failed.data["stack_status"] is None
    assert any(s["message"] == f"failed: {reason}" for e in found["DeploymentProgressed"] for s in e.data["steps"])
    names = [s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]]
    assert request.data["stack_name"] not in names

    good = requested(put_artifact(stack, {"shop/template.yaml": TEMPLATE}))
    handle(deps, good)
    assert "DeploymentCompleted" in by_type(published(stack))
    # A failed deployment can be destroyed: nothing was created, so nothing is left behind.
    handle(deps, destroy_requested(request))
    assert "DeploymentDestroyed" in by_type(published(stack))


def test_a_parameter_the_template_does_not_declare_fails_the_deployment(stack):
    deps = deployer(stack)
    handle(deps, requested(put_artifact(stack, {"shop/template.yaml": TEMPLATE}), parameters={"Nope": "1"}))
    [failed] = by_type(published(stack))["DeploymentFailed"]
    assert failed.data["reason"] == "Parameters: [Nope] do not exist in the template"


def test_a_stack_that_never_finishes_fails_at_the_deploy_timeout_and_can_be_destroyed(stack, cloudformation):
    """The embedded AWS leaves a stack CREATE_IN_PROGRESS when a resource cannot be built (here a table
    without a key schema): the timeout ends the deployment, the queue carried the waiting."""
    # (without outputs: the embedded AWS cannot describe a stack whose outputs name an unbuilt resource)
    stuck = TEMPLATE.replace("      KeySchema:\n        - AttributeName: id\n          KeyType: HASH\n", "")
    stuck = stuck.split("Outputs:")[0]
    deps = deployer(stack, deploy_timeout_seconds=1, recheck_base_seconds=0, recheck_max_seconds=0)
    request = requested(put_artifact(stack, {"shop/template.yaml": stuck}))
    deadline = time.monotonic() + 60
    failed = []
    receive = 1
    while not failed:
        assert time.monotonic() < deadline, "the deployment never failed"
        try:
            handle(deps, request, receive_count=receive)
        except Exception:
            receive += 1  # a transient error: the queue would bring it back
        events = by_type(published(stack))
        failed = events.get("DeploymentFailed", [])
        for message in stack.drain("deployer", wait=0):
            assert parse_body(message["Body"]).id == request.id  # the delayed copy to look again
        time.sleep(0.5)
    reason = "the stack was not created within 1 s (CloudFormation reports CREATE_IN_PROGRESS)"
    assert failed[0].data["reason"] == reason
    assert failed[0].data["stack_status"] == "CREATE_IN_PROGRESS"
    handle(deps, destroy_requested(request))
    assert "DeploymentDestroyed" in by_type(published(stack))
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName=request.data["stack_name"])


def test_with_a_role_the_stack_goes_to_the_other_account_and_region_and_the_credentials_stay_in_memory(stack, caplog):
    assumed: list[dict] = []

    class Recording(StackTargets):
        def _client(self, service, region, credentials):
            client = super()._client(service, region, credentials)
            if service == "sts":
                client.meta.events.register(
                    "provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(dict(params))
                )
            return client

    deps = replace(
        deployer(stack),
        targets=Recording(default_region="us-east-1", external_id_prefix="snapinfra:", session_seconds=900),
    )
    role = "arn:aws:iam::111111111111:role/snapinfra-deployer"
    request = requested(
        put_artifact(stack, {"shop/template.yaml": TEMPLATE}, user="auth0|alice"),
        user="auth0|alice",
        role_arn=role,
        region="eu-west-1",
    )
    handle(deps, request)
    [completed] = by_type(published(stack))["DeploymentCompleted"]
    assert completed.data["region"] == "eu-west-1"
    assert completed.data["stack_id"].startswith("arn:aws:cloudformation:eu-west-1:111111111111:stack/")
    assert assumed[0]["RoleArn"] == role and assumed[0]["ExternalId"] == "snapinfra:auth0/alice"

    theirs = stack.clients.client("sts").assume_role(RoleArn=role, RoleSessionName="check")["Credentials"]
    their_dynamodb = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        aws_access_key_id=theirs["AccessKeyId"],
        aws_secret_access_key=theirs["SecretAccessKey"],
        aws_session_token=theirs["SessionToken"],
    )
    table = completed.data["outputs"]["UserTableName"]
    assert table_exists(their_dynamodb, table)
    assert not table_exists(boto3.client("dynamodb", region_name="eu-west-1"), table)

    item = stack.clients.dynamodb.get_item(
        TableName=stack.topology.tables["deployer"].name,
        Key={"pk": {"S": f"DEPLOYMENT#{request.data['deployment_id']}"}, "sk": {"S": "DEPLOYMENT"}},
    )["Item"]
    assert "ASIA" not in str(item) and "SessionToken" not in str(item)
    assert not any("ASIA" in r.getMessage() or "ASIA" in str(r.__dict__) for r in caplog.records)

    handle(deps, destroy_requested(request))
    assert "DeploymentDestroyed" in by_type(published(stack))
    assert not table_exists(their_dynamodb, table)
