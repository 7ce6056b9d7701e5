"""A DynamoDB table per service, keys and indexes from the shared topology."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from snapinfra_shared.events import Service
from snapinfra_shared.topology import Topology


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Data(Construct):
    """On-demand tables with point-in-time recovery, TTL on the topology's attribute, and its indexes."""

    def __init__(self, scope: Construct, construct_id: str, *, topology: Topology, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[Service, dynamodb.Table] = {}
        for service, spec in topology.tables.items():
            table = dynamodb.Table(
                self,
                f"{service}-table",
                table_name=spec.name,
                partition_key=_string(spec.partition_key),
                sort_key=_string(spec.sort_key),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                deletion_protection=retain,
                removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_string(index.partition_key),
                    sort_key=_string(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.tables[service] = table
