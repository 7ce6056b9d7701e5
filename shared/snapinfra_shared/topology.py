"""The one declaration of every AWS resource the system runs on.

Read by the local provisioner (`snapinfra_shared.provision`) and by the CDK app (`infra/`), so what
runs on a laptop is what runs on AWS. Subscriptions are derived from the event catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from snapinfra_shared.catalog import consumed_by, producers
from snapinfra_shared.events import SERVICES, Service
from snapinfra_shared.grants import (
    AssumesTargetRoles,
    Grant,
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


@dataclass(frozen=True)
class SubscriptionSpec:
    """A consumer's queue subscribed to a producer's topic, raw delivery, filtered on event type."""

    producer: Service
    event_types: tuple[str, ...]

    @property
    def filter_policy(self) -> dict[str, list[str]]:
        return {"type": list(self.event_types)}

    @property
    def filter_policy_json(self) -> str:
        return json.dumps(self.filter_policy, sort_keys=True)


@dataclass(frozen=True)
class QueueSpec:
    service: Service
    name: str
    dlq_name: str
    visibility_timeout: int  # seconds; above the handler's limit, extended by the heartbeat
    max_receive_count: int
    subscriptions: tuple[SubscriptionSpec, ...]
    dlq_retention_seconds: int = 14 * 24 * 3600


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableSpec:
    """Every table has string keys `pk` and `sk`, a TTL attribute, and the indexes its queries need."""

    service: Service
    name: str
    indexes: tuple[IndexSpec, ...] = ()
    partition_key: str = "pk"
    sort_key: str = "sk"
    ttl_attribute: str = "expires_at"


@dataclass(frozen=True)
class Topology:
    prefix: str
    bucket: str
    topics: dict[Service, str]
    queues: dict[Service, QueueSpec]
    tables: dict[Service, TableSpec]
    prefixes: dict[Service, str] = field(default_factory=dict)
    # Queues a service keeps for its own scheduled work (no topic feeds them), e.g. the notifier's
    # delivery attempts, whose retries wait in the queue as visibility timeouts of up to 12 h.
    work_queues: dict[Service, QueueSpec] = field(default_factory=dict)
    # What each service's tasks may do: what it owns above, then its GRANTS (the CDK app's task roles).
    grants: dict[Service, tuple[Grant, ...]] = field(default_factory=dict)


# Per consumer: how long one message may be held before the heartbeat must extend it.
VISIBILITY_TIMEOUT: dict[Service, int] = {"api": 30, "codegen": 120, "deployer": 300, "notifier": 60}
MAX_RECEIVE_COUNT = 5
S3_PREFIXES: dict[Service, str] = {
    "api": "uploads/",
    "codegen": "codegen/",
    "deployer": "deployments/",
    "notifier": "notifications/",
}
TABLE_INDEXES: dict[Service, tuple[IndexSpec, ...]] = {
    # api: jobs of one user and one project, newest first; events waiting in the outbox (sparse)
    "api": (
        IndexSpec("gsi1", "gsi1pk", "gsi1sk"),
        IndexSpec("outbox", "outbox_pk", "outbox_sk"),
        # deployments of one user by status and by environment, newest first
        IndexSpec("deployments_by_status", "dstatus_pk", "dstatus_sk"),
        IndexSpec("deployments_by_environment", "denv_pk", "denv_sk"),
    ),
    # notifier: the admin subscriptions, which receive system alerts (sparse)
    "notifier": (IndexSpec("gsi1", "gsi1pk", "gsi1sk"),),
}
# What a service may do beyond what it owns (its table, prefix, queues and topic, granted from the specs above).
GRANTS: dict[Service, tuple[Grant, ...]] = {
    # the codegen artifacts an event names; the admin routes operate every queue and DLQ
    "api": (ReadsArtifacts("codegen"), OperatesQueues()),
    "codegen": (InvokesModel(),),  # Bedrock, when a model is configured
    # deploys a codegen artifact's template (and copies its function's code package) into a target account,
    # with CloudFormation's own role
    "deployer": (
        ReadsArtifacts("codegen"),
        ReadsCodePackages("codegen"),
        ManagesDeploymentStacks(),
        AssumesTargetRoles(),
        PassesExecutionRole(),
    ),
    # signs download links of the codegen artifacts (a presigned URL carries its signer's rights); SMS; email
    "notifier": (ReadsArtifacts("codegen"), SendsSms(), SendsEmail()),
}
# Services that send to their own event queue: the deployer puts a delayed copy of an event back to look again.
SENDS_TO_OWN_QUEUE: tuple[Service, ...] = ("deployer",)
# A delivery is attempted once plus once per retry of its schedule; the queue allows more receives
# than that, so that only a worker dying again and again dead-letters it.
WORK_QUEUE_MAX_RECEIVE_COUNT = 25


def build_topology(prefix: str = "snapinfra", bucket: str | None = None) -> Topology:
    topics = {service: f"{prefix}-{service}-events" for service in producers()}
    queues: dict[Service, QueueSpec] = {}
    for service in SERVICES:
        wanted = consumed_by(service)
        if not wanted:
            continue
        queues[service] = QueueSpec(
            service=service,
            name=f"{prefix}-{service}",
            dlq_name=f"{prefix}-{service}-dlq",
            visibility_timeout=VISIBILITY_TIMEOUT[service],
            max_receive_count=MAX_RECEIVE_COUNT,
            subscriptions=tuple(SubscriptionSpec(p, tuple(types)) for p, types in wanted.items()),
        )
    tables = {
        service: TableSpec(service=service, name=f"{prefix}-{service}", indexes=TABLE_INDEXES.get(service, ()))
        for service in SERVICES
    }
    work_queues: dict[Service, QueueSpec] = {
        "notifier": QueueSpec(
            service="notifier",
            name=f"{prefix}-notifier-deliveries",
            dlq_name=f"{prefix}-notifier-deliveries-dlq",
            visibility_timeout=VISIBILITY_TIMEOUT["notifier"],
            max_receive_count=WORK_QUEUE_MAX_RECEIVE_COUNT,
            subscriptions=(),
        )
    }
    grants: dict[Service, tuple[Grant, ...]] = {}
    for service in SERVICES:
        owned: list[Grant] = [OwnTable(), OwnPrefix()]
        if service in queues:
            owned.append(OwnQueue(sends=service in SENDS_TO_OWN_QUEUE))
        if service in work_queues:
            owned.append(OwnWorkQueue())
        if service in topics:
            owned.append(OwnTopic())
        grants[service] = (*owned, *GRANTS.get(service, ()))
    return Topology(
        prefix=prefix,
        bucket=bucket or f"{prefix}-storage",
        topics=topics,
        queues=queues,
        tables=tables,
        prefixes=dict(S3_PREFIXES),
        work_queues=work_queues,
        grants=grants,
    )
