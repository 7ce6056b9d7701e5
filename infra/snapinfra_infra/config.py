"""What an operator may choose at deploy time (CDK context, `-c key=value` or cdk.json), validated once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Node

from snapinfra_shared.events import Service

# How many visible messages one task may have waiting before another task is started: roughly
# (the latency we accept) / (the time one message takes). Deployments take minutes each.
BACKLOG_PER_TASK: dict[Service, int] = {"api": 100, "codegen": 20, "deployer": 2, "notifier": 50}
# Fargate size per service (CPU units, MiB): codegen zips projects, the others mostly wait on I/O.
TASK_SIZE: dict[Service, tuple[int, int]] = {
    "api": (512, 1024),
    "codegen": (512, 1024),
    "deployer": (256, 512),
    "notifier": (256, 512),
}


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


@dataclass(frozen=True, kw_only=True)
class InfraConfig:
    """Deploy-time choices; every field has a default that deploys a working system."""

    prefix: str = "snapinfra"
    bucket: str | None = None  # default: the topology's '<prefix>-storage' (bucket names are global: pick one)
    alarm_email: str | None = None  # subscribed to the operations topic when given
    jwt_issuer: str | None = None  # with jwt_audience: an external identity provider instead of a Cognito pool
    jwt_audience: tuple[str, ...] = ()
    email_sender: str | None = None  # the notifier's From address, verified in SES
    ses_identity: str | None = None  # the SES identity that covers it; default: the sender's domain
    deploy_target_role_name: str = "snapinfra-deploy-*"  # roles the deployer may assume in target accounts
    bedrock_model_id: str | None = None  # codegen uses Bedrock with this model when set
    nat_gateways: int = 1
    max_tasks: int = 4
    log_retention_days: int = 30
    retain_data: bool = True  # keep the bucket and tables when the stack is deleted
    tracing: bool = False  # an ADOT collector beside each service sends its OpenTelemetry traces to AWS X-Ray
    adot_image: str = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"  # the collector's image

    def __post_init__(self) -> None:
        if bool(self.jwt_issuer) != bool(self.jwt_audience):
            raise ValueError("jwtIssuer and jwtAudience go together (or neither, for a Cognito user pool)")
        if self.ses_identity and not self.email_sender:
            raise ValueError("sesIdentity needs emailSender")
        if self.log_retention_days not in (7, 14, 30, 90, 180, 365):
            raise ValueError("logRetentionDays is one of 7, 14, 30, 90, 180, 365")
        if self.max_tasks < 1 or self.nat_gateways < 1:
            # natGateways 0 would leave the tasks no route to AWS's APIs or to webhooks
            raise ValueError("maxTasks and natGateways must be at least 1")

    @property
    def sender_identity(self) -> str | None:
        if not self.email_sender:
            return None
        return self.ses_identity or self.email_sender.rsplit("@", 1)[-1]

    @classmethod
    def from_context(cls, node: Node) -> InfraConfig:
        def get(key: str) -> Any:
            value = node.try_get_context(key)
            return None if value in (None, "") else value

        options: dict[str, Any] = {}
        for key, field in (
            ("prefix", "prefix"),
            ("bucket", "bucket"),
            ("alarmEmail", "alarm_email"),
            ("jwtIssuer", "jwt_issuer"),
            ("emailSender", "email_sender"),
            ("sesIdentity", "ses_identity"),
            ("deployTargetRoleName", "deploy_target_role_name"),
            ("bedrockModelId", "bedrock_model_id"),
            ("adotImage", "adot_image"),
        ):
            if get(key) is not None:
                options[field] = str(get(key))
        for key, field in (
            ("natGateways", "nat_gateways"),
            ("maxTasks", "max_tasks"),
            ("logRetentionDays", "log_retention_days"),
        ):
            if get(key) is not None:
                options[field] = int(get(key))
        if get("jwtAudience") is not None:
            options["jwt_audience"] = _as_list(get("jwtAudience"))
        if get("retainData") is not None:
            options["retain_data"] = _as_bool(get("retainData"))
        if get("tracing") is not None:
            options["tracing"] = _as_bool(get("tracing"))
        return cls(**options)
