"""What a service's tasks may do, as data: the kinds of grant a task role is made of.

Declared per service in the topology (`Topology.grants`); `infra/` turns each kind into IAM statements
(one builder per kind), so no constructor branches on a service's name. Declarations only: nothing here
knows about CDK or IAM syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapinfra_shared.catalog import Environment
from snapinfra_shared.events import Service

ENVIRONMENTS: tuple[Environment, ...] = ("dev", "staging", "prod")
# The deployer names a deployment's stack 'snapinfra-<environment>-<12 hex of its id>' whatever the resource
# prefix (snapinfra_api.deployments.use_cases.stack_name): a test holds the two together.
DEPLOYMENT_STACK_PREFIX = "snapinfra"
# The ExternalId of a cross-account AssumeRole is this followed by the user id (the deployer's
# SNAPINFRA_EXTERNAL_ID_PREFIX, which the stack sets to it); the deployer's role may assume only with it.
EXTERNAL_ID_PREFIX = "snapinfra:"
# A code generation's function code package is stored at '<codegen prefix><user>/<job>/attempt-<n>/function/...':
# codegen's artifact store writes it there, and the grants single it out by this folder.
CODE_PACKAGE_FOLDER = "function"


# What a service owns (derived from the topology, never declared by hand).


@dataclass(frozen=True)
class OwnTable:
    """Read and write its table and its indexes (no Scan: listings are queries)."""


@dataclass(frozen=True)
class OwnPrefix:
    """Read, write and delete objects under its S3 prefix; list only under it."""


@dataclass(frozen=True)
class OwnQueue:
    """Consume its event queue; send malformed messages to its DLQ."""

    sends: bool = False  # it also sends to it (e.g. a delayed copy of an event, to look again)


@dataclass(frozen=True)
class OwnWorkQueue:
    """Send its own scheduled work to its work queue and consume it; its DLQ for malformed messages."""


@dataclass(frozen=True)
class OwnTopic:
    """Publish to its topic (and use the topics' key, only through SNS)."""


# What a service may do beyond what it owns (declared per service in the topology).


@dataclass(frozen=True)
class ReadsArtifacts:
    """GetObject under another service's prefix, by the key an event gave it (never lists, never writes); never
    its function code packages (an explicit Deny: see `ReadsCodePackages`)."""

    producer: Service


@dataclass(frozen=True)
class ReadsCodePackages:
    """GetObject of another service's function code packages (`<its prefix>*/function/*`), by the key an event
    gave it. Only the deployer holds it; `ReadsArtifacts` leaves them out for everyone else."""

    producer: Service


@dataclass(frozen=True)
class OperatesQueues:
    """The admin routes: depths of every queue and DLQ, dead letters listed (received then released) and
    redriven to their source queue."""


@dataclass(frozen=True)
class InvokesModel:
    """Invoke the configured Bedrock foundation model (when one is configured)."""


@dataclass(frozen=True)
class ManagesDeploymentStacks:
    """Create, describe and delete the deployments' stacks '<stack_prefix>-<environment>-*'; read a
    template's summary before any stack exists."""

    stack_prefix: str = DEPLOYMENT_STACK_PREFIX
    environments: tuple[Environment, ...] = ENVIRONMENTS

    @property
    def stack_names(self) -> tuple[str, ...]:
        return tuple(f"{self.stack_prefix}-{environment}-*" for environment in self.environments)


@dataclass(frozen=True)
class AssumesTargetRoles:
    """sts:AssumeRole of the target accounts' roles (the configured name pattern), only with an external id
    that starts with this prefix."""

    external_id_prefix: str = EXTERNAL_ID_PREFIX


@dataclass(frozen=True)
class PassesExecutionRole:
    """iam:PassRole of the deployments' CloudFormation execution role, only to CloudFormation."""


@dataclass(frozen=True)
class SendsSms:
    """SNS Publish to phone numbers (no resource to scope to), with every other topic of the system denied."""


@dataclass(frozen=True)
class SendsEmail:
    """SES SendEmail from the configured sender's identity, only with that From address (when configured)."""


Grant = (
    OwnTable
    | OwnPrefix
    | OwnQueue
    | OwnWorkQueue
    | OwnTopic
    | ReadsArtifacts
    | ReadsCodePackages
    | OperatesQueues
    | InvokesModel
    | ManagesDeploymentStacks
    | AssumesTargetRoles
    | PassesExecutionRole
    | SendsSms
    | SendsEmail
)
