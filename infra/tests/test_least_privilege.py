"""Every task role may touch only what is its own: its table, its prefix (plus read of the artifacts it
is given), its queue and DLQ, its topic; and the deployer's and notifier's extra actions, scoped."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest

from snapinfra_infra.cfn import as_list, logical_id, render
from snapinfra_shared.events import SERVICES

# Which other prefixes a service may read (GetObject only): the artifacts events hand it.
READS = {"api": {"codegen/"}, "deployer": {"codegen/"}, "notifier": {"codegen/"}}  # notifier: download links
# Whose function code packages a service may read (GetObject only): the deployer, which copies them to deploy.
READS_CODE_PACKAGES = {"deployer": {"codegen/"}}
# The api's admin routes operate every consumer's queue (depths, redrive) and DLQ (list, redrive).
ADMIN_ON_QUEUES = {"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"}
ADMIN_ON_DLQS = {
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
}
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
        for service, spec in topo.work_queues.items():
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
                if any(rest == f"/{p}*/function/*" for p in READS_CODE_PACKAGES.get(service, set())):
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
            if service == "api" and kind == "AWS::SQS::Queue" and self.owner.get((kind, name)) != service:
                every = [*self.topology.queues.values(), *self.topology.work_queues.values()]
                consumer_queues = {q.name for q in every}
                consumer_dlqs = {q.dlq_name for q in every}
                return (name in consumer_queues and actions <= ADMIN_ON_QUEUES) or (
                    name in consumer_dlqs and actions <= ADMIN_ON_DLQS
                )
            return self.owner.get((kind, name)) == service
        if text == "*":
            return (service == "notifier" and actions == {"sns:Publish"}) or (
                service == "deployer" and actions == {"cloudformation:GetTemplateSummary"}
            )
        if service == "deployer" and re.fullmatch(  # the deployer's stack names carry no resource prefix
            r"arn:\$\{AWS::Partition\}:cloudformation:\$\{AWS::Region\}:\$\{AWS::AccountId\}:stack/snapinfra-(dev|staging|prod)-\*/\*",
            text,
        ):
            return all(a.startswith("cloudformation:") and "Update" not in a for a in actions)
        if service == "deployer" and re.fullmatch(
            r"arn:\$\{AWS::Partition\}:iam::\*:role/[A-Za-z0-9+=,.@_-]+\*?", text
        ):
            return actions == {"sts:AssumeRole"} and conditions == {"StringLike": {"sts:ExternalId": "snapinfra:*"}}
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
    denied = {
        render(r)
        for s in statements
        if s["Effect"] == "Deny" and s["Action"] == "sns:Publish"
        for r in as_list(s["Resource"])
    }
    others = {
        "${" + k + "}"
        for k, v in synthesized.of_type("AWS::SNS::Topic").items()
        if v["Properties"]["TopicName"] != synthesized.topology.topics.get("notifier")
    }
    assert others and denied == others


def test_only_the_deployer_reads_code_packages(synthesized: Any) -> None:
    roles = task_roles(synthesized)
    for service in ("api", "notifier"):
        statements = statements_of(synthesized, roles[service])
        denied = {render(r) for s in statements if s["Effect"] == "Deny" for r in as_list(s["Resource"])}
        assert any(r.endswith("/codegen/*/function/*") for r in denied), service
    deployer = statements_of(synthesized, roles["deployer"])
    assert not [s for s in deployer if s["Effect"] == "Deny"]
    assert any(render(s["Resource"]).endswith("/codegen/*/function/*") for s in deployer if s["Effect"] == "Allow")


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
        ("notifier", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${BUCKET}/deployments/*"}),
        ("deployer", {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "${WORKQUEUE:notifier}"}),
        ("api", {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "${QUEUE:codegen}"}),
        ("api", {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "${WORKQUEUE:notifier}"}),
        ("deployer", {"Effect": "Allow", "Action": "cloudformation:CreateStack", "Resource": "*"}),
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
    text = re.sub(
        r"\$\{WORKQUEUE:(\w+)\}",
        lambda m: "${" + logical("AWS::SQS::Queue", topo.work_queues[m[1]].name) + ".Arn}",
        text,
    )
    text = re.sub(r"\$\{TOPIC:(\w+)\}", lambda m: "${" + logical("AWS::SNS::Topic", topo.topics[m[1]]) + "}", text)
    text = text.replace("${BUCKET}", "${" + logical("AWS::S3::Bucket", topo.bucket) + ".Arn}")
    assert Ownership(synthesized).violations(service, {**statement, "Resource": text})


def _grants_on_queue(synthesized: Any, role: str, queue_name: str) -> set[str]:
    queue = logical_id(synthesized.template, "AWS::SQS::Queue", queue_name)
    return {
        action
        for s in statements_of(synthesized, role)
        if s["Effect"] == "Allow" and "${" + queue + ".Arn}" in {render(r) for r in as_list(s["Resource"])}
        for action in as_list(s["Action"])
    }


def test_only_the_notifier_works_its_delivery_queue(synthesized: Any) -> None:
    """The notifier works it; the api's admin routes only inspect and redrive it; nobody else touches it."""
    roles = task_roles(synthesized)
    (work,) = synthesized.topology.work_queues.values()
    needed = {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
    assert needed <= _grants_on_queue(synthesized, roles["notifier"], work.name)
    assert "sqs:SendMessage" in _grants_on_queue(synthesized, roles["notifier"], work.dlq_name)
    assert _grants_on_queue(synthesized, roles["api"], work.name) == ADMIN_ON_QUEUES
    assert _grants_on_queue(synthesized, roles["api"], work.dlq_name) == ADMIN_ON_DLQS
    for service in set(SERVICES) - {"notifier", "api"}:
        assert not _grants_on_queue(synthesized, roles[service], work.name)
        assert not _grants_on_queue(synthesized, roles[service], work.dlq_name)


def test_the_deployer_may_send_its_rechecks_to_its_own_queue(synthesized: Any) -> None:
    roles = task_roles(synthesized)
    spec = synthesized.topology.queues["deployer"]
    assert {"sqs:SendMessage", "sqs:ReceiveMessage"} <= _grants_on_queue(synthesized, roles["deployer"], spec.name)
    assert "sqs:SendMessage" not in _grants_on_queue(
        synthesized, roles["codegen"], synthesized.topology.queues["codegen"].name
    )


def test_the_deployers_grants_cover_the_names_and_external_ids_it_uses(synthesized: Any) -> None:
    from snapinfra_api.deployments.use_cases import stack_name
    from snapinfra_deployer.adapters.stacks import StackTargets

    statements = statements_of(synthesized, task_roles(synthesized)["deployer"])
    stacks = [
        render(r).rsplit(":stack/", 1)[1]
        for s in statements
        if "cloudformation:CreateStack" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    ]
    name = stack_name("staging", "0b9c6f0e-4d1a-4b8e-9f3a-1c2d3e4f5a6b")
    assert any(fnmatch.fnmatchcase(f"{name}/some-stack-id", pattern) for pattern in stacks), (name, stacks)
    assert not any(fnmatch.fnmatchcase("other-staging-1c2d3e4f5a6b/x", pattern) for pattern in stacks)
    (assume,) = [s for s in statements if s.get("Action") == "sts:AssumeRole"]
    (pattern,) = assume["Condition"]["StringLike"].values()
    (task,) = [
        t
        for t in synthesized.of_type("AWS::ECS::TaskDefinition").values()
        if t["Properties"]["ContainerDefinitions"][0]["Name"] == "deployer"
    ]
    env = {e["Name"]: e["Value"] for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]}
    targets = StackTargets(
        default_region="us-east-1", external_id_prefix=env["SNAPINFRA_EXTERNAL_ID_PREFIX"], session_seconds=900
    )
    assert fnmatch.fnmatchcase(targets.external_id("user-1"), pattern)
    reads = {a for s in statements for a in as_list(s["Action"])}
    assert {"cloudformation:GetTemplateSummary", "cloudformation:DescribeStackEvents"} <= reads
