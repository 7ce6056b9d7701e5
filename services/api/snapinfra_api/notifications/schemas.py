"""What the notification endpoints accept and return (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

import phonenumbers
from pydantic import AliasGenerator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl, field_validator
from pydantic.alias_generators import to_camel

from snapinfra_api.codegen.schemas import PROJECT_ID_PATTERN
from snapinfra_shared.catalog import NOTIFICATION_KINDS, NOTIFICATION_STATUSES, Channel, DeliveryOutcome

SubscriptionStatus = Literal["pending_confirmation", "active", "disabled"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=AliasGenerator(validation_alias=to_camel))


class _Filters(_In):
    """What every subscribe body may carry. Strict: `"admin": 0` or `"true"` is a 422, not false or true."""

    model_config = ConfigDict(strict=True)

    event_types: list[str] = Field(
        default_factory=list, max_length=20, description="event kinds (codegen.completed) or globs (deployment.*)"
    )
    statuses: list[str] = Field(default_factory=list, max_length=20, description="completed, failed, ...")
    project_id: str | None = Field(default=None, pattern=PROJECT_ID_PATTERN)
    admin: bool = Field(default=False, description="also receive system alerts (admins only)")

    @field_validator("event_types")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        kinds = NOTIFICATION_KINDS.values()
        for pattern in value:
            if not any(fnmatchcase(kind, pattern) for kind in kinds):
                raise ValueError(f"{pattern!r} matches no event kind (known: {', '.join(kinds)})")
        return sorted(set(value))

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        for status in value:
            if status not in NOTIFICATION_STATUSES:
                raise ValueError(f"{status!r} is not a status (known: {', '.join(NOTIFICATION_STATUSES)})")
        return sorted(set(value))


class SubscribeEmail(_Filters):
    email: EmailStr = Field(description="a deliverable-looking email address (checked by email-validator)")


class SubscribeSms(_Filters):
    phone: str = Field(description="an E.164 phone number, e.g. +14155552671")

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"not an E.164 phone number: {exc}") from None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if value != e164 or not phonenumbers.is_valid_number(number):
            raise ValueError("not a valid E.164 phone number (a + and the country code, digits only)")
        return e164


class SubscribeWebhook(_Filters):
    url: HttpUrl = Field(description="https (http only to allow-listed hosts); it receives signed POSTs")

    @field_validator("url")
    @classmethod
    def _length(cls, value: HttpUrl) -> HttpUrl:
        if len(str(value)) > 2048:
            raise ValueError("at most 2048 characters")
        return value


class ListSubscriptionsQuery(_In):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class DeliveriesQuery(ListSubscriptionsQuery):
    subscription_id: str | None = Field(default=None, max_length=64)


class UnsubscribeQuery(_In):
    id: str = Field(min_length=1, max_length=64, description="the subscription id")


class ConfirmQuery(_In):
    token: str = Field(min_length=16, max_length=256)


class ConfirmCode(_In):
    code: str = Field(pattern=r"^[0-9]{6}$", description="the 6 digits texted to the number")


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class SubscriptionOut(_Out):
    id: str
    channel: Channel
    target: str
    status: SubscriptionStatus
    event_types: list[str]
    statuses: list[str]
    project_id: str | None
    admin: bool
    created_at: datetime


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str | None = Field(default=None, description="webhooks only, shown once: the whsec_ signing secret")

    def wire(self) -> dict[str, Any]:
        document = super().wire()
        if document["secret"] is None:
            del document["secret"]
        return document


class SubscriptionPage(_Out):
    items: list[SubscriptionOut]
    next_cursor: str | None


class DeliveryOut(_Out):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    channel: Channel
    attempt: int
    outcome: DeliveryOutcome
    http_status: int | None
    latency_ms: int | None
    error: str | None
    at: datetime


class DeliveryPage(_Out):
    items: list[DeliveryOut]
    next_cursor: str | None


class ConfirmationOut(_Out):
    subscription_id: str
    status: Literal["confirmed"]


class CodeSentOut(_Out):
    subscription_id: str
    expires_at: datetime = Field(description="the new code works until then; the previous one no longer does")
