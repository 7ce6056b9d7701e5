"""Each service's task role, built from the grants the topology declares for it (`Topology.grants`): what it
owns (its table, prefix, queues, topic) and the few things it may do beyond. One builder per kind of grant
turns it into IAM statements; nothing here branches on a service's name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from snapinfra_infra.config import InfraConfig
from snapinfra_infra.data import Data
from snapinfra_infra.messaging import Messaging
from snapinfra_infra.storage import Storage
from snapinfra_shared.events import Service
from snapinfra_shared.grants import (
    CODE_PACKAGE_FOLDER,
    DEPLOYMENT_STACK_PREFIX,
    AssumesTargetRoles,
    InvokesModel,
    ManagesDeploymentStacks,
    OperatesQueues,
    OwnPrefix,
    OwnQueue,
    OwnTable,
    OwnTopic,
    OwnWorkQueue,
    PassesExecutionRole,
    ReadsArtifacts,
    ReadsCodePackages,
    SendsEmail,
    SendsSms,
)
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
STACK_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResources",
    "cloudformation:DeleteStack",
)


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
    return list(ManagesDeploymentStacks(stack_prefix=prefix).stack_names)


class DeploymentExecutionRole(Construct):
    """The role CloudFormation uses for a deployment's stack (passed by the deployer), so that the
    deployer itself never holds the permissions to create what a generated template declares."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        bucket: s3.Bucket | None = None,
        deployer_prefix: str = "deployments/",
    ) -> None:
        """`bucket`: where the deployer keeps its copies of the functions' code packages (under its prefix)."""
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
        wildcards = [
            f"Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/{n}"
            for n in deployment_stack_names()
        ]
        if bucket is not None:
            wildcards += _function_statements(self.role, bucket, f"{deployer_prefix}*/function.zip")
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="A deployment's resources are named after its stack 'snapinfra-<environment>-<deployment "
                    "id>' (its tables '<stack>-<entity>', its function '<stack>-api', the function's role "
                    "'<stack>-ApiFunctionRole-<suffix>'): the wildcard is the deployment id, unknown until then. "
                    "API Gateway's HTTP APIs are named by an id it chooses, so they are scoped to '/apis/*'; the code "
                    "packages the stacks read are the deployer's copies '<prefix><user>/<deployment>/function.zip'.",
                    applies_to=wildcards,
                )
            ],
            apply_to_children=True,
        )


def _function_statements(role: iam.Role, bucket: s3.Bucket, code_packages: str) -> list[str]:
    """What a full-stack template declares besides its tables: the function, its role and log group, the HTTP
    API; and a read of the deployment's copy of the code package (Lambda reads it with the caller's rights)."""
    stack = Stack.of(role)
    names = deployment_stack_names()
    functions = [
        stack.format_arn(
            service="lambda", resource="function", resource_name=n, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        for n in names
    ]
    roles = [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{n}" for n in names]
    groups = [
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/lambda/{n}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for n in names
    ]
    apis = [
        f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/apis",
        f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/apis/*",
    ]
    statements = [
        iam.PolicyStatement(
            sid="GeneratedFunctions",
            actions=[
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
            ],
            resources=functions,
        ),
        iam.PolicyStatement(
            sid="GeneratedFunctionRoles",
            actions=[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            resources=roles,
        ),
        iam.PolicyStatement(
            sid="PassGeneratedFunctionRoles",
            actions=["iam:PassRole"],
            resources=roles,
            conditions={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            sid="GeneratedLogGroups",
            actions=[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
                "logs:ListTagsForResource",
            ],
            resources=[f"{g}:*" for g in groups] + groups,
        ),
        iam.PolicyStatement(
            sid="GeneratedHttpApis",
            actions=[
                "apigateway:GET",
                "apigateway:POST",
                "apigateway:PATCH",
                "apigateway:DELETE",
            ],
            resources=apis,
        ),
        iam.PolicyStatement(
            sid="DeploymentCodePackages", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(code_packages)]
        ),
    ]
    for statement in statements:
        role.add_to_principal_policy(statement)
    return [
        *(f"Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:{n}" for n in names),
        *(f"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{n}" for n in names),
        *(
            f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/{n}"
            for n in names
        ),
        *(
            f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/{n}:*"
            for n in names
        ),
        "Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::/apis/*",
        "Action::apigateway:GET",
        f"Resource::<{_ref(bucket)}.Arn>/{code_packages}",
    ]


@dataclass(frozen=True, kw_only=True)
class Access:
    """What a builder needs to turn one grant of one service into statements."""

    scope: Construct  # the task role's construct (its stack formats ARNs)
    service: Service
    shared: Shared
    execution_role: iam.IRole | None


@dataclass(frozen=True)
class Statements:
    """One grant as IAM: its statements, the wildcards cdk-nag is told of (`appliesTo`) and why they are there."""

    statements: list[iam.PolicyStatement]
    wildcards: list[str] = field(default_factory=list)
    reason: str | None = None


def _own_table(_: OwnTable, a: Access) -> Statements:
    table = a.shared.data.tables[a.service]
    resources, wildcards = [table.table_arn], []
    if a.shared.topology.tables[a.service].indexes:
        resources.append(f"{table.table_arn}/index/*")
        wildcards.append(f"Resource::<{_ref(table)}.Arn>/index/*")
    return Statements(
        [iam.PolicyStatement(sid="OwnTable", actions=list(TABLE_ACTIONS), resources=resources)],
        wildcards,
        "Own table's indexes (table/<name>/index/*).",
    )


def _own_prefix(_: OwnPrefix, a: Access) -> Statements:
    bucket, own = a.shared.storage.bucket, a.shared.topology.prefixes[a.service]
    return Statements(
        [
            iam.PolicyStatement(
                sid="OwnPrefixObjects", actions=list(OBJECT_ACTIONS), resources=[bucket.arn_for_objects(f"{own}*")]
            ),
            iam.PolicyStatement(
                sid="OwnPrefixListing",
                actions=list(LIST_ACTIONS),
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{own}*"]}},
            ),
        ],
        [f"Resource::<{_ref(bucket)}.Arn>/{own}*"],
        "Own S3 prefix (<prefix>/*, objects under it).",
    )


def _code_packages(prefix: str) -> str:
    """The keys of a producer's function code packages: '<prefix><user>/<job>/attempt-<n>/function/...'."""
    return f"{prefix}*/{CODE_PACKAGE_FOLDER}/*"


def _reads_artifacts(grant: ReadsArtifacts, a: Access) -> Statements:
    bucket, other = a.shared.storage.bucket, a.shared.topology.prefixes[grant.producer]
    statements = [
        iam.PolicyStatement(
            sid=f"Read{grant.producer.capitalize()}Artifacts",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{other}*")],
        )
    ]
    if ReadsCodePackages(grant.producer) not in a.shared.topology.grants[a.service]:
        # Function code packages are read only by those granted ReadsCodePackages (an explicit Deny for the rest).
        statements.append(
            iam.PolicyStatement(
                sid=f"No{grant.producer.capitalize()}CodePackages",
                effect=iam.Effect.DENY,
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(_code_packages(other))],
            )
        )
    return Statements(
        statements,
        [f"Resource::<{_ref(bucket)}.Arn>/{other}*"],
        "Read of another service's published artifacts by key (<its prefix>/*).",
    )


def _reads_code_packages(grant: ReadsCodePackages, a: Access) -> Statements:
    bucket, other = a.shared.storage.bucket, a.shared.topology.prefixes[grant.producer]
    return Statements(
        [
            iam.PolicyStatement(
                sid=f"Read{grant.producer.capitalize()}CodePackages",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(_code_packages(other))],
            )
        ],
        [f"Resource::<{_ref(bucket)}.Arn>/{_code_packages(other)}"],
        "Read of another service's function code packages by key (<its prefix>*/function/*): the user, job and "
        "attempt are the wildcards.",
    )


def _own_queue(grant: OwnQueue, a: Access) -> Statements:
    messaging = a.shared.messaging
    actions = [*QUEUE_ACTIONS, *(("sqs:SendMessage",) if grant.sends else ())]
    return Statements(
        [
            iam.PolicyStatement(sid="OwnQueue", actions=actions, resources=[messaging.queues[a.service].queue_arn]),
            iam.PolicyStatement(
                sid="OwnDeadLetterQueue", actions=list(DLQ_ACTIONS), resources=[messaging.dlqs[a.service].queue_arn]
            ),
        ]
    )


def _own_work_queue(_: OwnWorkQueue, a: Access) -> Statements:
    messaging = a.shared.messaging
    return Statements(
        [
            iam.PolicyStatement(
                sid="OwnWorkQueue",
                actions=[*QUEUE_ACTIONS, "sqs:SendMessage"],  # it sends its own work there
                resources=[messaging.work_queues[a.service].queue_arn],
            ),
            iam.PolicyStatement(
                sid="OwnWorkDeadLetterQueue",
                actions=list(DLQ_ACTIONS),
                resources=[messaging.work_dlqs[a.service].queue_arn],
            ),
        ]
    )


def _operates_queues(_: OperatesQueues, a: Access) -> Statements:
    messaging = a.shared.messaging
    return Statements(
        [
            iam.PolicyStatement(
                sid="AdminQueues",
                actions=list(ADMIN_QUEUE_ACTIONS),
                resources=[q.queue_arn for q in [*messaging.queues.values(), *messaging.work_queues.values()]],
            ),
            iam.PolicyStatement(
                sid="AdminDeadLetterQueues",
                actions=list(ADMIN_DLQ_ACTIONS),
                resources=[q.queue_arn for q in [*messaging.dlqs.values(), *messaging.work_dlqs.values()]],
            ),
        ]
    )


def _own_topic(_: OwnTopic, a: Access) -> Statements:
    messaging = a.shared.messaging
    return Statements(
        [
            iam.PolicyStatement(
                sid="OwnTopic", actions=["sns:Publish"], resources=[messaging.topics[a.service].topic_arn]
            ),
            iam.PolicyStatement(
                sid="TopicEncryption",
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=[messaging.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{Aws.REGION}.amazonaws.com"}},
            ),
        ],
        ["Action::kms:GenerateDataKey*"],
        "kms:GenerateDataKey* is one action family (GenerateDataKey, ...WithoutPlaintext) on the topics' key, "
        "only via SNS.",
    )


def _invokes_model(_: InvokesModel, a: Access) -> Statements:
    model = a.shared.config.bedrock_model_id
    if not model:
        return Statements([])
    return Statements(
        [
            iam.PolicyStatement(
                sid="BedrockModel",
                actions=["bedrock:InvokeModel"],
                resources=[f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model}"],
            )
        ]
    )


def _manages_deployment_stacks(grant: ManagesDeploymentStacks, a: Access) -> Statements:
    stack = Stack.of(a.scope)
    return Statements(
        [
            iam.PolicyStatement(
                sid="DeploymentStacks",
                actions=list(STACK_ACTIONS),
                resources=[
                    stack.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
                    for name in grant.stack_names
                ],
            ),
            iam.PolicyStatement(sid="ReadTemplates", actions=["cloudformation:GetTemplateSummary"], resources=["*"]),
        ],
        [
            *(
                f"Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/{name}/*"
                for name in grant.stack_names
            ),
            "Resource::*",
        ],
        "Deployer: stacks are named 'snapinfra-<environment>-<deployment id>' (the id is the wildcard, the stack "
        "id suffix is CloudFormation's). cloudformation:GetTemplateSummary reads a template body before any "
        "stack exists, so it has no stack to be scoped to ('*').",
    )


def _assumes_target_roles(grant: AssumesTargetRoles, a: Access) -> Statements:
    role_name = a.shared.config.deploy_target_role_name
    return Statements(
        [
            iam.PolicyStatement(
                sid="AssumeTargetAccountRoles",
                actions=["sts:AssumeRole"],
                resources=[f"arn:{Aws.PARTITION}:iam::*:role/{role_name}"],
                conditions={"StringLike": {"sts:ExternalId": f"{grant.external_id_prefix}*"}},
            )
        ],
        [f"Resource::arn:<AWS::Partition>:iam::*:role/{role_name}"],
        "The roles the deployer may assume in target accounts are the ones a user names, restricted to the "
        "deployTargetRoleName pattern and to calls with an external id that starts with the deployer's prefix.",
    )


def _passes_execution_role(_: PassesExecutionRole, a: Access) -> Statements:
    if a.execution_role is None:
        return Statements([])
    return Statements(
        [
            iam.PolicyStatement(
                sid="PassExecutionRole",
                actions=["iam:PassRole"],
                resources=[a.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
            )
        ]
    )


def _sends_sms(_: SendsSms, a: Access) -> Statements:
    messaging = a.shared.messaging
    others = [topic.topic_arn for service, topic in messaging.topics.items() if service != a.service]
    others.append(messaging.operations.topic_arn)
    return Statements(
        [
            iam.PolicyStatement(sid="SmsToPhoneNumbers", actions=["sns:Publish"], resources=["*"]),
            iam.PolicyStatement(sid="NoOtherTopics", effect=iam.Effect.DENY, actions=["sns:Publish"], resources=others),
        ],
        ["Resource::*"],
        "SNS SMS (Publish to a phone number) has no resource to scope to, so sns:Publish is on '*'; an explicit "
        "Deny takes back every topic of this system except the service's own.",
    )


def _sends_email(_: SendsEmail, a: Access) -> Statements:
    config = a.shared.config
    if not (config.email_sender and config.sender_identity):
        return Statements([])
    identity = Stack.of(a.scope).format_arn(service="ses", resource="identity", resource_name=config.sender_identity)
    return Statements(
        [
            iam.PolicyStatement(
                sid="EmailFromSender",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[identity],
                conditions={"StringEquals": {"ses:FromAddress": config.email_sender}},
            )
        ]
    )


# Kind of grant -> its builder. The order is the statements' order in a policy, whatever the declaration's.
BUILDERS: dict[type[Any], Callable[[Any, Access], Statements]] = {
    OwnTable: _own_table,
    OwnPrefix: _own_prefix,
    ReadsArtifacts: _reads_artifacts,
    ReadsCodePackages: _reads_code_packages,
    OwnQueue: _own_queue,
    OwnWorkQueue: _own_work_queue,
    OperatesQueues: _operates_queues,
    OwnTopic: _own_topic,
    InvokesModel: _invokes_model,
    ManagesDeploymentStacks: _manages_deployment_stacks,
    AssumesTargetRoles: _assumes_target_roles,
    PassesExecutionRole: _passes_execution_role,
    SendsSms: _sends_sms,
    SendsEmail: _sends_email,
}


class TaskRole(Construct):
    """The task role of one service, with exactly the grants its topology declares."""

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
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"{shared.topology.prefix}: the {service} service's tasks",
        )
        access = Access(scope=self, service=service, shared=shared, execution_role=execution_role)
        kinds = list(BUILDERS)  # a kind without a builder fails here (ValueError), not silently
        wildcards: set[str] = set()
        reasons: list[str] = []  # why each kind of wildcard is there
        for grant in sorted(shared.topology.grants[service], key=lambda g: kinds.index(type(g))):
            built = BUILDERS[type(grant)](grant, access)
            for statement in built.statements:
                self.role.add_to_principal_policy(statement)
            wildcards |= set(built.wildcards)
            if built.reason and built.wildcards and built.reason not in reasons:
                reasons.append(built.reason)
        if wildcards:
            NagSuppressions.add_resource_suppressions(
                self.role,
                [NagPackSuppression(id="AwsSolutions-IAM5", reason=" ".join(reasons), applies_to=sorted(wildcards))],
                apply_to_children=True,
            )


def _ref(construct: Construct) -> str:
    """The logical id cdk-nag names a resource by in `appliesTo` (e.g. '<StorageBucket1234.Arn>')."""
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
