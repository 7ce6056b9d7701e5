"""The envelope every event travels in, whatever its type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Service = Literal["api", "codegen", "deployer", "notifier"]
SERVICES: tuple[Service, ...] = ("api", "codegen", "deployer", "notifier")

# Ids of events named by a key (an outcome and what it is about): uuid5 of the key in this namespace.
EVENT_NAMESPACE = uuid.UUID("4f7d7c2e-3b1a-4f0e-9a57-1d2f5e8c6b90")


class Envelope(BaseModel):
    """One event. `id` is the idempotency key; `type`, `source` and `user_id` also travel as SNS
    message attributes so that subscriptions can filter on them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: str = Field(min_length=1, max_length=128)
    version: int = Field(default=1, ge=1)
    occurred_at: AwareDatetime
    source: Service
    correlation_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    data: dict[str, Any]

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS/SQS message attributes carried beside the body."""
        return {
            "type": {"DataType": "String", "StringValue": self.type},
            "source": {"DataType": "String", "StringValue": self.source},
            "user_id": {"DataType": "String", "StringValue": self.user_id},
            "correlation_id": {"DataType": "String", "StringValue": self.correlation_id},
        }


def new_event(
    type_: str,
    *,
    source: Service,
    user_id: str,
    correlation_id: str,
    data: BaseModel,
    occurred_at: datetime | None = None,
    key: str | None = None,
) -> Envelope:
    """A new event of a type in the catalog. With `key` (what the event is about and its outcome, e.g.
    `<job_id>:completed`) its id is derived from the key, so announcing the same outcome again is a
    duplicate every consumer drops; without it the id is fresh."""
    from snapinfra_shared.catalog import CATALOG  # the catalog imports this module

    spec = CATALOG[type_]
    if spec.producer != source:
        raise ValueError(f"{type_} is produced by {spec.producer}, not {source}")
    if not isinstance(data, spec.data):
        raise TypeError(f"{type_} carries {spec.data.__name__}, not {type(data).__name__}")
    return Envelope(
        id=uuid.uuid5(EVENT_NAMESPACE, key) if key is not None else uuid.uuid4(),
        type=type_,
        version=spec.version,
        occurred_at=occurred_at or datetime.now(UTC),
        source=source,
        correlation_id=correlation_id,
        user_id=user_id,
        data=data.model_dump(mode="json"),
    )
