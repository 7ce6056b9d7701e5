"""Every event of the system: its producer, its consumers and the schema of its data.

The topology (which queue subscribes to which topic, with which filter) is derived from this
catalog, and docs/events.md is generated from it (`make docs`; a test fails when it is stale).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from snapinfra_shared.events import Envelope, Service
from snapinfra_shared.spec import ProjectSpec, ProjectType


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- code generation -------------------------------------------------------------------------


class CodeGenerationRequested(EventData):
    job_id: str
    project_id: str
    project_type: ProjectType
    prompt: str
    spec: ProjectSpec
    spec_source: Literal["given", "inferred"]


class CodeGenerationStarted(EventData):
    job_id: str
    project_id: str
    generator: str
    attempt: int = Field(ge=1)


class CodePackage(EventData):
    """A Lambda function's code package (a ZIP of the app and its vendored dependencies), a second output of
    a code generation. Only the deployer may read it (`grants.ReadsCodePackages`)."""

    key: str = Field(description="its key in the artifact's bucket, under codegen's prefix")
    size_bytes: int = Field(ge=0)
    sha256: str
    runtime: str = Field(description="the Lambda runtime it was built for, e.g. python3.11")
    architecture: Literal["x86_64", "arm64"] = Field(description="the Lambda architecture it was built for")
    handler: str = Field(description="the handler, e.g. app.lambda_handler.handler")


class Artifact(EventData):
    """A published output: any service may read it by this key, only its producer writes it.

    Where the CloudFormation template is inside the ZIP and which code package goes with it are said here by
    codegen, the one service that knows; the api and the deployer read them from here."""

    bucket: str
    key: str
    manifest_key: str
    size_bytes: int = Field(ge=0)
    file_count: int = Field(ge=1)
    sha256: str
    diagram_key: str | None = Field(
        default=None, description="the architecture diagram (SVG) beside the ZIP; absent before diagrams existed"
    )
    template_path: str | None = Field(
        default=None, description="the CloudFormation template's path inside the ZIP; None: nothing to deploy"
    )
    code_package: CodePackage | None = Field(
        default=None, description="the function's code package the template deploys (full-stack projects)"
    )


class CodeGenerationCompleted(EventData):
    job_id: str
    project_id: str
    project_type: ProjectType
    generator: str
    artifact: Artifact
    completed_at: AwareDatetime


class CodeGenerationFailed(EventData):
    job_id: str
    project_id: str
    reason: str
    attempts: int = Field(ge=1)


class CodeGenerationDeleted(EventData):
    job_id: str
    project_id: str


# --- deployments ---------------------------------------------------------------------------------

Environment = Literal["dev", "staging", "prod"]


class DeploymentRequested(EventData):
    deployment_id: str
    code_gen_id: str
    project_id: str
    environment: Environment
    stack_name: str
    artifact: Artifact = Field(description="the code generation's ZIP, a published output of codegen")
    template_path: str = Field(
        description="the CloudFormation template's path inside the ZIP (`artifact.template_path`)"
    )
    parameters: dict[str, str] = Field(default_factory=dict)
    region: str | None = None
    role_arn: str | None = None


class DeploymentStarted(EventData):
    deployment_id: str
    stack_name: str
    region: str
    attempt: int = Field(ge=1)


class DeploymentStep(EventData):
    """One line of a deployment's step log: what CloudFormation reported, or what the deployer did."""

    at: AwareDatetime
    source: Literal["cloudformation", "deployer"]
    message: str
    logical_id: str | None = None
    resource_type: str | None = None
    status: str | None = None
    reason: str | None = None


class DeploymentProgressed(EventData):
    deployment_id: str
    stack_name: str
    steps: list[DeploymentStep] = Field(min_length=1, max_length=100)


class DeploymentCompleted(EventData):
    deployment_id: str
    stack_name: str
    stack_id: str
    region: str
    outputs: dict[str, str] = Field(default_factory=dict)
    completed_at: AwareDatetime


class DeploymentFailed(EventData):
    deployment_id: str
    stack_name: str
    reason: str = Field(description="CloudFormation's status reason, or the deployer's")
    stack_status: str | None = Field(default=None, description="the stack's last status, e.g. ROLLBACK_COMPLETE")


class DeploymentDestroyRequested(EventData):
    deployment_id: str
    stack_name: str
    attempt: int = Field(default=1, ge=1, description="1 for the first destroy, n+1 for a retry after a failed one")


class DeploymentDestroyed(EventData):
    deployment_id: str
    stack_name: str
    destroyed_at: AwareDatetime
    attempt: int = Field(default=1, ge=1, description="the destroy request this answers")


class DeploymentDestroyFailed(EventData):
    deployment_id: str
    stack_name: str
    reason: str
    stack_status: str | None = None
    attempt: int = Field(default=1, ge=1, description="the destroy request this answers")


# --- notifications -------------------------------------------------------------------------------

Channel = Literal["email", "sms", "webhook"]
DeliveryOutcome = Literal["succeeded", "failed", "retrying", "refused"]


class SubscriptionFilters(EventData):
    event_types: list[str] = Field(default_factory=list, description="event kinds or globs; empty means all")
    statuses: list[str] = Field(default_factory=list, description="the kind's last part (completed, ...); empty: all")
    project_id: str | None = None


class SubscriptionRequested(EventData):
    """A user subscribed. Carries the secrets the notifier needs once: an email subscription's
    confirmation token (for the link it mails), an SMS subscription's confirmation code (which it
    texts), a webhook's signing secret (which it keeps)."""

    subscription_id: str
    channel: Channel
    target: str = Field(description="the email address, the E.164 phone number or the webhook URL")
    filters: SubscriptionFilters
    admin: bool = Field(default=False, description="also receives system alerts (admins only)")
    confirmation_token: str | None = Field(default=None, description="email only; the api keeps only its hash")
    confirmation_code: str | None = Field(default=None, description="SMS only; the api keeps only its HMAC")
    confirmation_expires_at: AwareDatetime | None = Field(
        default=None, description="when the confirmation token or code stops working"
    )
    signing_secret: str | None = Field(default=None, description="webhook only; kept by the notifier alone")
    requested_at: AwareDatetime


class SubscriptionCodeReissued(EventData):
    """A pending SMS subscription asked for a new confirmation code; the previous one is void."""

    subscription_id: str
    confirmation_code: str = Field(description="the new code, to be texted once; the api keeps only its HMAC")
    confirmation_expires_at: AwareDatetime
    issued_at: AwareDatetime = Field(description="orders the codes of one subscription: only the newest is sent")


class SubscriptionConfirmed(EventData):
    """The api checked a confirmation: an email's link was followed, or an SMS code was entered."""

    subscription_id: str
    confirmed_at: AwareDatetime


class SubscriptionCancelled(EventData):
    subscription_id: str


class SubscriptionActivated(EventData):
    subscription_id: str
    activated_at: AwareDatetime


class SubscriptionDisabled(EventData):
    subscription_id: str
    reason: str
    disabled_at: AwareDatetime


class NotificationAttempted(EventData):
    """One attempt to deliver one event to one subscription."""

    delivery_id: str = Field(description="unique per attempt (the notification id and the attempt number)")
    notification_id: str = Field(description="the same for every attempt of one event to one subscription")
    subscription_id: str
    event_id: str
    event_type: str = Field(description="the event kind, e.g. codegen.completed")
    channel: Channel
    attempt: int = Field(ge=1)
    outcome: DeliveryOutcome
    http_status: int | None = None
    latency_ms: int | None = Field(default=None, ge=0)
    error: str | None = None
    at: AwareDatetime


class MessageDeadLettered(EventData):
    """A consumer gave up on a message and moved it to its DLQ (a system alert for admins)."""

    queue: str
    message_id: str
    event_type: str | None = None
    event_id: str | None = None
    user_id: str | None = None
    error: str


# The kinds users filter notifications on (`eventTypes`, with globs such as `deployment.*`), by event type.
NOTIFICATION_KINDS: dict[str, str] = {
    "CodeGenerationRequested": "codegen.queued",
    "CodeGenerationStarted": "codegen.started",
    "CodeGenerationCompleted": "codegen.completed",
    "CodeGenerationFailed": "codegen.failed",
    "DeploymentRequested": "deployment.queued",
    "DeploymentStarted": "deployment.started",
    "DeploymentCompleted": "deployment.completed",
    "DeploymentFailed": "deployment.failed",
    "DeploymentDestroyRequested": "deployment.destroying",
    "DeploymentDestroyed": "deployment.destroyed",
    "DeploymentDestroyFailed": "deployment.destroy_failed",
}
NOTIFICATION_STATUSES: tuple[str, ...] = tuple(sorted({k.split(".", 1)[1] for k in NOTIFICATION_KINDS.values()}))


def dead_letter_event_type(service: Service) -> str:
    """Each service announces its own dead-lettered messages on its own topic."""
    return f"{service.capitalize()}MessageDeadLettered"


@dataclass(frozen=True)
class EventSpec:
    type: str
    producer: Service
    consumers: frozenset[Service]
    data: builtins.type[EventData]
    description: str
    version: int = 1


def _spec(data: type[EventData], producer: Service, consumers: set[Service], description: str) -> EventSpec:
    return EventSpec(data.__name__, producer, frozenset(consumers), data, description)


CATALOG: dict[str, EventSpec] = {
    spec.type: spec
    for spec in (
        _spec(CodeGenerationRequested, "api", {"codegen", "notifier"}, "A user asked for a project (202 answered)."),
        _spec(CodeGenerationStarted, "codegen", {"api", "notifier"}, "The codegen service began generating."),
        _spec(
            CodeGenerationCompleted,
            "codegen",
            {"api", "notifier"},
            "The ZIP, its manifest and its architecture diagram (`artifact.diagram_key`) are stored.",
        ),
        _spec(CodeGenerationFailed, "codegen", {"api", "notifier"}, "Generation gave up; `reason` says why."),
        _spec(CodeGenerationDeleted, "api", {"codegen"}, "A user deleted a job; its artifact must go."),
        _spec(DeploymentRequested, "api", {"deployer", "notifier"}, "A user asked to deploy a code generation."),
        _spec(DeploymentStarted, "deployer", {"api", "notifier"}, "The deployer began creating the stack."),
        _spec(DeploymentProgressed, "deployer", {"api"}, "New lines of the step log (stack events, deployer steps)."),
        _spec(DeploymentCompleted, "deployer", {"api", "notifier"}, "The stack exists; `outputs` are its outputs."),
        _spec(DeploymentFailed, "deployer", {"api", "notifier"}, "The stack was not created; `reason` says why."),
        _spec(DeploymentDestroyRequested, "api", {"deployer", "notifier"}, "A user asked to destroy a deployment."),
        _spec(DeploymentDestroyed, "deployer", {"api", "notifier"}, "The stack is gone; the record stays as history."),
        _spec(DeploymentDestroyFailed, "deployer", {"api", "notifier"}, "The stack could not be deleted."),
        _spec(SubscriptionRequested, "api", {"notifier"}, "A user subscribed to notifications (email, SMS, webhook)."),
        _spec(SubscriptionCodeReissued, "api", {"notifier"}, "A new confirmation code for a pending SMS subscription."),
        _spec(SubscriptionConfirmed, "api", {"notifier"}, "An email's confirmation link was followed, or an SMS code."),
        _spec(SubscriptionCancelled, "api", {"notifier"}, "A user unsubscribed."),
        _spec(SubscriptionActivated, "notifier", {"api"}, "A subscription now receives notifications."),
        _spec(SubscriptionDisabled, "notifier", {"api"}, "A subscription failed every attempt for too long."),
        _spec(NotificationAttempted, "notifier", {"api"}, "One delivery attempt and its outcome."),
        *(
            EventSpec(
                dead_letter_event_type(service),
                service,
                frozenset({"notifier"}),
                MessageDeadLettered,
                f"The {service} service dead-lettered a message (an alert for admin subscriptions).",
            )
            for service in ("api", "codegen", "deployer", "notifier")
        ),
    )
}


class UnknownEvent(ValueError):
    pass


def parse_data(event: Envelope) -> Any:
    """The event's data as its catalog model; raises UnknownEvent or pydantic.ValidationError."""
    spec = CATALOG.get(event.type)
    if spec is None:
        raise UnknownEvent(f"unknown event type {event.type!r}")
    if event.version != spec.version:
        raise UnknownEvent(f"{event.type} version {event.version} is not understood (expected {spec.version})")
    if event.source != spec.producer:
        raise UnknownEvent(f"{event.type} must come from {spec.producer}, not {event.source}")
    return spec.data.model_validate(event.data)


def consumed_by(service: Service) -> dict[Service, list[str]]:
    """For one consuming service: the event types it takes, grouped by producer."""
    by_producer: dict[Service, list[str]] = {}
    for spec in CATALOG.values():
        if service in spec.consumers:
            by_producer.setdefault(spec.producer, []).append(spec.type)
    return {producer: sorted(types) for producer, types in sorted(by_producer.items())}


def producers() -> list[Service]:
    return sorted({spec.producer for spec in CATALOG.values()})


def markdown_table() -> str:
    """The catalog as the Markdown that docs/events.md holds."""
    lines = [
        "# Events",
        "",
        "Generated from `shared/snapinfra_shared/catalog.py` by `make docs`; do not edit by hand.",
        "",
        "| event | producer | consumers | data fields | meaning |",
        "|---|---|---|---|---|",
    ]
    for spec in CATALOG.values():
        schema = spec.data.model_json_schema()
        required = set(schema.get("required", []))
        fields = ", ".join(f"`{name}`" + ("" if name in required else "?") for name in schema.get("properties", {}))
        consumers = ", ".join(sorted(spec.consumers))
        lines.append(
            f"| `{spec.type}` v{spec.version} | {spec.producer} | {consumers} | {fields} | {spec.description} |"
        )
    return "\n".join(lines) + "\n"
