"""Each service's task role: its own table, its own prefix (plus read of the artifacts it is given), its
own queue and DLQ, its own topic; and the few extra actions the deployer and the notifier need."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from snapinfra_infra.config import InfraConfig
from snapinfra_infra.data import Data
from snapinfra_infra.messaging import Messaging
from snapinfra_infra.storage import Storage
from snapinfra_shared.catalog import Environment
from snapinfra_shared.events import Service
from snapinfra_shared.topology import Topology

TABLE_ACTIONS = (
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)  # no Scan: listings are queries
OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
)
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions")
QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
DLQ_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")  # malformed messages go there
# The admin routes (`/api/admin`): depths of every queue and DLQ, dead letters listed (received then
# released), and redriven to their source queue. The api is the one service that operates the others' queues.
ADMIN_QUEUE_ACTIONS = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage")
ADMIN_DLQ_ACTIONS = (
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
)
# Services that send to their own queue: the deployer puts a delayed copy of an event back to look again.
SENDS_TO_OWN_QUEUE: tuple[Service, ...] = ("deployer",)
STACK_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResources",
    "cloudformation:DeleteStack",
)
# The published outputs a service reads by the key an event gave it (never lists, never writes).
# The notifier signs download links of the codegen artifacts (a presigned URL carries its signer's rights).
READS_ARTIFACTS_OF: dict[Service, tuple[Service, ...]] = {
    "api": ("codegen",),
    "deployer": ("codegen",),
    "notifier": ("codegen",),
}
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "staging", "prod")
# The deployer names a deployment's stack 'snapinfra-<environment>-<12 hex of its id>' whatever the resource
# prefix (snapinfra_api.deployments.stack_name): a test holds the two together.
DEPLOYMENT_STACK_PREFIX = "snapinfra"
# The ExternalId of a cross-account AssumeRole is this followed by the user id (the deployer's
# SNAPINFRA_EXTERNAL_ID_PREFIX, which the stack sets to it); the deployer's role may assume only with it.
EXTERNAL_ID_PREFIX = "snapinfra:"


@dataclass(frozen=True, kw_only=True)
class Shared:
    """The resources that task roles are granted on, each service only to its own."""

    topology: Topology
    config: InfraConfig
    messaging: Messaging
    storage: Storage
    data: Data


def deployment_stack_names(prefix: str = DEPLOYMENT_STACK_PREFIX) -> list[str]:
    """The stacks the deployer creates: 'snapinfra-<environment>-<short deployment id>'."""
    return [f"{prefix}-{environment}-*" for environment in ENVIRONMENTS]


class DeploymentExecutionRole(Construct):
    """The role CloudFormation uses for a deployment's stack (passed by the deployer), so that the
    deployer itself never holds the permissions to create what a generated template declares."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        tables = [
            stack.format_arn(service="dynamodb", resource="table", resource_name=name)
            for name in deployment_stack_names()
        ]
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description=f"{prefix}: CloudFormation creates and deletes deployments' stacks with this role",
        )
        # What generated infrastructure declares: DynamoDB tables named after their stack.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="GeneratedTables",
                actions=[
                    "dynamodb:CreateTable",
                    "dynamodb:DeleteTable",
                    "dynamodb:DescribeTable",
                    "dynamodb:UpdateTable",
                    "dynamodb:DescribeContinuousBackups",
                    "dynamodb:UpdateContinuousBackups",
                    "dynamodb:DescribeTimeToLive",
                    "dynamodb:UpdateTimeToLive",
                    "dynamodb:TagResource",
                    "dynamodb:UntagResource",
                    "dynamodb:ListTagsOfResource",
                ],
                resources=tables,
            )
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="A deployment's tables are named '<its stack name>-<entity>' and its stack "
                    "'snapinfra-<environment>-<deployment id>': the wildcard is the deployment id, unknown until then.",
                    applies_to=[
                        f"Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/{n}"
                        for n in deployment_stack_names()
                    ],
                )
            ],
            apply_to_children=True,
        )


class TaskRole(Construct):
    """The task role of one service, with exactly its own grants."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: Service,
        shared: Shared,
        execution_role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        topology, config = shared.topology, shared.config
        self._config = config
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"{topology.prefix}: the {service} service's tasks",
        )
        table = shared.data.tables[service]
        bucket = shared.storage.bucket
        own_prefix = topology.prefixes[service]
        wildcards = [f"Resource::<{_ref(bucket)}.Arn>/{own_prefix}*"]
        table_resources = [table.table_arn]
        if topology.tables[service].indexes:
            table_resources.append(f"{table.table_arn}/index/*")
            wildcards.append(f"Resource::<{_ref(table)}.Arn>/index/*")
        statements = [
            iam.PolicyStatement(sid="OwnTable", actions=list(TABLE_ACTIONS), resources=table_resources),
            iam.PolicyStatement(
                sid="OwnPrefixObjects",
                actions=list(OBJECT_ACTIONS),
                resources=[bucket.arn_for_objects(f"{own_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="OwnPrefixListing",
                actions=list(LIST_ACTIONS),
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{own_prefix}*"]}},
            ),
        ]
        for producer in READS_ARTIFACTS_OF.get(service, ()):
            other = topology.prefixes[producer]
            statements.append(
                iam.PolicyStatement(
                    sid=f"Read{producer.capitalize()}Artifacts",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{other}*")],
                )
            )
            wildcards.append(f"Resource::<{_ref(bucket)}.Arn>/{other}*")
        if service in shared.messaging.queues:
            own_queue_actions = [*QUEUE_ACTIONS, *(("sqs:SendMessage",) if service in SENDS_TO_OWN_QUEUE else ())]
            statements += [
                iam.PolicyStatement(
                    sid="OwnQueue", actions=own_queue_actions, resources=[shared.messaging.queues[service].queue_arn]
                ),
                iam.PolicyStatement(
                    sid="OwnDeadLetterQueue",
                    actions=list(DLQ_ACTIONS),
                    resources=[shared.messaging.dlqs[service].queue_arn],
                ),
            ]
        if service in shared.messaging.work_queues:
            statements += [
                iam.PolicyStatement(
                    sid="OwnWorkQueue",
                    actions=[*QUEUE_ACTIONS, "sqs:SendMessage"],  # it sends its own work there
                    resources=[shared.messaging.work_queues[service].queue_arn],
                ),
                iam.PolicyStatement(
                    sid="OwnWorkDeadLetterQueue",
                    actions=list(DLQ_ACTIONS),
                    resources=[shared.messaging.work_dlqs[service].queue_arn],
                ),
            ]
        if service == "api":
            statements += [
                iam.PolicyStatement(
                    sid="AdminQueues",
                    actions=list(ADMIN_QUEUE_ACTIONS),
                    resources=[
                        q.queue_arn for q in [*shared.messaging.queues.values(), *shared.messaging.work_queues.values()]
                    ],
                ),
                iam.PolicyStatement(
                    sid="AdminDeadLetterQueues",
                    actions=list(ADMIN_DLQ_ACTIONS),
                    resources=[
                        q.queue_arn for q in [*shared.messaging.dlqs.values(), *shared.messaging.work_dlqs.values()]
                    ],
                ),
            ]
        if service in shared.messaging.topics:
            statements += [
                iam.PolicyStatement(
                    sid="OwnTopic", actions=["sns:Publish"], resources=[shared.messaging.topics[service].topic_arn]
                ),
                iam.PolicyStatement(
                    sid="TopicEncryption",
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=[shared.messaging.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}},
                ),
            ]
            wildcards.append("Action::kms:GenerateDataKey*")
        reasons = [
            "Own table's indexes (table/<name>/index/*) and own S3 prefix (<prefix>/*, objects under it); "
            "read of another service's published artifacts by key; kms:GenerateDataKey* is one action family "
            "(GenerateDataKey, ...WithoutPlaintext) on the topics' key, only via SNS."
        ]
        if service == "codegen" and config.bedrock_model_id:
            statements.append(
                iam.PolicyStatement(
                    sid="BedrockModel",
                    actions=["bedrock:InvokeModel"],
                    resources=[f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{config.bedrock_model_id}"],
                )
            )
        if service == "deployer":
            statements += self._deployer(topology, execution_role)
            wildcards += [
                *(
                    f"Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/{name}/*"
                    for name in deployment_stack_names()
                ),
                f"Resource::arn:<AWS::Partition>:iam::*:role/{config.deploy_target_role_name}",
                "Resource::*",
            ]
            reasons.append(
                "Deployer: stacks are named 'snapinfra-<environment>-<deployment id>' (the id is the wildcard, "
                "the stack id suffix is CloudFormation's); the roles it may assume in target accounts are "
                "the ones a user names, restricted to the deployTargetRoleName pattern and to calls with an "
                "external id that starts with the deployer's prefix. cloudformation:GetTemplateSummary reads a "
                "template body before any stack exists, so it has no stack to be scoped to ('*')."
            )
        if service == "notifier":
            statements += self._notifier(shared)
            wildcards.append("Resource::*")
            reasons.append(
                "Notifier: SNS SMS (Publish to a phone number) has no resource to scope to, so sns:Publish is "
                "on '*'; an explicit Deny takes back every topic of this system except the notifier's own."
            )
        for statement in statements:
            self.role.add_to_principal_policy(statement)
        NagSuppressions.add_resource_suppressions(
            self.role,
            [NagPackSuppression(id="AwsSolutions-IAM5", reason=" ".join(reasons), applies_to=wildcards)],
            apply_to_children=True,
        )

    def _deployer(self, topology: Topology, execution_role: iam.IRole | None) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        statements = [
            iam.PolicyStatement(
                sid="DeploymentStacks",
                actions=list(STACK_ACTIONS),
                resources=[
                    stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
                    for name in deployment_stack_names()
                ],
            ),
            iam.PolicyStatement(sid="ReadTemplates", actions=["cloudformation:GetTemplateSummary"], resources=["*"]),
            iam.PolicyStatement(
                sid="AssumeTargetAccountRoles",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{Aws.PARTITION}:iam::*:role/{self._config.deploy_target_role_name}"],
                conditions={"StringLike": {"sts:ExternalId": f"{EXTERNAL_ID_PREFIX}*"}},
            ),
        ]
        if execution_role is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="PassExecutionRole",
                    actions=["iam:PassRole"],
                    resources=[execution_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
                )
            )
        return statements

    def _notifier(self, shared: Shared) -> list[iam.PolicyStatement]:
        config = shared.config
        others = [topic.topic_arn for service, topic in shared.messaging.topics.items() if service != "notifier"]
        others.append(shared.messaging.operations.topic_arn)
        statements = [
            iam.PolicyStatement(sid="SmsToPhoneNumbers", actions=["sns:Publish"], resources=["*"]),
            iam.PolicyStatement(sid="NoOtherTopics", effect=iam.Effect.DENY, actions=["sns:Publish"], resources=others),
        ]
        if config.email_sender and config.sender_identity:
            identity = Stack.of(self).format_arn(
                service="ses", resource="identity", resource_name=config.sender_identity
            )
            statements.append(
                iam.PolicyStatement(
                    sid="EmailFromSender",
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[identity],
                    conditions={"StringEquals": {"ses:FromAddress": config.email_sender}},
                )
            )
        return statements


def _ref(construct: Construct) -> str:
    """The logical id cdk-nag names a resource by in `appliesTo` (e.g. '<StorageBucket1234.Arn>')."""
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
