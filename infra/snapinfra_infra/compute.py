"""The VPC, the ECS cluster, and a Fargate service per service built from its own Dockerfile."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from snapinfra_infra.config import TASK_SIZE
from snapinfra_shared.events import Service

API_PORT = 5000
WORKER_METRICS_PORT = 9100  # the Dockerfiles' SNAPINFRA_METRICS_PORT; served on the task's loopback only
STOP_TIMEOUT_SECONDS = 30  # ECS's SIGTERM-to-SIGKILL window; the services' shutdown grace is 25 s
OTLP_HTTP_ENDPOINT = "http://127.0.0.1:4318"  # the collector beside the service (a task shares its loopback)
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)


def collector_config() -> str:
    """The ADOT collector's configuration (AOT_CONFIG_CONTENT; JSON is YAML): OTLP in on the task's loopback,
    batched, out to X-Ray; nothing else (no metrics pipeline: those reach CloudWatch through the logs)."""
    return json.dumps(
        {
            "receivers": {
                "otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:4317"}, "http": {"endpoint": "127.0.0.1:4318"}}}
            },
            "processors": {"batch/traces": {"timeout": "1s", "send_batch_size": 50}},
            # X-Ray annotations (searchable): the request id on the api's span and on every hop's.
            "exporters": {"awsxray": {"indexed_attributes": ["snapinfra.request_id", "snapinfra.correlation_id"]}},
            "service": {
                "pipelines": {
                    "traces": {"receivers": ["otlp"], "processors": ["batch/traces"], "exporters": ["awsxray"]}
                }
            },
        }
    )


def health_check_command(service: Service) -> list[str]:
    """The same probe as the Dockerfile's HEALTHCHECK (ECS does not read the image's)."""
    url = (
        f"http://127.0.0.1:{API_PORT}/healthz"
        if service == "api"
        else f"http://127.0.0.1:{WORKER_METRICS_PORT}/metrics"
    )
    return ["CMD", "python", "-c", f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"]


class Network(Construct):
    """A VPC over two zones (tasks in private subnets, NAT for AWS APIs and webhooks), its flow logs,
    the ECS cluster, and the private DNS namespace the api registers in for the VPC link."""

    def __init__(
        self, scope: Construct, construct_id: str, *, prefix: str, nat_gateways: int, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=nat_gateways,
            restrict_default_security_group=False,  # no custom-resource Lambda; nothing uses the default group
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private",
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                    cidr_mask=22,
                ),
            ],
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=prefix,
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=f"{prefix}.internal", vpc=self.vpc, description=f"{prefix}: service discovery"
        )


class FargateServiceUnit(Construct):
    """One service: its log group, task definition (image from its own Dockerfile, its task role) and
    Fargate service, in the private subnets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: Service,
        network: Network,
        repo_root: Path,
        task_role: iam.IRole,
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        desired_count: int = 1,
        adot_image: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        cpu, memory = TASK_SIZE[service]
        self.service_name = service
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory,
            task_role=task_role,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX, cpu_architecture=ecs.CpuArchitecture.X86_64
            ),
        )
        image = ecs.ContainerImage.from_asset(
            str(repo_root),
            file=f"services/{service}/Dockerfile",
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        self.container = self.task_definition.add_container(
            service,
            image=image,
            environment=environment,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=service, log_group=self.log_group),
            health_check=ecs.HealthCheck(
                command=health_check_command(service),
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(30),
            ),
            stop_timeout=Duration.seconds(STOP_TIMEOUT_SECONDS),
            port_mappings=[ecs.PortMapping(container_port=API_PORT)] if service == "api" else None,
        )
        self.collector: ecs.ContainerDefinition | None = None
        if adot_image:
            self._trace_to_xray(adot_image, task_role)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description=f"{service}: no inbound; outbound to AWS APIs (and webhooks)"
            if service != "api"
            else "api: inbound from the API Gateway VPC link only",
            allow_all_outbound=True,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=network.cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=ec2.SubnetSelection(subnet_group_name="private"),
            security_groups=[self.security_group],
            assign_public_ip=False,
            cloud_map_options=ecs.CloudMapOptions(
                name=service,
                cloud_map_namespace=network.namespace,
                dns_record_type=servicediscovery.DnsRecordType.SRV,
                container_port=API_PORT,
            )
            if service == "api"
            else None,
        )
        execution_role = self.task_definition.execution_role
        assert execution_role is not None, "an image asset needs an execution role to pull it"
        NagSuppressions.add_resource_suppressions(
            execution_role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="ecr:GetAuthorizationToken has no resource-level permissions (AWS requires '*'); the "
                    "image pull is scoped to the assets repository and logging to this service's log group.",
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.task_definition,
            [
                NagPackSuppression(
                    id="AwsSolutions-ECS2",
                    reason="The environment holds names and switches only (prefix, bucket, issuer); the services "
                    "hold no secrets: AWS credentials come from the task role.",
                )
            ],
        )

    def _trace_to_xray(self, image: str, task_role: iam.IRole) -> None:
        """The ADOT collector as a sidecar: the service exports its spans to it over OTLP (the standard variable
        turns tracing on), it sends them to X-Ray with the task role. Not essential: if it stops, the service
        goes on (its spans are dropped)."""
        self.collector = self.task_definition.add_container(
            "otel-collector",
            image=ecs.ContainerImage.from_registry(image),
            essential=False,
            memory_reservation_mib=64,
            environment={"AOT_CONFIG_CONTENT": collector_config()},
            logging=ecs.LogDrivers.aws_logs(stream_prefix="otel-collector", log_group=self.log_group),
        )
        self.container.add_container_dependencies(
            ecs.ContainerDependency(container=self.collector, condition=ecs.ContainerDependencyCondition.START)
        )
        self.container.add_environment("OTEL_EXPORTER_OTLP_ENDPOINT", OTLP_HTTP_ENDPOINT)
        policy = iam.Policy(
            self,
            "TracesToXRay",
            statements=[iam.PolicyStatement(actions=list(XRAY_ACTIONS), resources=["*"])],
            roles=[task_role],
        )
        NagSuppressions.add_resource_suppressions(
            policy,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="X-Ray's PutTraceSegments, PutTelemetryRecords and sampling calls have no resource-level "
                    "permissions (AWS requires '*'); this policy exists only with the tracing context flag.",
                    applies_to=["Resource::*"],
                )
            ],
        )
