"""The use cases of notification subscriptions, apart from HTTP: subscribe, confirm (an email's link,
an SMS code), list, unsubscribe, and the record of delivery attempts. The notifier owns subscriptions
and delivery; the api validates, makes the ids, secrets and codes, keeps its read model, and tells the
notifier through events.

Abuse limits live here: one target per user once, at most `max_per_user` subscriptions, and at most
`confirmations_per_target` confirmation messages to one address or number per window, whoever asks
(a token bucket per user is the route's concern). An SMS code is checked against its HMAC, in constant
time, within its life and its attempts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uuid6

from snapinfra_api.adapters.limits import SlidingWindows
from snapinfra_api.adapters.outbox import OutboxRelay, publish_now
from snapinfra_api.notifications.store import (
    DuplicateTarget,
    SubscriptionReadModel,
    SubscriptionRecord,
    TooManySubscriptions,
)
from snapinfra_shared.catalog import (
    Channel,
    SubscriptionCancelled,
    SubscriptionCodeReissued,
    SubscriptionConfirmed,
    SubscriptionFilters,
    SubscriptionRequested,
)
from snapinfra_shared.events import new_event
from snapinfra_shared.publisher import Publisher


class SubscriptionNotFound(LookupError):
    pass


class ConfirmationNotFound(LookupError):
    pass


class TargetRateLimited(Exception):
    """This address or number had its confirmation messages for the window; retry after args[0] seconds."""


class NoCodeToConfirm(Exception):
    """The subscription is not waiting for an SMS code (another channel, or confirmed already)."""


class CodeExpired(Exception):
    pass


class CodeExhausted(Exception):
    pass


class WrongCode(Exception):
    """args[0]: the attempts left at this code."""


__all__ = [
    "CodeExhausted",
    "CodeExpired",
    "ConfirmationNotFound",
    "DuplicateTarget",
    "NoCodeToConfirm",
    "Notifications",
    "SubscriptionNotFound",
    "TargetRateLimited",
    "TooManySubscriptions",
    "WrongCode",
]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    """Six random digits, for an SMS."""
    return f"{secrets.randbelow(10**6):06d}"


def code_hmac(subscription_id: str, code: str) -> str:
    """What the api keeps of a code: an HMAC keyed by its subscription, so equal codes never look alike."""
    return hmac.new(subscription_id.encode(), code.encode(), hashlib.sha256).hexdigest()


def target_key(channel: Channel, target: str) -> str:
    """One target whatever its spelling: an email address case-insensitively, an E.164 number, a URL."""
    normal = target.lower() if channel == "email" else target
    return hashlib.sha256(f"{channel}:{normal}".encode()).hexdigest()


@dataclass(frozen=True)
class Policy:
    """The limits of subscribing (from settings)."""

    confirmation_ttl_seconds: int = 3 * 24 * 3600
    code_ttl_seconds: int = 600
    code_max_attempts: int = 5
    confirmations_per_target: int = 3
    confirmation_window_seconds: int = 24 * 3600
    max_per_user: int = 25


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Created:
    subscription: SubscriptionRecord
    secret: str | None


@dataclass(frozen=True)
class Notifications:
    read_model: SubscriptionReadModel
    publisher: Publisher
    outbox: OutboxRelay
    windows: SlidingWindows
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.time

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _publish(self, event: Any) -> None:
        if publish_now(self.publisher, event):
            self.outbox.published(event)

    def _take_target(self, key: str) -> None:
        """One confirmation message to this target: within its allowance, or TargetRateLimited."""
        verdict = self.windows.take(
            f"TARGET#{key}",
            limit=self.policy.confirmations_per_target,
            window=self.policy.confirmation_window_seconds,
        )
        if not verdict.allowed:
            raise TargetRateLimited(verdict.retry_after)

    def subscribe(
        self,
        *,
        user_id: str,
        channel: Channel,
        target: str,
        filters: SubscriptionFilters,
        admin: bool,
        correlation_id: str,
    ) -> Created:
        now = self._now()
        key = target_key(channel, target)
        existing = self.read_model.holder_of(user_id, key)
        if existing is not None:
            raise DuplicateTarget(existing)
        if self.read_model.count(user_id) >= self.policy.max_per_user:
            raise TooManySubscriptions(self.policy.max_per_user)
        confirmed_by = {"email": "link", "sms": "code"}.get(channel)
        if confirmed_by is not None:
            self._take_target(key)
        sub = SubscriptionRecord(
            id=str(uuid6.uuid7()),
            user_id=user_id,
            channel=channel,
            target=target,
            status="active" if confirmed_by is None else "pending_confirmation",
            event_types=filters.event_types,
            statuses=filters.statuses,
            project_id=filters.project_id,
            admin=admin,
            created_at=now,
        )
        token = secrets.token_urlsafe(32) if confirmed_by == "link" else None
        code = new_code() if confirmed_by == "code" else None
        ttl = self.policy.code_ttl_seconds if code else self.policy.confirmation_ttl_seconds
        expires_at = int(now.timestamp()) + ttl
        secret = new_signing_secret() if channel == "webhook" else None
        event = new_event(
            "SubscriptionRequested",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            occurred_at=now,
            data=SubscriptionRequested(
                subscription_id=sub.id,
                channel=channel,
                target=target,
                filters=filters,
                admin=admin,
                confirmation_token=token,
                confirmation_code=code,
                confirmation_expires_at=datetime.fromtimestamp(expires_at, UTC) if confirmed_by else None,
                signing_secret=secret,
                requested_at=now,
            ),
        )
        self.read_model.add(
            sub,
            event,
            (token_hash(token), expires_at) if token else None,
            target_key=key,
            cap=self.policy.max_per_user,
            code=(code_hmac(sub.id, code), expires_at) if code else None,
        )
        self._publish(event)
        # An active channel shows as active once the notifier says so; until then it is what we asked.
        return Created(sub, secret)

    def confirm(self, token: str, correlation_id: str) -> str:
        """Confirm an email subscription by the token its link carries; returns the subscription id."""
        hashed = token_hash(token)
        found = self.read_model.confirmation(hashed)
        if found is None or self.read_model.get(found.user_id, found.subscription_id) is None:
            raise ConfirmationNotFound("this confirmation link is unknown, expired, or its subscription is gone")
        if found.confirmed:
            return found.subscription_id  # a second click: confirmed already
        event = new_event(
            "SubscriptionConfirmed",
            source="api",
            user_id=found.user_id,
            correlation_id=correlation_id,
            data=SubscriptionConfirmed(subscription_id=found.subscription_id, confirmed_at=self._now()),
        )
        if self.read_model.confirm(hashed, event):
            self._publish(event)
        return found.subscription_id

    def owner_of_confirmation(self, token: str) -> str | None:
        found = self.read_model.confirmation(token_hash(token))
        return found.user_id if found else None

    def confirm_code(self, user_id: str, subscription_id: str, code: str, correlation_id: str) -> None:
        """Confirm an SMS subscription by the code texted to it. Raises SubscriptionNotFound,
        NoCodeToConfirm, CodeExpired, CodeExhausted or WrongCode; confirming twice is no error."""
        while True:
            state = self.read_model.code_state(user_id, subscription_id)
            if state is None:
                raise SubscriptionNotFound(subscription_id)
            if state.confirmed:
                return
            if state.channel != "sms" or state.code_hash is None:
                raise NoCodeToConfirm(state.channel)
            if self.clock() >= state.expires_at:
                raise CodeExpired(datetime.fromtimestamp(state.expires_at, UTC))
            if state.attempts >= self.policy.code_max_attempts:
                raise CodeExhausted(self.policy.code_max_attempts)
            attempts = self.read_model.count_code_attempt(
                user_id, subscription_id, state.code_hash, self.policy.code_max_attempts
            )
            if attempts is not None:
                break
            # another attempt, a new code or the confirmation came first: look again
        if not hmac.compare_digest(state.code_hash, code_hmac(subscription_id, code)):
            raise WrongCode(self.policy.code_max_attempts - attempts)
        event = new_event(
            "SubscriptionConfirmed",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            data=SubscriptionConfirmed(subscription_id=subscription_id, confirmed_at=self._now()),
        )
        if self.read_model.confirm_code(user_id, subscription_id, state.code_hash, event):
            self._publish(event)

    def resend_code(self, user_id: str, subscription_id: str, correlation_id: str) -> datetime:
        """A new code for a pending SMS subscription (the old one is void); returns when it expires.
        Counts against the number's allowance like the first."""
        state = self.read_model.code_state(user_id, subscription_id)
        if state is None:
            raise SubscriptionNotFound(subscription_id)
        if state.confirmed or state.channel != "sms" or state.code_hash is None:
            raise NoCodeToConfirm(state.channel)
        self._take_target(target_key("sms", state.target))
        now = self._now()
        code, expires_at = new_code(), now + timedelta(seconds=self.policy.code_ttl_seconds)
        event = new_event(
            "SubscriptionCodeReissued",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            occurred_at=now,
            data=SubscriptionCodeReissued(
                subscription_id=subscription_id,
                confirmation_code=code,
                confirmation_expires_at=expires_at,
                issued_at=now,
            ),
        )
        stored = (code_hmac(subscription_id, code), int(expires_at.timestamp()))
        if not self.read_model.replace_code(user_id, subscription_id, stored, event):
            raise SubscriptionNotFound(subscription_id)  # removed, or confirmed, meanwhile
        self._publish(event)
        return expires_at

    def page(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[SubscriptionRecord], str | None]:
        return self.read_model.page(user_id, limit=limit, cursor=cursor)

    def unsubscribe(self, user_id: str, subscription_id: str, correlation_id: str) -> None:
        event = new_event(
            "SubscriptionCancelled",
            source="api",
            user_id=user_id,
            correlation_id=correlation_id,
            data=SubscriptionCancelled(subscription_id=subscription_id),
        )
        if not self.read_model.remove(user_id, subscription_id, event):
            raise SubscriptionNotFound(subscription_id)
        self._publish(event)

    def deliveries(
        self, user_id: str, *, limit: int, cursor: str | None, subscription_id: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.read_model.deliveries(user_id, limit=limit, cursor=cursor, subscription_id=subscription_id)
