"""What /api/deployments accepts and returns (camelCase on the wire), and the refusal of credentials."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from snapinfra_api.codegen.schemas import PROJECT_ID_PATTERN
from snapinfra_api.deployments.model import Deployment, DeploymentStatus, Step
from snapinfra_shared.catalog import Environment

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"
ROLE_ARN_PATTERN = r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

ParameterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,255}$")]
ParameterValue = Annotated[str, StringConstraints(max_length=4096)]

# Names and values that are credentials: the deployer takes a role to assume, never keys.
_CREDENTIAL_NAMES = ("accesskey", "secretkey", "secretaccess", "sessiontoken", "securitytoken", "awssecret")
_ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
_SESSION_TOKEN_PREFIXES = ("IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz")


def _looks_like_secret_key(value: str) -> bool:
    return (
        re.fullmatch(r"[A-Za-z0-9/+]{40}", value) is not None
        and any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


def _looks_like_credential(value: str) -> bool:
    return bool(
        _ACCESS_KEY_ID.search(value) or _looks_like_secret_key(value) or value.startswith(_SESSION_TOKEN_PREFIXES)
    )


def credential_fields(document: Any, path: str = "") -> list[str]:
    """The paths in a request body whose name or value is an AWS credential."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            if any(name in re.sub(r"[^a-z]", "", str(key).lower()) for name in _CREDENTIAL_NAMES):
                found.append(where)
            else:
                found += credential_fields(value, where)
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found += credential_fields(value, f"{path}.{i}")
    elif isinstance(document, str) and _looks_like_credential(document):
        found.append(path or "body")
    return found


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=AliasGenerator(validation_alias=to_camel))


class CreateDeployment(_In):
    model_config = ConfigDict(strict=True)  # a body: JSON types as declared (query strings are all strings)

    code_gen_id: str = Field(pattern=UUID_PATTERN, description="a completed code generation: infra or full-stack")
    environment: Environment
    parameters: dict[ParameterName, ParameterValue] = Field(
        default_factory=dict, max_length=60, description="CloudFormation parameters (never credentials)"
    )
    region: str | None = Field(default=None, pattern=REGION_PATTERN, description="default: the deployer's region")
    role_arn: str | None = Field(
        default=None, pattern=ROLE_ARN_PATTERN, description="a role in the target account, assumed with an external id"
    )


class DeploymentListQuery(_In):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)
    project_id: str | None = Field(default=None, pattern=PROJECT_ID_PATTERN)
    status: DeploymentStatus | None = None
    environment: Environment | None = None


class DeploymentEventsQuery(_In):
    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class DeploymentOut(_Out):
    id: str
    code_gen_id: str
    project_id: str
    environment: Environment
    status: DeploymentStatus
    stack_name: str
    region: str | None = Field(description="null while queued when no region was asked; then the one used")
    outputs: dict[str, str]
    error: str | None
    created_at: datetime
    updated_at: datetime
    deployed_at: datetime | None = None
    destroyed_at: datetime | None = None

    @classmethod
    def of(cls, d: Deployment) -> DeploymentOut:
        return cls(
            id=d.id,
            code_gen_id=d.code_gen_id,
            project_id=d.project_id,
            environment=d.environment,
            status=d.status,
            stack_name=d.stack_name,
            region=d.region,
            outputs=d.outputs,
            error=d.error,
            created_at=d.created_at,
            updated_at=d.updated_at,
            deployed_at=d.deployed_at,
            destroyed_at=d.destroyed_at,
        )


class DeploymentPageOut(_Out):
    items: list[DeploymentOut]
    next_cursor: str | None


class DeploymentEventOut(_Out):
    at: datetime
    source: str
    message: str
    logical_id: str | None
    resource_type: str | None
    status: str | None
    reason: str | None

    @classmethod
    def of(cls, step: Step) -> DeploymentEventOut:
        return cls(
            at=step.at,
            source=step.source,
            message=step.message,
            logical_id=step.logical_id,
            resource_type=step.resource_type,
            status=step.status,
            reason=step.reason,
        )


class DeploymentEventPageOut(_Out):
    items: list[DeploymentEventOut]
    next_cursor: str | None
