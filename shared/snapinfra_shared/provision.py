"""Create (or bring up to date) every resource of the topology on an AWS endpoint. Idempotent:
running it again reuses what is there. Used by `make dev`, docker-compose's one-shot step and tests;
on real AWS the CDK app creates the same resources from the same declaration."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.events import Service
from snapinfra_shared.topology import QueueSpec, TableSpec, Topology

log = logging.getLogger(__name__)


def provision(clients: AwsClients, topology: Topology) -> dict[str, Any]:
    """Provision everything; returns what was found or made (names, ARNs, URLs)."""
    topic_arns = {svc: clients.sns.create_topic(Name=name)["TopicArn"] for svc, name in topology.topics.items()}
    queue_urls = {svc: _queue(clients, spec, topic_arns) for svc, spec in topology.queues.items()}
    # A service's own scheduled work: no topic feeds it.
    work_queue_urls = {svc: _queue_with_dlq(clients, spec) for svc, spec in topology.work_queues.items()}
    for table in topology.tables.values():
        _table(clients, table)
    _bucket(clients, topology.bucket)
    log.info(
        "provisioned",
        extra={
            "topics": len(topic_arns),
            "queues": len(queue_urls) + len(work_queue_urls),
            "work_queues": len(work_queue_urls),
            "bucket": topology.bucket,
        },
    )
    return {"topics": topic_arns, "queues": queue_urls, "work_queues": work_queue_urls, "bucket": topology.bucket}


def _queue(clients: AwsClients, spec: QueueSpec, topic_arns: dict[Service, str]) -> str:
    sqs, sns = clients.sqs, clients.sns
    url = _queue_with_dlq(clients, spec)
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sources = [topic_arns[s.producer] for s in spec.subscriptions]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "topics-of-its-producers",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sources}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    existing = _subscriptions_by_topic(clients, sources, queue_arn)
    for sub in spec.subscriptions:
        topic = topic_arns[sub.producer]
        attributes = {"RawMessageDelivery": "true", "FilterPolicy": sub.filter_policy_json}
        if topic in existing:
            for name, value in attributes.items():
                sns.set_subscription_attributes(
                    SubscriptionArn=existing[topic], AttributeName=name, AttributeValue=value
                )
        else:
            sns.subscribe(
                TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes, ReturnSubscriptionArn=True
            )
    return str(url)


def _queue_with_dlq(clients: AwsClients, spec: QueueSpec) -> str:
    """The queue (long polling, encrypted, its visibility timeout) and its DLQ after `maxReceiveCount`."""
    sqs = clients.sqs
    dlq_url = _create_queue(
        sqs, spec.dlq_name, {"MessageRetentionPeriod": str(spec.dlq_retention_seconds), "SqsManagedSseEnabled": "true"}
    )
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return _create_queue(
        sqs,
        spec.name,
        {
            "VisibilityTimeout": str(spec.visibility_timeout),
            "ReceiveMessageWaitTimeSeconds": "20",
            "MessageRetentionPeriod": str(4 * 24 * 3600),
            "SqsManagedSseEnabled": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}),
        },
    )


def verify_email_sender(clients: AwsClients, sender: str) -> None:
    """Ask SES to verify the notifier's sender address. An emulator accepts sends from it at once;
    real SES mails the address a link (or use a verified domain, as the CDK app declares)."""
    clients.client("ses").verify_email_identity(EmailAddress=sender)
    log.info("email sender identity submitted for verification", extra={"sender": sender})


def _subscriptions_by_topic(clients: AwsClients, topics: list[str], queue_arn: str) -> dict[str, str]:
    found: dict[str, str] = {}
    paginator = clients.sns.get_paginator("list_subscriptions_by_topic")
    for topic in topics:
        for page in paginator.paginate(TopicArn=topic):
            for sub in page["Subscriptions"]:
                if sub["Endpoint"] == queue_arn and sub["Protocol"] == "sqs":
                    found[topic] = sub["SubscriptionArn"]
    return found


def _create_queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    try:
        return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    except ClientError as exc:
        # Exists with other attributes: bring it up to date instead.
        if exc.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return url


def _table(clients: AwsClients, spec: TableSpec) -> None:
    ddb = clients.dynamodb
    try:
        ddb.describe_table(TableName=spec.name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        keys = {spec.partition_key, spec.sort_key}
        for index in spec.indexes:
            keys |= {index.partition_key, index.sort_key}
        ddb.create_table(
            TableName=spec.name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in sorted(keys)],
            KeySchema=[
                {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
            ],
            **(
                {
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": i.name,
                            "KeySchema": [
                                {"AttributeName": i.partition_key, "KeyType": "HASH"},
                                {"AttributeName": i.sort_key, "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                        for i in spec.indexes
                    ]
                }
                if spec.indexes
                else {}
            ),
        )
        ddb.get_waiter("table_exists").wait(TableName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ttl = ddb.describe_time_to_live(TableName=spec.name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        ddb.update_time_to_live(
            TableName=spec.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
        )


def _bucket(clients: AwsClients, name: str) -> None:
    s3 = clients.s3
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        if clients.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": clients.region})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
