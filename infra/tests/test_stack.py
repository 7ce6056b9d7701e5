"""Every claim of the infrastructure issue, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from snapinfra_infra.cfn import logical_id, render
from snapinfra_infra.config import BACKLOG_PER_TASK
from snapinfra_shared.events import SERVICES

QUEUE = "AWS::SQS::Queue"


def test_each_consumer_has_an_encrypted_long_polling_queue_with_its_dlq(synthesized: Any, template: Any) -> None:
    t = synthesized.template
    assert synthesized.topology.queues and synthesized.topology.work_queues, "the topology declares queues"
    for spec in [*synthesized.topology.queues.values(), *synthesized.topology.work_queues.values()]:
        dlq = logical_id(t, "AWS::SQS::Queue", spec.dlq_name)
        template.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": spec.name,
                "VisibilityTimeout": spec.visibility_timeout,
                "ReceiveMessageWaitTimeSeconds": 20,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                    "maxReceiveCount": spec.max_receive_count,
                },
            },
        )
        template.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": spec.dlq_name,
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": spec.dlq_retention_seconds,
            },
        )


def test_visibility_timeout_is_above_the_handlers_limit(synthesized: Any) -> None:
    """The consumer's backoff starts at 2 s and its heartbeat extends a long handler: the queue's
    timeout must leave room above the api's HTTP-bound work (30 s) and codegen's generation."""
    queues = synthesized.topology.queues
    assert queues["codegen"].visibility_timeout >= 120
    assert all(spec.visibility_timeout >= 30 for spec in queues.values())


def test_subscriptions_are_raw_and_filtered_as_the_catalog_says(synthesized: Any) -> None:
    t = synthesized.template
    subscriptions = [
        r["Properties"]
        for r in synthesized.of_type("AWS::SNS::Subscription").values()
        if r["Properties"]["Protocol"] != "email"
    ]
    expected = {
        (spec.name, synthesized.topology.topics[sub.producer]): sub.filter_policy
        for spec in synthesized.topology.queues.values()
        for sub in spec.subscriptions
    }
    found = {}
    for sub in subscriptions:
        queue = render(sub["Endpoint"]).removeprefix("${").removesuffix(".Arn}")
        topic = render(sub["TopicArn"]).removeprefix("${").removesuffix("}")
        assert sub["Protocol"] == "sqs"
        assert sub["RawMessageDelivery"] is True
        found[(t["Resources"][queue]["Properties"]["QueueName"], t["Resources"][topic]["Properties"]["TopicName"])] = (
            sub["FilterPolicy"]
        )
    assert found == expected


def test_queue_policies_admit_only_their_own_topics(synthesized: Any) -> None:
    t = synthesized.template
    for spec in synthesized.topology.queues.values():
        queue = logical_id(t, "AWS::SQS::Queue", spec.name)
        policies = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in synthesized.of_type("AWS::SQS::QueuePolicy").values()
            if {"Ref": queue} in p["Properties"]["Queues"]
        ]
        assert len(policies) == 1
        allowed = set()
        for statement in policies[0]:
            if statement["Effect"] != "Allow":
                continue
            assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert render(statement["Resource"]) == "${" + queue + ".Arn}"
            allowed.add(render(statement["Condition"]["ArnEquals"]["aws:SourceArn"]))
        wanted = {
            "${" + logical_id(t, "AWS::SNS::Topic", synthesized.topology.topics[s.producer]) + "}"
            for s in spec.subscriptions
        }
        assert allowed == wanted
        denies = [s for s in policies[0] if s["Effect"] == "Deny"]
        assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for spec in synthesized.topology.work_queues.values():  # no topic feeds a work queue: TLS-only, no Allow
        queue = logical_id(t, "AWS::SQS::Queue", spec.name)
        (policy,) = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in synthesized.of_type("AWS::SQS::QueuePolicy").values()
            if {"Ref": queue} in p["Properties"]["Queues"]
        ]
        assert [s["Effect"] for s in policy] == ["Deny"]


def test_topics_are_encrypted_and_tls_only(synthesized: Any, template: Any) -> None:
    for name in [*synthesized.topology.topics.values(), f"{synthesized.topology.prefix}-operations"]:
        template.has_resource_properties("AWS::SNS::Topic", {"TopicName": name, "KmsMasterKeyId": Match.any_value()})
    assert len(synthesized.of_type("AWS::SNS::TopicPolicy")) == len(synthesized.topology.topics) + 1


def test_the_bucket_is_versioned_encrypted_private_tls_only_without_acls(synthesized: Any, template: Any) -> None:
    bucket_name = synthesized.topology.bucket
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": bucket_name,
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "storage/"}),
        },
    )
    bucket = logical_id(synthesized.template, "AWS::S3::Bucket", bucket_name)
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_lifecycle_codegen_tiers_at_30_expires_at_90_and_versions_and_uploads_are_cleaned(
    synthesized: Any, template: Any
) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": synthesized.topology.bucket,
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "codegen-tiering-then-expiry",
                        "Prefix": synthesized.topology.prefixes["codegen"],
                        "Status": "Enabled",
                        "Transitions": [{"StorageClass": "INTELLIGENT_TIERING", "TransitionInDays": 30}],
                        "ExpirationInDays": 90,
                    },
                    {
                        "Id": "noncurrent-versions-and-incomplete-uploads",
                        "Status": "Enabled",
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        "ExpiredObjectDeleteMarker": True,
                    },
                ]
            },
        },
    )


def test_a_table_per_service_on_demand_with_pitr_ttl_and_its_indexes(synthesized: Any, template: Any) -> None:
    for spec in synthesized.topology.tables.values():
        keys = {spec.partition_key, spec.sort_key} | {k for i in spec.indexes for k in (i.partition_key, i.sort_key)}
        expected: dict[str, Any] = {
            "TableName": spec.name,
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": spec.ttl_attribute, "Enabled": True},
            "KeySchema": [
                {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
            ],
        }
        if spec.indexes:
            expected["GlobalSecondaryIndexes"] = [
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
        template.has_resource_properties("AWS::DynamoDB::Table", expected)
        table = synthesized.resources[logical_id(synthesized.template, "AWS::DynamoDB::Table", spec.name)]
        attributes = {a["AttributeName"]: a["AttributeType"] for a in table["Properties"]["AttributeDefinitions"]}
        assert attributes == dict.fromkeys(keys, "S")
    assert {i.name for i in synthesized.topology.tables["api"].indexes} == {
        "gsi1",
        "outbox",
        "deployments_by_status",
        "deployments_by_environment",
    }


def test_a_fargate_service_per_service_from_its_own_dockerfile(synthesized: Any) -> None:
    assets = synthesized.directory / "Snapinfra.assets.json"
    images = json.loads(assets.read_text())["dockerImages"]
    dockerfiles = sorted(image["source"]["dockerFile"] for image in images.values())
    assert dockerfiles == sorted(f"services/{s}/Dockerfile" for s in SERVICES)
    services = synthesized.of_type("AWS::ECS::Service")
    assert len(services) == len(SERVICES)
    for service in services.values():
        props = service["Properties"]
        assert props["LaunchType"] == "FARGATE"
        assert props["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
        assert props["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    for task in synthesized.of_type("AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert container["HealthCheck"]["Command"][0] == "CMD"
        assert container["StopTimeout"] == 30
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        assert "TaskRoleArn" in task["Properties"]


def test_logs_are_kept_for_the_configured_retention(synthesized: Any) -> None:
    groups = synthesized.of_type("AWS::Logs::LogGroup")
    assert len(groups) >= len(SERVICES) + 2  # the services, the flow logs, the api's access logs
    assert {g["Properties"].get("RetentionInDays") for g in groups.values()} == {synthesized.config.log_retention_days}


def test_workers_scale_on_backlog_per_task(synthesized: Any) -> None:
    policies = [p["Properties"] for p in synthesized.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()]
    by_name = {p["PolicyName"]: p for p in policies if "backlog" in str(p.get("PolicyName"))}
    for service, spec in synthesized.topology.queues.items():
        if service == "api":
            continue
        policy = by_name[f"{synthesized.topology.prefix}-{service}-backlog-per-task"]
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        assert config["TargetValue"] == BACKLOG_PER_TASK[service]
        metrics = {m["Id"]: m for m in config["CustomizedMetricSpecification"]["Metrics"]}
        # its event queue, and its work queue when it has one (the notifier's deliveries)
        backlog = [spec.name] + ([synthesized.topology.work_queues[service].name] if service == "notifier" else [])
        terms = " + ".join(f"visible{i}" for i in range(len(backlog)))
        assert metrics["backlog_per_task"]["Expression"] == f"({terms}) / tasks"
        for i, name in enumerate(backlog):
            visible = metrics[f"visible{i}"]["MetricStat"]["Metric"]
            assert visible["MetricName"] == "ApproximateNumberOfMessagesVisible"
            (dimension,) = visible["Dimensions"]
            assert dimension["Name"] == "QueueName"
            assert render(dimension["Value"]) == "${" + logical_id(synthesized.template, QUEUE, name) + ".QueueName}"
        assert metrics["tasks"]["MetricStat"]["Metric"]["MetricName"] == "RunningTaskCount"
    for target in synthesized.of_type("AWS::ApplicationAutoScaling::ScalableTarget").values():
        assert target["Properties"]["MinCapacity"] == 1
        assert target["Properties"]["MaxCapacity"] == synthesized.config.max_tasks


def _alarms(synthesized: Any) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()]


def _alarm_on(synthesized: Any, metric: str, kind: str, name: str) -> dict[str, Any]:
    """The one alarm on `metric` whose dimension is the resource of this kind and name."""
    target = logical_id(synthesized.template, kind, name)
    matches = [
        a
        for a in _alarms(synthesized)
        if a.get("MetricName") == metric
        and any(render(d["Value"]).startswith("${" + target + ".") for d in a["Dimensions"])
    ]
    assert len(matches) == 1, (metric, name, matches)
    return matches[0]


def test_the_guides_alarms_and_more_all_to_the_operations_topic(synthesized: Any, template: Any) -> None:
    t, topology = synthesized.template, synthesized.topology
    operations = {"Ref": logical_id(t, "AWS::SNS::Topic", f"{topology.prefix}-operations")}
    queues = [*topology.queues.values(), *topology.work_queues.values()]
    for spec in queues:
        depth = _alarm_on(synthesized, "ApproximateNumberOfMessagesVisible", QUEUE, spec.name)
        assert (depth["Threshold"], depth["ComparisonOperator"]) == (100, "GreaterThanThreshold")
        age = _alarm_on(synthesized, "ApproximateAgeOfOldestMessage", QUEUE, spec.name)
        assert age["Threshold"] == 900
        dead = _alarm_on(synthesized, "ApproximateNumberOfMessagesVisible", QUEUE, spec.dlq_name)
        assert (dead["Threshold"], dead["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    for name in topology.topics.values():
        failed = _alarm_on(synthesized, "NumberOfNotificationsFailed", "AWS::SNS::Topic", name)
        assert (failed["Threshold"], failed["Statistic"]) == (10, "Sum")
    math = [a for a in _alarms(synthesized) if "Metrics" in a]
    size = [
        a
        for a in math
        if any(m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "BucketSizeBytes" for m in a["Metrics"])
    ]
    assert len(size) == 1 and size[0]["Threshold"] == 50 * 1024**3
    rate = [a for a in math if any("100 * errors / requests" in str(m.get("Expression")) for m in a["Metrics"])]
    assert len(rate) == 1 and rate[0]["Threshold"] == 5
    alarms = _alarms(synthesized)
    assert len(alarms) == 3 * len(queues) + len(topology.topics) + 2
    for alarm in alarms:
        assert alarm["AlarmActions"] == [operations]
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": operations}
    )
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_the_api_is_behind_an_http_api_with_a_jwt_authorizer_through_a_vpc_link(
    synthesized: Any, template: Any
) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": Match.any_value(), "Audience": [Match.any_value()]},
        },
    )
    routes = synthesized.of_type("AWS::ApiGatewayV2::Route")
    assert routes and all(r["Properties"]["AuthorizationType"] == "JWT" for r in routes.values())
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {"ConnectionType": "VPC_LINK", "IntegrationType": "HTTP_PROXY", "ConnectionId": Match.any_value()},
    )
    template.has_resource_properties(
        "AWS::ServiceDiscovery::Service", {"DnsConfig": Match.object_like({"DnsRecords": [{"Type": "SRV", "TTL": 60}]})}
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {"AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.any_value()}},
    )
    template.has_resource_properties("AWS::Cognito::UserPool", {"MfaConfiguration": "ON"})


def test_outputs_name_the_bucket_queue_urls_and_topic_arns(synthesized: Any) -> None:
    outputs = synthesized.template["Outputs"]
    assert "S3BucketName" in outputs
    for service in synthesized.topology.queues:
        assert f"{service.capitalize()}QueueUrl" in outputs
        assert f"{service.capitalize()}DeadLetterQueueUrl" in outputs
    for service in synthesized.topology.topics:
        assert f"{service.capitalize()}TopicArn" in outputs
    assert {"ApiUrl", "OperationsTopicArn", "UserPoolId", "UserPoolClientId"} <= set(outputs)
    assert (
        render(outputs["S3BucketName"]["Value"])
        == "${" + logical_id(synthesized.template, "AWS::S3::Bucket", synthesized.topology.bucket) + "}"
    )
