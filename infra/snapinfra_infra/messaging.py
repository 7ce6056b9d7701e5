"""Topics, queues, dead-letter queues and subscriptions, exactly as the shared topology declares them."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from snapinfra_shared.events import Service
from snapinfra_shared.topology import QueueSpec, Topology

LONG_POLL_SECONDS = 20
RETENTION_DAYS = 4


class Messaging(Construct):
    """An SNS topic per producing service; an SQS queue (and its DLQ) per consuming service, subscribed
    with raw delivery and the catalog's filter policy; queue policies that admit only those topics; and
    each work queue (and its DLQ) the topology declares."""

    def __init__(self, scope: Construct, construct_id: str, *, topology: Topology) -> None:
        super().__init__(scope, construct_id)
        # One customer-managed key for the topics: CloudWatch (the alarms) may only publish to a topic
        # encrypted with a key whose policy names it, which an AWS-managed key cannot do.
        self.key = kms.Key(
            self,
            "TopicKey",
            alias=f"alias/{topology.prefix}-topics",
            description=f"{topology.prefix}: encrypts the SNS topics' messages at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topics: dict[Service, sns.Topic] = {
            service: sns.Topic(self, f"{service}-topic", topic_name=name, master_key=self.key, enforce_ssl=True)
            for service, name in topology.topics.items()
        }
        # Where the alarms go (and an operator's email, when given): not an event topic of any service.
        self.operations = sns.Topic(
            self, "operations-topic", topic_name=f"{topology.prefix}-operations", master_key=self.key, enforce_ssl=True
        )
        self.queues: dict[Service, sqs.Queue] = {}
        self.dlqs: dict[Service, sqs.Queue] = {}
        for service, spec in topology.queues.items():
            queue, dlq = self._queue_with_dlq(service, spec)
            for subscription in spec.subscriptions:
                # SqsSubscription also adds the queue policy statement: sns.amazonaws.com may send,
                # only when aws:SourceArn is this topic.
                self.topics[subscription.producer].add_subscription(
                    subscriptions.SqsSubscription(
                        queue,
                        raw_message_delivery=True,
                        filter_policy={
                            name: sns.SubscriptionFilter.string_filter(allowlist=values)
                            for name, values in subscription.filter_policy.items()
                        },
                    )
                )
            self.queues[service] = queue
            self.dlqs[service] = dlq
        # A service's queue of its own scheduled work (the notifier's delivery attempts): no topic, no
        # subscription, so no queue policy; only its owner's task role reaches it.
        self.work_queues: dict[Service, sqs.Queue] = {}
        self.work_dlqs: dict[Service, sqs.Queue] = {}
        for service, spec in topology.work_queues.items():
            self.work_queues[service], self.work_dlqs[service] = self._queue_with_dlq(f"{service}-work", spec)

    def _queue_with_dlq(self, key: str, spec: QueueSpec) -> tuple[sqs.Queue, sqs.Queue]:
        """A queue as the topology declares it (SSE, long polling, visibility) and its DLQ."""
        dlq = sqs.Queue(
            self,
            f"{key}-dlq",
            queue_name=spec.dlq_name,
            retention_period=Duration.seconds(spec.dlq_retention_seconds),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue = sqs.Queue(
            self,
            f"{key}-queue",
            queue_name=spec.name,
            visibility_timeout=Duration.seconds(spec.visibility_timeout),
            receive_message_wait_time=Duration.seconds(LONG_POLL_SECONDS),
            retention_period=Duration.days(RETENTION_DAYS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
        )
        return queue, dlq
