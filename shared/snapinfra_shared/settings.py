"""The settings every service shares. Each service subclasses this with its own fields; all are read
from the environment (prefix SNAPINFRA_) and validated when the service starts.

Where AWS is comes from the standard variables boto3 reads itself (AWS_ENDPOINT_URL, AWS_REGION or
AWS_DEFAULT_REGION, credentials), so application code never knows which AWS it talks to.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from snapinfra_shared.topology import Topology, build_topology


def comma_separated(value: object) -> object:
    """A list setting from `a,b,c` or from a JSON list, so that an environment variable reads naturally."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SNAPINFRA_", extra="ignore", frozen=True)

    prefix: str = Field(default="snapinfra", pattern=r"^[a-z][a-z0-9-]{1,40}$", description="resource name prefix")
    bucket: str | None = Field(default=None, description="the bucket; default '<prefix>-storage'")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the lowest level logged"
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one object per line (containers); text: key=value fields (make dev)"
    )
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus metrics port; 0 disables")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="how S3 URLs name the bucket (path for emulators that need it)"
    )
    aws_max_attempts: int = Field(default=5, ge=1, le=20, description="botocore standard-mode retries")
    startup_timeout_seconds: float = Field(default=60.0, ge=0, description="wait this long for own resources")

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not (3 <= len(value) <= 63):
            raise ValueError("a bucket name has 3 to 63 characters")
        return value

    def topology(self) -> Topology:
        return build_topology(self.prefix, self.bucket)


class WorkerSettings(ServiceSettings):
    """How a service consumes its queue."""

    wait_time_seconds: int = Field(default=20, ge=0, le=20, description="SQS long polling")
    batch_size: int = Field(default=10, ge=1, le=10, description="messages asked for per receive")
    concurrency: int = Field(default=10, ge=1, le=64, description="messages of a batch handled at once")
    retry_base_seconds: float = Field(default=2.0, gt=0, description="first backoff after a failure")
    retry_max_seconds: float = Field(default=300.0, gt=0, le=43200, description="longest backoff after a failure")
    shutdown_grace_seconds: float = Field(default=25.0, ge=0, description="SIGTERM: finish in-flight work")
    visibility_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=43200,
        description="how long a received message stays invisible; default the queue's own (the fault suite "
        "shortens it so that a killed worker's message comes back quickly)",
    )
