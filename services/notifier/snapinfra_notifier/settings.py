from __future__ import annotations

from typing import Annotated

from pydantic import Field, HttpUrl, field_validator
from pydantic_settings import NoDecode

from snapinfra_shared.settings import WorkerSettings, comma_separated
from snapinfra_shared.topology import WORK_QUEUE_MAX_RECEIVE_COUNT

DEFAULT_RETRY_SCHEDULE = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0]


class NotifierSettings(WorkerSettings):
    email_sender: str = Field(
        default="notifications@example.com", description="SES sender address (a verified identity)"
    )
    public_base_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:5000"), description="the api as users reach it: confirmation and job links"
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="one webhook call's time limit")
    retry_schedule_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        description="wait before each retry of a failed delivery; after the last, the delivery has failed",
    )
    disable_after_seconds: float = Field(
        default=86400.0, ge=0, description="a subscription failing every attempt this long is disabled"
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names, addresses or networks (CIDR) a webhook may reach though private or loopback",
    )
    download_link_expiry_seconds: int = Field(
        default=3 * 24 * 3600,
        ge=60,
        le=7 * 24 * 3600,
        description="lifetime of the download link in a completion email",
    )
    delivery_lease_seconds: int = Field(default=120, ge=10, description="how long one attempt may hold a delivery")
    delivery_user_rate: float = Field(
        default=2.0,
        gt=0,
        le=1000,
        description="deliveries of one user that become due per second once its burst is used; the rest wait "
        "in the queue, invisible, so a user's backlog never stands before another user's first delivery",
    )
    delivery_user_burst: int = Field(
        default=30, ge=1, le=1000, description="deliveries of an idle user that are due at once (one event, every hook)"
    )
    delivery_user_in_flight: int = Field(
        default=3,
        ge=1,
        le=64,
        description="attempts of one user's deliveries a worker makes at once; another is deferred to the user's "
        "next slot (not an attempt), so slow receivers of one user never hold every delivery thread",
    )

    subscription_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="how long a user's subscriptions, once queried for an event, serve that user's next events "
        "(0: query for each event); this task's own subscription changes drop them at once, so this bounds "
        "how late a change handled by another notifier task is seen",
    )

    @field_validator("retry_schedule_seconds", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("retry_schedule_seconds")
    @classmethod
    def _schedule(cls, value: list[float]) -> list[float]:
        if any(seconds < 0 or seconds > 43200 for seconds in value):
            raise ValueError("each retry waits 0 to 43200 seconds (SQS holds a message invisible up to 12 h)")
        if len(value) + 1 > WORK_QUEUE_MAX_RECEIVE_COUNT - 5:
            raise ValueError(f"at most {WORK_QUEUE_MAX_RECEIVE_COUNT - 6} retries")
        return value
