"""The whole system in one stack, composed from the units, every name from the shared topology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from snapinfra_infra.compute import FargateServiceUnit, Network
from snapinfra_infra.config import BACKLOG_PER_TASK, InfraConfig
from snapinfra_infra.data import Data
from snapinfra_infra.gateway import Identity, PublicApi
from snapinfra_infra.messaging import Messaging
from snapinfra_infra.monitoring import Monitoring
from snapinfra_infra.permissions import DeploymentExecutionRole, Shared, TaskRole
from snapinfra_infra.storage import Storage
from snapinfra_shared.events import SERVICES, Service
from snapinfra_shared.grants import EXTERNAL_ID_PREFIX
from snapinfra_shared.topology import build_topology

API_CPU_TARGET_PERCENT = 60
RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def _pascal(service: str) -> str:
    return service.capitalize()


class SnapinfraStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, repo_root: Path, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.topology = build_topology(config.prefix, config.bucket)
        retention = RETENTION[config.log_retention_days]

        self.messaging = Messaging(self, "Messaging", topology=self.topology)
        self.storage = Storage(self, "Storage", topology=self.topology, retain=config.retain_data)
        self.data = Data(self, "Data", topology=self.topology, retain=config.retain_data)
        shared = Shared(
            topology=self.topology, config=config, messaging=self.messaging, storage=self.storage, data=self.data
        )
        self.network = Network(
            self, "Network", prefix=config.prefix, nat_gateways=config.nat_gateways, log_retention=retention
        )
        self.identity = Identity(
            self, "Identity", prefix=config.prefix, issuer=config.jwt_issuer, audience=config.jwt_audience
        )
        self.deployment_role = DeploymentExecutionRole(
            self,
            "DeploymentExecution",
            prefix=config.prefix,
            bucket=self.storage.bucket,
            deployer_prefix=self.topology.prefixes["deployer"],
        )

        self.task_roles: dict[Service, TaskRole] = {}
        self.services: dict[Service, FargateServiceUnit] = {}
        for service in SERVICES:
            role = TaskRole(
                self,
                f"{_pascal(service)}Access",
                service=service,
                shared=shared,
                execution_role=self.deployment_role.role,  # passed only by a role whose grants say so
            )
            self.task_roles[service] = role
            self.services[service] = FargateServiceUnit(
                self,
                _pascal(service),
                service=service,
                network=self.network,
                repo_root=repo_root,
                task_role=role.role,
                environment=self._environment(service),
                log_retention=retention,
                adot_image=config.adot_image if config.tracing else None,
            )
        self._autoscaling()
        self.api = PublicApi(
            self,
            "PublicApi",
            prefix=config.prefix,
            network=self.network,
            api=self.services["api"],
            identity=self.identity,
            log_retention=retention,
        )
        # The notifier's links (confirmation, job pages) point at the api as users reach it: the HTTP API.
        self.services["notifier"].container.add_environment("SNAPINFRA_PUBLIC_BASE_URL", self.api.url)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            prefix=config.prefix,
            messaging=self.messaging,
            bucket=self.storage.bucket,
            http_api=self.api.http_api,
            services=list(self.services.values()),
            alarm_email=config.alarm_email,
        )
        self._outputs()

    def _environment(self, service: Service) -> dict[str, str]:
        """The settings of one service's container (names and switches only; credentials come from its role)."""
        env = {
            "SNAPINFRA_PREFIX": self.topology.prefix,
            "SNAPINFRA_BUCKET": self.topology.bucket,
            "SNAPINFRA_LOG_FORMAT": "json",
            "AWS_REGION": Aws.REGION,
        }
        if service == "api":
            env |= {
                "SNAPINFRA_AUTH_MODE": "jwt",
                "SNAPINFRA_JWT_ISSUER": self.identity.issuer,
                "SNAPINFRA_JWT_AUDIENCE": self.identity.audience[0],
                "SNAPINFRA_JWT_JWKS_URL": self.identity.jwks_url,
            }
        if service == "codegen" and self.config.bedrock_model_id:
            env |= {"SNAPINFRA_GENERATOR": "bedrock", "SNAPINFRA_BEDROCK_MODEL_ID": self.config.bedrock_model_id}
        if service == "deployer":
            env["SNAPINFRA_CLOUDFORMATION_ROLE_ARN"] = self.deployment_role.role.role_arn
            env["SNAPINFRA_EXTERNAL_ID_PREFIX"] = EXTERNAL_ID_PREFIX  # the one its role may assume with
        if service == "notifier" and self.config.email_sender:
            env["SNAPINFRA_EMAIL_SENDER"] = self.config.email_sender
        return env

    def _autoscaling(self) -> None:
        """Workers: keep the visible backlog per running task near its target. The api: CPU."""
        for service, unit in self.services.items():
            scaling = unit.service.auto_scale_task_count(min_capacity=1, max_capacity=self.config.max_tasks)
            if service == "api":
                scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=API_CPU_TARGET_PERCENT)
                continue
            # Its event queue and its work queue (the notifier's deliveries): both are its backlog.
            queues = [q for q in (self.messaging.queues.get(service), self.messaging.work_queues.get(service)) if q]
            if not queues:
                continue
            self._backlog_policy(
                service, scaling, queue_names=[q.queue_name for q in queues], service_name=unit.service.service_name
            )

    def _backlog_policy(
        self, service: Service, scaling: ecs.ScalableTaskCount, *, queue_names: list[str], service_name: str
    ) -> None:
        """Target tracking on metric math (visible messages of its queues / running tasks), AWS's recipe for
        queue workers; the L2 construct takes only a single metric, so this is the CloudFormation resource."""
        target = scaling.node.find_child("Target")
        assert isinstance(target, appscaling.ScalableTarget)
        query = appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty
        stat = appscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty
        metric = appscaling.CfnScalingPolicy.TargetTrackingMetricProperty
        dimension = appscaling.CfnScalingPolicy.TargetTrackingMetricDimensionProperty
        appscaling.CfnScalingPolicy(
            scaling,
            "BacklogPerTask",
            policy_name=f"{self.topology.prefix}-{service}-backlog-per-task",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.scalable_target_id,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=BACKLOG_PER_TASK[service],
                scale_in_cooldown=300,
                scale_out_cooldown=60,
                customized_metric_specification=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        *(
                            query(
                                id=f"visible{i}",
                                metric_stat=stat(
                                    metric=metric(
                                        namespace="AWS/SQS",
                                        metric_name="ApproximateNumberOfMessagesVisible",
                                        dimensions=[dimension(name="QueueName", value=queue_name)],
                                    ),
                                    stat="Sum",
                                ),
                                return_data=False,
                            )
                            for i, queue_name in enumerate(queue_names)
                        ),
                        query(
                            id="tasks",
                            metric_stat=stat(
                                metric=metric(
                                    namespace="ECS/ContainerInsights",
                                    metric_name="RunningTaskCount",
                                    dimensions=[
                                        dimension(name="ClusterName", value=self.network.cluster.cluster_name),
                                        dimension(name="ServiceName", value=service_name),
                                    ],
                                ),
                                stat="Average",
                            ),
                            return_data=False,
                        ),
                        query(
                            id="backlog_per_task",
                            expression="(" + " + ".join(f"visible{i}" for i in range(len(queue_names))) + ") / tasks",
                            label=f"{service} backlog per task",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )

    def _outputs(self) -> None:
        """What the guide lists (bucket, queue URLs, topic ARNs), and where the api answers."""
        CfnOutput(self, "S3BucketName", value=self.storage.bucket.bucket_name, description="the bucket")
        for service, queue in self.messaging.queues.items():
            CfnOutput(self, f"{_pascal(service)}QueueUrl", value=queue.queue_url, description=f"the {service} queue")
            CfnOutput(
                self,
                f"{_pascal(service)}DeadLetterQueueUrl",
                value=self.messaging.dlqs[service].queue_url,
                description=f"the {service} queue's DLQ",
            )
        for service, topic in self.messaging.topics.items():
            CfnOutput(self, f"{_pascal(service)}TopicArn", value=topic.topic_arn, description=f"{service}'s events")
        for service, queue in self.messaging.work_queues.items():
            CfnOutput(
                self, f"{_pascal(service)}WorkQueueUrl", value=queue.queue_url, description=f"the {service}'s own work"
            )
            CfnOutput(
                self,
                f"{_pascal(service)}WorkDeadLetterQueueUrl",
                value=self.messaging.work_dlqs[service].queue_url,
                description=f"the {service} work queue's DLQ",
            )
        CfnOutput(self, "OperationsTopicArn", value=self.monitoring.topic.topic_arn, description="alarms go here")
        CfnOutput(self, "ApiUrl", value=self.api.url, description="the public HTTP API")
        CfnOutput(self, "JwtIssuer", value=self.identity.issuer)
        if self.identity.user_pool is not None and self.identity.client is not None:
            CfnOutput(self, "UserPoolId", value=self.identity.user_pool.user_pool_id)
            CfnOutput(self, "UserPoolClientId", value=self.identity.client.user_pool_client_id)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
