from __future__ import annotations

from pydantic import Field

from snapinfra_shared.settings import WorkerSettings

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


class DeployerSettings(WorkerSettings):
    default_region: str | None = Field(
        default=None, pattern=REGION_PATTERN, description="region of a deployment that names none; default: its own"
    )
    deploy_timeout_seconds: int = Field(
        default=3600, ge=1, le=86400, description="a stack not created within this fails the deployment"
    )
    destroy_timeout_seconds: int = Field(
        default=3600, ge=1, le=86400, description="a stack not deleted within this fails the destroy"
    )
    recheck_base_seconds: int = Field(
        default=5, ge=0, le=900, description="first wait before looking at a stack in progress again"
    )
    recheck_max_seconds: int = Field(default=60, ge=0, le=900, description="longest wait between two looks")
    external_id_prefix: str = Field(
        default="snapinfra:",
        pattern=r"^[\w+=,.@:/-]{1,64}$",
        description="ExternalId of a cross-account AssumeRole: this prefix followed by the user id",
    )
    role_session_seconds: int = Field(default=900, ge=900, le=43200, description="lifetime of assumed credentials")
    cloudformation_role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="service role CloudFormation uses for stacks in this account (RoleARN); not with an assumed role",
    )
