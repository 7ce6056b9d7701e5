"""Every task role may touch only what is its own: its table, its prefix (plus read of the artifacts it
is given), its queue and DLQ, its topic; and the deployer's and notifier's extra actions, scoped."""

from __future__ import annotations

import re
from typing import Any

import pytest

from snapinfra_infra.cfn import as_list, render
from snapinfra_shared.events import SERVICES

# Which other prefixes a service may read (GetObject only): the artifacts events hand it.
READS = {"api": {"codegen/"}, "deployer": {"codegen/"}}
PUBLISH_KEY_ACTIONS = {"kms:GenerateDataKey*", "kms:Decrypt"}
REF = re.compile(r"^\$\{([A-Za-z0-9]+)(?:\.([A-Za-z]+))?\}(.*)$")


class Ownership:
    """Decides, for one statement of one service's role, whether each of its resources is that service's."""

    def __init__(self, synthesized: Any):
        self.t = synthesized.template
        topo = synthesized.topology
        self.topology = topo
        self.owner: dict[tuple[str, str], str] = {}
        for service, spec in topo.tables.items():
            self.owner[("AWS::DynamoDB::Table", spec.name)] = service
        for service, spec in topo.queues.items():
            self.owner[("AWS::SQS::Queue", spec.name)] = service
            self.owner[("AWS::SQS::Queue", spec.dlq_name)] = service
        for service, name in topo.topics.items():
            self.owner[("AWS::SNS::Topic", name)] = service

    def _named(self, logical: str) -> tuple[str, str]:
        resource = self.t["Resources"][logical]
        props = resource.get("Properties", {})
        name = props.get("TableName") or props.get("QueueName") or props.get("TopicName") or props.get("BucketName")
        return resource["Type"], str(name)

    def violations(self, service: str, statement: dict[str, Any]) -> list[str]:
        actions = set(as_list(statement["Action"]))
        conditions = statement.get("Condition", {})
        problems = []
        for resource in as_list(statement["Resource"]):
            text = render(resource)
            if not self._allowed(service, actions, text, conditions):
                problems.append(f"{service} may {sorted(actions)} on {text}")
        return problems

    def _allowed(self, service: str, actions: set[str], text: str, conditions: dict[str, Any]) -> bool:
        prefix = self.topology.prefix
        match = REF.match(text)
        if match:
            logical, _attribute, rest = match.groups()
            kind, name = self._named(logical)
            if kind == "AWS::S3::Bucket" and name == self.topology.bucket:
                own = self.topology.prefixes[service]
                if rest == f"/{own}*":
                    return all(a.startswith("s3:") for a in actions)
                if rest[1:-1] in READS.get(service, set()) and rest.endswith("*"):
                    return actions == {"s3:GetObject"}
                if rest == "":  # listing: only under its own prefix
                    return conditions == {"StringLike": {"s3:prefix": [f"{own}*"]}} and actions <= {
                        "s3:ListBucket",
                        "s3:ListBucketVersions",
                    }
                return False
            if kind == "AWS::KMS::Key":  # the topics' key: only to publish, only through SNS
                return (
                    actions <= PUBLISH_KEY_ACTIONS
                    and "kms:ViaService" in str(conditions)
                    and service in self.topology.topics
                )
            if kind == "AWS::IAM::Role":
                return (
                    service == "deployer"
                    and actions == {"iam:PassRole"}
                    and "cloudformation.amazonaws.com" in str(conditions)
                )
            if rest not in ("", "/index/*"):
                return False
            return self.owner.get((kind, name)) == service
        if text == "*":
            return service == "notifier" and actions == {"sns:Publish"}
        if service == "deployer" and re.fullmatch(
            rf"arn:\$\{{AWS::Partition\}}:cloudformation:\$\{{AWS::Region\}}:\$\{{AWS::AccountId\}}:stack/{prefix}-(dev|staging|prod)-\*/\*",
            text,
        ):
            return all(a.startswith("cloudformation:") and "Update" not in a for a in actions)
        if service == "deployer" and re.fullmatch(
            r"arn:\$\{AWS::Partition\}:iam::\*:role/[A-Za-z0-9+=,.@_-]+\*?", text
        ):
            return actions == {"sts:AssumeRole"} and conditions == {"Null": {"sts:ExternalId": "false"}}
        if service == "notifier" and re.fullmatch(
            r"arn:\$\{AWS::Partition\}:ses:\$\{AWS::Region\}:\$\{AWS::AccountId\}:identity/[a-z0-9.@-]+", text
        ):
            return actions <= {"ses:SendEmail", "ses:SendRawEmail"} and "ses:FromAddress" in conditions.get(
                "StringEquals", {}
            )
        if service == "codegen" and re.fullmatch(
            r"arn:\$\{AWS::Partition\}:bedrock:\$\{AWS::Region\}::foundation-model/[\w.:-]+", text
        ):
            return actions == {"bedrock:InvokeModel"}
        return False


def task_roles(synthesized: Any) -> dict[str, str]:
    """Service -> logical id of its task role, read from the task definitions."""
    roles = {}
    for task in synthesized.of_type("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        roles[container["Name"]] = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    return roles


def statements_of(synthesized: Any, role: str) -> list[dict[str, Any]]:
    found = []
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    role_props = synthesized.resources[role]["Properties"]
    assert "ManagedPolicyArns" not in role_props, "no managed policies on a task role"
    for inline in role_props.get("Policies", []):
        found += inline["PolicyDocument"]["Statement"]
    return found


def test_every_task_role_touches_only_its_own_resources(synthesized: Any) -> None:
    ownership = Ownership(synthesized)
    roles = task_roles(synthesized)
    assert set(roles) == set(SERVICES)
    problems = []
    for service, role in roles.items():
        statements = statements_of(synthesized, role)
        assert statements, f"{service} has a policy"
        for statement in statements:
            if statement["Effect"] == "Allow":
                problems += ownership.violations(service, statement)
    assert problems == []


def test_each_role_has_what_its_service_needs(synthesized: Any) -> None:
    """The other half: least privilege that still works (own table, prefix, queue, DLQ and topic)."""
    roles = task_roles(synthesized)
    for service, role in roles.items():
        text = str(statements_of(synthesized, role))
        assert "dynamodb:Query" in text and "dynamodb:Scan" not in text
        assert f"/{synthesized.topology.prefixes[service]}*" in text
        if service in synthesized.topology.queues:
            assert "sqs:ReceiveMessage" in text and "sqs:SendMessage" in text  # its queue; its DLQ for poison
        if service in synthesized.topology.topics:
            assert "sns:Publish" in text


def test_the_notifiers_sms_grant_is_taken_back_for_every_other_topic(synthesized: Any) -> None:
    statements = statements_of(synthesized, task_roles(synthesized)["notifier"])
    denied = {render(r) for s in statements if s["Effect"] == "Deny" for r in as_list(s["Resource"])}
    others = {
        "${" + k + "}"
        for k, v in synthesized.of_type("AWS::SNS::Topic").items()
        if v["Properties"]["TopicName"] != synthesized.topology.topics.get("notifier")
    }
    assert others and denied == others


def test_the_deployer_passes_only_the_cloudformation_execution_role(synthesized: Any) -> None:
    statements = statements_of(synthesized, task_roles(synthesized)["deployer"])
    (passing,) = [s for s in statements if s.get("Action") == "iam:PassRole"]
    role = render(passing["Resource"]).removeprefix("${").removesuffix(".Arn}")
    trust = synthesized.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "cloudformation.amazonaws.com"}


@pytest.mark.parametrize(
    ("service", "statement"),
    [
        ("api", {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "${TABLE:codegen}"}),
        ("codegen", {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "${BUCKET}/uploads/*"}),
        ("codegen", {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "${BUCKET}"}),
        ("api", {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "${BUCKET}/codegen/*"}),
        ("notifier", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${BUCKET}/codegen/*"}),
        ("codegen", {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "${QUEUE:api}"}),
        ("api", {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}),
        ("codegen", {"Effect": "Allow", "Action": "sns:Publish", "Resource": "${TOPIC:api}"}),
        ("api", {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:${AWS::Partition}:iam::*:role/x"}),
    ],
)
def test_the_check_refuses_a_grant_on_another_services_resource(
    synthesized: Any, service: str, statement: dict[str, Any]
) -> None:
    topo, t = synthesized.topology, synthesized.template

    def logical(kind: str, name: str) -> str:
        return next(k for k, v in t["Resources"].items() if v["Type"] == kind and name in v["Properties"].values())

    text = statement["Resource"]
    text = re.sub(
        r"\$\{TABLE:(\w+)\}", lambda m: "${" + logical("AWS::DynamoDB::Table", topo.tables[m[1]].name) + ".Arn}", text
    )
    text = re.sub(
        r"\$\{QUEUE:(\w+)\}", lambda m: "${" + logical("AWS::SQS::Queue", topo.queues[m[1]].name) + ".Arn}", text
    )
    text = re.sub(r"\$\{TOPIC:(\w+)\}", lambda m: "${" + logical("AWS::SNS::Topic", topo.topics[m[1]]) + "}", text)
    text = text.replace("${BUCKET}", "${" + logical("AWS::S3::Bucket", topo.bucket) + ".Arn}")
    assert Ownership(synthesized).violations(service, {**statement, "Resource": text})
