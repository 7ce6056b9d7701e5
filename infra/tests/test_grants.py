"""Task roles are built from the grants the topology declares, one builder per kind, in a fixed order."""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import aws_cdk as cdk
from aws_cdk.assertions import Template

from snapinfra_infra.app import cdk_json_context
from snapinfra_infra.config import InfraConfig
from snapinfra_infra.data import Data
from snapinfra_infra.messaging import Messaging
from snapinfra_infra.permissions import BUILDERS, Shared, TaskRole
from snapinfra_infra.storage import Storage
from snapinfra_shared.events import SERVICES
from snapinfra_shared.grants import Grant, OperatesQueues, OwnQueue, OwnTable, ReadsArtifacts, ReadsCodePackages
from snapinfra_shared.topology import build_topology


def test_every_kind_of_grant_has_a_builder_and_every_service_its_grants() -> None:
    assert set(get_args(Grant)) == set(BUILDERS)
    topology = build_topology()
    assert set(topology.grants) == set(SERVICES)
    for service, grants in topology.grants.items():
        assert OwnTable() in grants, service
        assert (service in topology.queues) == any(isinstance(g, OwnQueue) for g in grants), service


def _api_statements(grants: tuple[Grant, ...]) -> list[dict[str, Any]]:
    """The api's task role, synthesized alone from a topology whose api grants are `grants`."""
    base = build_topology("t")
    topology = dataclasses.replace(base, grants={**base.grants, "api": grants})
    stack = cdk.Stack(cdk.App(context=cdk_json_context()), "Grants")  # cdk.json's feature flags
    shared = Shared(
        topology=topology,
        config=InfraConfig(prefix="t"),
        messaging=Messaging(stack, "Messaging", topology=topology),
        storage=Storage(stack, "Storage", topology=topology, retain=False),
        data=Data(stack, "Data", topology=topology, retain=False),
    )
    TaskRole(stack, "ApiAccess", service="api", shared=shared)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    (policy,) = policies.values()
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_a_role_has_exactly_its_declared_grants_in_the_builders_order() -> None:
    declared = build_topology("t").grants["api"]
    assert OperatesQueues() in declared
    reordered = tuple(reversed([g for g in declared if g != OperatesQueues()]))
    sids = [s["Sid"] for s in _api_statements(reordered)]
    assert "AdminQueues" not in sids and "AdminDeadLetterQueues" not in sids  # not declared: not granted
    assert sids == [
        "OwnTable",
        "OwnPrefixObjects",
        "OwnPrefixListing",
        "ReadCodegenArtifacts",
        "NoCodegenCodePackages",
        "OwnQueue",
        "OwnDeadLetterQueue",
        "OwnTopic",
        "TopicEncryption",
    ]
    more = _api_statements((*reordered, ReadsArtifacts("deployer")))
    (read,) = [s for s in more if s["Sid"] == "ReadDeployerArtifacts"]
    assert read["Action"] == "s3:GetObject"


def test_code_packages_are_read_by_the_deployer_alone() -> None:
    topology = build_topology("t")
    holders = [service for service, grants in topology.grants.items() if ReadsCodePackages("codegen") in grants]
    assert holders == ["deployer"]
    readers = [s for s, grants in topology.grants.items() if ReadsArtifacts("codegen") in grants]
    assert set(readers) == {"api", "deployer", "notifier"}
    reader = {s["Sid"]: s for s in _api_statements((ReadsArtifacts("codegen"),))}
    denied = reader["NoCodegenCodePackages"]
    assert denied["Effect"] == "Deny" and denied["Action"] == "s3:GetObject"
    assert denied["Resource"]["Fn::Join"][1][-1] == "/codegen/*/function/*"
    deployer = {s["Sid"]: s for s in _api_statements((ReadsArtifacts("codegen"), ReadsCodePackages("codegen")))}
    assert "NoCodegenCodePackages" not in deployer  # a Deny would win over its Allow
    allowed = deployer["ReadCodegenCodePackages"]
    assert allowed["Effect"] == "Allow" and allowed["Resource"] == denied["Resource"]
