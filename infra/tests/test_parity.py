"""What the CDK app deploys is what the local provisioner creates: the same names, filter policies,
maxReceiveCount, visibility timeouts, tables and indexes (compared against a real provisioning in moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snapinfra_infra.cfn import render
from snapinfra_shared.aws import AwsClients
from snapinfra_shared.provision import provision
from snapinfra_shared.topology import build_topology


@pytest.fixture(scope="module")
def provisioned(aws_endpoint: str, synthesized: Any) -> AwsClients:
    clients = AwsClients(s3_addressing_style="path")
    provision(clients, build_topology(synthesized.topology.prefix, synthesized.topology.bucket))
    return clients


def _name(t: dict[str, Any], ref: Any) -> str:
    logical = render(ref).removeprefix("${").split(".")[0].removesuffix("}")
    props = t["Resources"][logical]["Properties"]
    return str(props.get("QueueName") or props.get("TopicName"))


def _queues_deployed(synthesized: Any) -> dict[str, dict[str, Any]]:
    t = synthesized.template
    found = {}
    for queue in synthesized.of_type("AWS::SQS::Queue").values():
        p = queue["Properties"]
        redrive = p.get("RedrivePolicy")
        found[p["QueueName"]] = {
            "visibility": p.get("VisibilityTimeout", 30),
            "long_poll": p.get("ReceiveMessageWaitTimeSeconds", 0),
            "retention": p.get("MessageRetentionPeriod", 345600),
            "sse": p.get("SqsManagedSseEnabled", False),
            "dlq": _name(t, redrive["deadLetterTargetArn"]) if redrive else None,
            "max_receive_count": redrive["maxReceiveCount"] if redrive else None,
        }
    return found


def _queues_provisioned(clients: AwsClients, prefix: str) -> dict[str, dict[str, Any]]:
    found = {}
    pages = clients.sqs.get_paginator("list_queues").paginate(QueueNamePrefix=f"{prefix}-")
    for url in (u for page in pages for u in page.get("QueueUrls", [])):
        a = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(a["RedrivePolicy"]) if "RedrivePolicy" in a else None
        found[url.rsplit("/", 1)[-1]] = {
            "visibility": int(a["VisibilityTimeout"]),
            "long_poll": int(a["ReceiveMessageWaitTimeSeconds"]),
            "retention": int(a["MessageRetentionPeriod"]),
            "sse": a.get("SqsManagedSseEnabled") == "true",
            "dlq": redrive["deadLetterTargetArn"].rsplit(":", 1)[-1] if redrive else None,
            "max_receive_count": int(redrive["maxReceiveCount"]) if redrive else None,
        }
    return found


def test_queues_agree(synthesized: Any, provisioned: AwsClients) -> None:
    deployed = _queues_deployed(synthesized)
    assert deployed and deployed == _queues_provisioned(provisioned, synthesized.topology.prefix)


def test_topics_and_subscriptions_agree(synthesized: Any, provisioned: AwsClients) -> None:
    t, prefix = synthesized.template, synthesized.topology.prefix
    operations = f"{prefix}-operations"  # the alarms' topic: monitoring exists only on AWS
    deployed_topics = {v["Properties"]["TopicName"] for v in synthesized.of_type("AWS::SNS::Topic").values()} - {
        operations
    }
    sns = provisioned.sns
    arns = [  # every topic of this prefix, across pages (the session's other tests made many)
        topic["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for topic in page["Topics"]
        if topic["TopicArn"].rsplit(":", 1)[-1].startswith(f"{prefix}-")
    ]
    assert deployed_topics == {arn.rsplit(":", 1)[-1] for arn in arns}

    deployed = set()
    for sub in synthesized.of_type("AWS::SNS::Subscription").values():
        p = sub["Properties"]
        if p["Protocol"] == "sqs":
            deployed.add(
                (
                    _name(t, p["TopicArn"]),
                    _name(t, p["Endpoint"]),
                    json.dumps(p["FilterPolicy"], sort_keys=True),
                    p["RawMessageDelivery"],
                )
            )
    provisioned_subs = set()
    for arn in arns:
        subscriptions = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
        for sub in (s for page in subscriptions for s in page["Subscriptions"]):
            a = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
            provisioned_subs.add(
                (
                    arn.rsplit(":", 1)[-1],
                    sub["Endpoint"].rsplit(":", 1)[-1],
                    json.dumps(json.loads(a["FilterPolicy"]), sort_keys=True),
                    a["RawMessageDelivery"] == "true",
                )
            )
    assert deployed and deployed == provisioned_subs


def test_tables_and_indexes_agree(synthesized: Any, provisioned: AwsClients) -> None:
    deployed = {}
    for table in synthesized.of_type("AWS::DynamoDB::Table").values():
        p = table["Properties"]
        deployed[p["TableName"]] = {
            "keys": [(k["AttributeName"], k["KeyType"]) for k in p["KeySchema"]],
            "indexes": sorted(
                (
                    i["IndexName"],
                    tuple((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]),
                    i["Projection"]["ProjectionType"],
                )
                for i in p.get("GlobalSecondaryIndexes", [])
            ),
            "ttl": p["TimeToLiveSpecification"]["AttributeName"],
            "on_demand": p["BillingMode"] == "PAY_PER_REQUEST",
        }
    ddb = provisioned.dynamodb
    found = {}
    for name in deployed:
        d = ddb.describe_table(TableName=name)["Table"]
        found[name] = {
            "keys": [(k["AttributeName"], k["KeyType"]) for k in d["KeySchema"]],
            "indexes": sorted(
                (
                    i["IndexName"],
                    tuple((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]),
                    i["Projection"]["ProjectionType"],
                )
                for i in d.get("GlobalSecondaryIndexes", [])
            ),
            "ttl": ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["AttributeName"],
            "on_demand": d["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST",
        }
    assert len(deployed) == len(synthesized.topology.tables) and deployed == found


def test_the_bucket_agrees(synthesized: Any, provisioned: AwsClients) -> None:
    (bucket,) = [
        b["Properties"] for b in synthesized.of_type("AWS::S3::Bucket").values() if "BucketName" in b["Properties"]
    ]
    assert provisioned.s3.get_bucket_versioning(Bucket=bucket["BucketName"])["Status"] == "Enabled"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
