"""SNAPINFRA_CLOUDFORMATION_ROLE_ARN: stacks in the deployer's own account are created and deleted by
CloudFormation with that service role (RoleARN); never with a role assumed in another account."""

from __future__ import annotations

import uuid
from typing import Any

from snapinfra_deployer.adapters.stacks import StackTargets

from .conftest import TEMPLATE, deployer_settings

ROLE = "arn:aws:iam::123456789012:role/snapinfra-deployment-execution"


def _recorded(targets: StackTargets, region: str) -> list[tuple[str, dict[str, Any]]]:
    """The CloudFormation calls the own-account client makes, with their parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []
    client = targets.stacks(region=region, role_arn=None, user_id="alice", session_name="snapinfra-t")._cf
    client.meta.events.register(
        "before-parameter-build", lambda model, params, **_: calls.append((model.name, dict(params)))
    )
    return calls


def test_the_service_role_is_passed_on_create_and_delete(stack: Any, cloudformation: Any) -> None:
    settings = deployer_settings(stack, cloudformation_role_arn=ROLE)
    assert settings.cloudformation_role_arn == ROLE
    region = stack.clients.region
    targets = StackTargets(
        default_region=region,
        external_id_prefix=settings.external_id_prefix,
        session_seconds=settings.role_session_seconds,
        cloudformation_role_arn=settings.cloudformation_role_arn,
    )
    calls = _recorded(targets, region)
    stacks = targets.stacks(region=region, role_arn=None, user_id="alice", session_name="snapinfra-t")
    name = f"snapinfra-dev-{uuid.uuid4().hex[:12]}"
    stack_id = stacks.create(
        name=name, body=TEMPLATE, parameters={}, tags={"deployment": name}, timeout_minutes=5, token=f"c-{name}"
    )
    described = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    stacks.delete(stack_id, token=f"d-{name}")
    state = stacks.describe(stack_id)
    assert state is None or state.status == "DELETE_COMPLETE"
    sent = {operation: params.get("RoleARN") for operation, params in calls}
    assert sent == {"CreateStack": ROLE, "DescribeStacks": None, "DeleteStack": ROLE}


def test_without_the_setting_no_role_is_passed(stack: Any) -> None:
    region = stack.clients.region
    targets = StackTargets(default_region=region, external_id_prefix="snapinfra:", session_seconds=900)
    calls = _recorded(targets, region)
    stacks = targets.stacks(region=region, role_arn=None, user_id="alice", session_name="snapinfra-t")
    name = f"snapinfra-dev-{uuid.uuid4().hex[:12]}"
    stacks.delete(stacks.create(name=name, body=TEMPLATE, parameters={}, tags={}, timeout_minutes=5, token=name), name)
    assert [params.get("RoleARN") for operation, params in calls if operation != "DescribeStacks"] == [None, None]


def test_a_role_assumed_in_another_account_acts_itself(stack: Any) -> None:
    region = stack.clients.region
    targets = StackTargets(
        default_region=region, external_id_prefix="snapinfra:", session_seconds=900, cloudformation_role_arn=ROLE
    )
    stacks = targets.stacks(
        region=region,
        role_arn="arn:aws:iam::210987654321:role/snapinfra-deploy-x",
        user_id="alice",
        session_name="snapinfra-t",
    )
    calls: list[tuple[str, dict[str, Any]]] = []
    stacks._cf.meta.events.register(
        "before-parameter-build", lambda model, params, **_: calls.append((model.name, dict(params)))
    )
    name = f"snapinfra-dev-{uuid.uuid4().hex[:12]}"
    stacks.delete(stacks.create(name=name, body=TEMPLATE, parameters={}, tags={}, timeout_minutes=5, token=name), name)
    assert [(op, params.get("RoleARN")) for op, params in calls if op != "DescribeStacks"] == [
        ("CreateStack", None),
        ("DeleteStack", None),
    ]
