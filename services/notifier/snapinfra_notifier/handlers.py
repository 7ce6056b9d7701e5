"""What the notifier does with each event it consumes, and with each delivery attempt it scheduled.

Subscriptions arrive from the api (requested, code reissued, confirmed, cancelled); the notifier keeps
them and announces their state (activated, disabled). An email or SMS subscription waits for its
confirmation: until then its target gets only the confirmation email, or texts of its code.

A user's job event becomes one notification per matching subscription of that user (a conditional put
keyed on the event and the subscription makes it happen once), each attempted through the delivery
queue; a failed attempt waits there for the next one of the schedule. Every attempt is announced
(NotificationAttempted) for the api's read model.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from snapinfra_notifier import messages
from snapinfra_notifier.adapters.channels import Email, EmailSender, SmsSender
from snapinfra_notifier.adapters.store import Notification, NotificationState, NotifierStore, Subscription
from snapinfra_notifier.adapters.tasks import DeliveryQueue, check_task, due_at, task_envelope
from snapinfra_notifier.adapters.webhooks import Refused, WebhookSender
from snapinfra_notifier.fairness import Pacing, UserShares
from snapinfra_notifier.filters import wants
from snapinfra_shared.catalog import (
    NOTIFICATION_KINDS,
    DeliveryOutcome,
    EventData,
    MessageDeadLettered,
    NotificationAttempted,
    SubscriptionActivated,
    SubscriptionCancelled,
    SubscriptionCodeReissued,
    SubscriptionConfirmed,
    SubscriptionDisabled,
    SubscriptionRequested,
)
from snapinfra_shared.consumer import Delivery, NotYet, PoisonMessage, RetryAfter
from snapinfra_shared.events import Envelope, new_event
from snapinfra_shared.metrics import DELIVERIES
from snapinfra_shared.publisher import Publisher

log = logging.getLogger(__name__)
NOTIFICATION_NAMESPACE = uuid.UUID("6f1c3a52-3f7e-4b7a-9a53-6e0f1d2b8c41")
DEFER_SECONDS = 1.0  # a deferred delivery waits at least this (and up to twice this, jittered)
NOT_DUE_RECEIVES = 2  # receives a task may spend arriving before its slot (SQS delays up to 15 min)


class NotYetKnown(NotYet):
    """What this event refers to has not arrived yet (delivery is unordered): try again later."""


@dataclass(frozen=True)
class Dependencies:
    store: NotifierStore
    publisher: Publisher
    queue: DeliveryQueue
    emails: EmailSender
    sms: SmsSender
    webhooks: WebhookSender
    presign: Callable[[str, str, int], str]  # (bucket, key, seconds) -> URL
    public_base_url: str
    retry_schedule: tuple[float, ...]
    disable_after_seconds: float
    lease_seconds: int
    download_link_expiry_seconds: int
    clock: Callable[[], float] = time.time
    pacing: Pacing = field(default_factory=lambda: Pacing(rate=2.0, burst=30))
    shares: UserShares = field(default_factory=lambda: UserShares(3))


def notification_id(event_id: uuid.UUID | str, subscription_id: str) -> str:
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{event_id}:{subscription_id}"))


def _publish(deps: Dependencies, type_: str, user_id: str, correlation_id: str, data: EventData) -> None:
    deps.publisher.publish(
        new_event(type_, source="notifier", user_id=user_id, correlation_id=correlation_id, data=data)
    )


def _now(deps: Dependencies) -> datetime:
    return datetime.fromtimestamp(deps.clock(), UTC)


# -- subscriptions ---------------------------------------------------------------------------


def subscription_requested(event: Envelope, data: SubscriptionRequested, _: Delivery, *, deps: Dependencies) -> None:
    sub = Subscription(
        id=data.subscription_id,
        user_id=event.user_id,
        channel=data.channel,
        target=data.target,
        status="active" if data.channel == "webhook" else "pending_confirmation",
        event_types=data.filters.event_types,
        statuses=data.filters.statuses,
        project_id=data.filters.project_id,
        admin=data.admin,
        signing_secret=data.signing_secret,
    )
    if not deps.store.add_subscription(sub):
        found = deps.store.get_subscription(event.user_id, data.subscription_id)
        if found is None or found.status == "cancelled":
            log.info("subscription cancelled before it arrived", extra={"subscription_id": data.subscription_id})
            return
        sub = found
    if sub.status == "pending_confirmation" and sub.channel == "sms":
        if not data.confirmation_code or data.confirmation_expires_at is None:
            raise ValueError("an SMS subscription needs its confirmation code")
        _text_code(deps, sub, data.confirmation_code, data.confirmation_expires_at, data.requested_at)
    elif sub.status == "pending_confirmation" and not sub.confirmation_sent:
        if not data.confirmation_token:
            raise ValueError("an email subscription needs its confirmation token")
        confirm_url = f"{deps.public_base_url}/api/notifications/confirm?token={data.confirmation_token}"
        deps.emails.send(
            Email(
                to=sub.target,
                subject="Confirm your Snapinfra notifications",
                text=messages.render("confirm.txt", target=sub.target, confirm_url=confirm_url),
                html=messages.render("confirm.html", target=sub.target, confirm_url=confirm_url),
            )
        )
        deps.store.mark_confirmation_sent(event.user_id, sub.id)
        log.info("confirmation sent", extra={"subscription_id": sub.id})
    elif sub.status == "active":
        _activated(deps, event, sub.id)


def subscription_code_reissued(
    event: Envelope, data: SubscriptionCodeReissued, _: Delivery, *, deps: Dependencies
) -> None:
    sub = deps.store.get_subscription(event.user_id, data.subscription_id)
    if sub is None:
        raise NotYetKnown(f"subscription {data.subscription_id} has not arrived yet")
    if sub.status != "pending_confirmation" or sub.channel != "sms":
        log.info("a code for a subscription no longer pending", extra={"subscription_id": sub.id})
        return
    _text_code(deps, sub, data.confirmation_code, data.confirmation_expires_at, data.issued_at)


def _text_code(deps: Dependencies, sub: Subscription, code: str, expires_at: datetime, issued_at: datetime) -> None:
    """Text the code once: not again when redelivered, and never after a newer one."""
    issued = issued_at.timestamp()
    if sub.code_issued_at is not None and sub.code_issued_at >= issued:
        return
    minutes = max(1, round((expires_at - issued_at).total_seconds() / 60))
    deps.sms.send(sub.target, messages.sms_code(code, minutes))
    deps.store.mark_code_sent(sub.user_id, sub.id, issued)
    log.info("confirmation code sent", extra={"subscription_id": sub.id})


def subscription_confirmed(event: Envelope, data: SubscriptionConfirmed, _: Delivery, *, deps: Dependencies) -> None:
    moved = deps.store.move_subscription(
        event.user_id, data.subscription_id, "active", when=("pending_confirmation", "active")
    )
    if moved:
        _activated(deps, event, data.subscription_id)
        return
    if deps.store.get_subscription(event.user_id, data.subscription_id) is None:
        raise NotYetKnown(f"subscription {data.subscription_id} has not arrived yet")
    log.info("confirmation of a subscription no longer pending", extra={"subscription_id": data.subscription_id})


def _activated(deps: Dependencies, cause: Envelope, subscription_id: str) -> None:
    _publish(
        deps,
        "SubscriptionActivated",
        cause.user_id,
        cause.correlation_id,
        SubscriptionActivated(subscription_id=subscription_id, activated_at=_now(deps)),
    )


def subscription_cancelled(event: Envelope, data: SubscriptionCancelled, _: Delivery, *, deps: Dependencies) -> None:
    deps.store.cancel_subscription(event.user_id, data.subscription_id)


# -- fan-out ---------------------------------------------------------------------------------


def job_event(event: Envelope, data: EventData, _: Delivery, *, deps: Dependencies) -> None:
    """A user's job moved: notify that user's matching subscriptions, and no one else's."""
    kind = NOTIFICATION_KINDS[event.type]
    project_id: str | None = getattr(data, "project_id", None)
    deployment_id: str | None = getattr(data, "deployment_id", None)
    if event.type == "DeploymentRequested" and project_id and deployment_id:
        deps.store.remember_deployment(event.user_id, deployment_id, project_id)
    subscriptions = deps.store.subscriptions_of(event.user_id)
    if project_id is None and deployment_id and any(s.project_id and s.status == "active" for s in subscriptions):
        project_id = deps.store.deployment_project(event.user_id, deployment_id)
        if project_id is None:
            raise NotYetKnown(f"the project of deployment {deployment_id} is not known yet")
    _fan_out(deps, event, kind, [s for s in subscriptions if wants(s, kind, project_id)])


def dead_lettered(event: Envelope, data: MessageDeadLettered, _: Delivery, *, deps: Dependencies) -> None:
    """A system alert: to the admin subscriptions only."""
    admins = [s for s in deps.store.admin_subscriptions() if s.status == "active"]
    log.warning("a message was dead-lettered", extra={"queue": data.queue, "admins": len(admins)})
    _fan_out(deps, event, messages.ALERT_KIND, admins)


def _fan_out(deps: Dependencies, event: Envelope, kind: str, subscriptions: list[Subscription]) -> None:
    now = deps.clock()
    slots = {
        owner: iter(_slots(deps, owner, count, now))
        for owner, count in Counter(s.user_id for s in subscriptions).items()
    }
    tasks = []
    for sub in subscriptions:
        due = next(slots[sub.user_id])
        notification = Notification(
            id=notification_id(event.id, sub.id),
            user_id=event.user_id,
            subscription_id=sub.id,
            subscription_user_id=sub.user_id,
            event_json=event.model_dump_json(),
            kind=kind,
            state="pending",
            attempts=0,
            next_at=due,
            lease_until=0,
        )
        if not deps.store.create_notification(notification):
            # A redelivered event: the notification exists. Queue its first attempt again only if it
            # never happened (this worker may have died between the write and the queueing).
            existing = deps.store.get_notification(notification.id)
            if existing is None or existing.state != "pending" or existing.attempts > 0:
                continue
            due = existing.next_at
        tasks.append(task_envelope(notification.id, sub.user_id, event.correlation_id, due_at=due))
    deps.queue.enqueue(tasks, now)
    log.info("notifications queued", extra={"kind": kind, "count": len(tasks), "matched": len(subscriptions)})


def _slots(deps: Dependencies, user_id: str, count: int, now: float) -> list[float]:
    """When each of `count` new deliveries of the user's subscriptions is due: the user's next slots."""
    interval = _spacing(deps, user_id)
    first = deps.store.reserve_slots(user_id, count, not_before=deps.pacing.credit_from(now), interval=interval)
    return [first + i * interval for i in range(count)]


def _spacing(deps: Dependencies, user_id: str) -> float:
    """Seconds between a user's slots: the pace allowed, or slower if the user's attempts are slower."""
    return max(deps.pacing.interval, deps.shares.spacing(user_id))


# -- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    outcome: DeliveryOutcome | None  # None: it failed, and the schedule decides retrying or failed
    http_status: int | None = None
    latency_ms: int | None = None
    error: str | None = None


def deliver(task: Envelope, delivery: Delivery, *, deps: Dependencies) -> None:
    """One attempt of one notification; a failure is retried at the schedule's next step (RetryAfter).
    Over its user's share of this worker's attempts, it is deferred to the user's next slot."""
    try:
        check_task(task)
    except ValueError as exc:
        raise PoisonMessage(str(exc)) from exc
    now = deps.clock()
    if due_at(task) > now + 0.5:
        raise RetryAfter(math.ceil(due_at(task) - now), "not due yet")
    with deps.shares.hold(task.user_id) as held:
        if held:
            _deliver(task, deps)
        else:
            _defer(deps, task, delivery, now)


def _defer(deps: Dependencies, task: Envelope, delivery: Delivery, now: float) -> None:
    """Come back later, spread after the user's other deferred deliveries (in this worker). The message
    itself waits while it has receives to spare for every attempt the retry schedule may still make;
    after that it is sent again as a new message, so that waiting never dead-letters a delivery."""
    earliest = now + DEFER_SECONDS * (1 + random.random())  # noqa: S311 (a jitter)
    due = deps.shares.defer(task.user_id, earliest, _spacing(deps, task.user_id))
    log.info("delivery deferred: its user's share of attempts is in use", extra={"retry_in_seconds": due - now})
    attempts_left = len(deps.retry_schedule) + 1  # at most: each attempt is a receive
    if delivery.receive_count + attempts_left + NOT_DUE_RECEIVES < delivery.max_receive_count:
        raise RetryAfter(math.ceil(due - now), "the user's share of attempts is in use")
    notification = str(task.data.get("notification_id", ""))
    deps.queue.enqueue([task_envelope(notification, task.user_id, task.correlation_id, due_at=due)], now)


def _deliver(task: Envelope, deps: Dependencies) -> None:
    notification = deps.store.get_notification(str(task.data.get("notification_id", "")))
    if notification is None or notification.state != "pending":
        return  # settled already (a duplicate task), or expired
    now = deps.clock()
    if notification.next_at > now + 0.5:
        raise RetryAfter(notification.next_at - now, "not due yet")
    if not deps.store.claim_attempt(notification, now, deps.lease_seconds):
        current = deps.store.get_notification(notification.id)
        if current is not None and current.state == "pending" and current.attempts == notification.attempts:
            raise RetryAfter(max(1.0, current.lease_until - now), "another attempt holds this notification")
        return  # another copy of this task made the attempt and carries the schedule on
    sub = deps.store.get_subscription(notification.subscription_user_id, notification.subscription_id)
    event = Envelope.model_validate_json(notification.event_json)
    if sub is None or sub.status != "active":
        attempt = _Attempt("failed", error=f"the subscription is {sub.status if sub else 'gone'}")
    else:
        attempt = _attempt(deps, notification, sub, event)
    _settle(deps, notification, sub, event, attempt)


def _attempt(deps: Dependencies, notification: Notification, sub: Subscription, event: Envelope) -> _Attempt:
    started = time.perf_counter()
    try:
        if sub.channel == "webhook":
            assert sub.signing_secret is not None
            result = deps.webhooks.post(
                sub.target,
                messages.webhook_body(notification.kind, event),
                secret=sub.signing_secret,
                message_id=notification.id,
                at=_now(deps),
            )
            return _Attempt("succeeded" if result.ok else None, result.http_status, result.latency_ms, result.error)
        if sub.channel == "email":
            links = _links(deps, notification.kind, event)
            deps.emails.send(
                messages.email(
                    notification.kind, event, sub.target, links, notification_id=notification.id, subscription_id=sub.id
                )
            )
        else:
            deps.sms.send(sub.target, messages.sms(notification.kind, event))
    except Refused as exc:
        return _Attempt("refused", error=str(exc))
    except Exception as exc:
        log.warning("delivery attempt failed", extra={"channel": sub.channel, "error": str(exc)[:300]})
        return _Attempt(None, latency_ms=_ms(started), error=f"{type(exc).__name__}: {str(exc)[:300]}")
    return _Attempt("succeeded", latency_ms=_ms(started))


def _links(deps: Dependencies, kind: str, event: Envelope) -> messages.Links:
    artifact = event.data.get("artifact")
    if kind == "codegen.completed" and isinstance(artifact, dict):
        seconds = deps.download_link_expiry_seconds
        url = deps.presign(str(artifact["bucket"]), str(artifact["key"]), seconds)
        diagram = artifact.get("diagram_key")
        diagram_url = deps.presign(str(artifact["bucket"]), str(diagram), seconds) if diagram else None
        return messages.Links(deps.public_base_url, url, messages.expiry(seconds), diagram_url)
    return messages.Links(deps.public_base_url)


def _settle(
    deps: Dependencies, notification: Notification, sub: Subscription | None, event: Envelope, attempt: _Attempt
) -> None:
    number = notification.attempts + 1
    now = deps.clock()
    outcome: DeliveryOutcome
    retry_in: float | None = None
    if attempt.outcome is not None:
        outcome = attempt.outcome
    elif number <= len(deps.retry_schedule):
        outcome, retry_in = "retrying", deps.retry_schedule[number - 1]
    else:
        outcome = "failed"
    state: NotificationState = {"succeeded": "succeeded", "refused": "refused", "failed": "failed"}.get(
        outcome, "pending"
    )  # type: ignore[assignment]
    deps.store.settle_attempt(notification, state, now + (retry_in or 0))
    channel = sub.channel if sub else "webhook"
    _publish(
        deps,
        "NotificationAttempted",
        notification.subscription_user_id,
        event.correlation_id,
        NotificationAttempted(
            delivery_id=str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{notification.id}#{number}")),
            notification_id=notification.id,
            subscription_id=notification.subscription_id,
            event_id=str(event.id),
            event_type=notification.kind,
            channel=channel,
            attempt=number,
            outcome=outcome,
            http_status=attempt.http_status,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            at=datetime.fromtimestamp(now, UTC),
        ),
    )
    DELIVERIES.labels(channel, outcome).inc()
    log.info(
        "delivery attempted",
        extra={"channel": channel, "outcome": outcome, "attempt": number, "kind": notification.kind},
    )
    if sub is not None and sub.status == "active":
        if outcome == "succeeded":
            if sub.failing_since is not None:
                deps.store.record_success(sub.user_id, sub.id)
        else:
            _failed_attempt(deps, sub, event, now)
    if retry_in is not None:
        raise RetryAfter(retry_in, f"attempt {number} failed; the next in {retry_in} s")


def _failed_attempt(deps: Dependencies, sub: Subscription, cause: Envelope, now: float) -> None:
    """Disable a subscription that has failed every attempt for `disable_after_seconds`, and say so."""
    failing_since = deps.store.record_failure(sub.user_id, sub.id, now)
    if now - failing_since < deps.disable_after_seconds:
        return
    if not deps.store.move_subscription(sub.user_id, sub.id, "disabled", when=("active",)):
        return
    since = datetime.fromtimestamp(failing_since, UTC).isoformat(timespec="seconds")
    reason = f"every delivery attempt failed since {since}"
    log.warning("subscription disabled", extra={"subscription_id": sub.id, "channel": sub.channel})
    _publish(
        deps,
        "SubscriptionDisabled",
        sub.user_id,
        cause.correlation_id,
        SubscriptionDisabled(subscription_id=sub.id, reason=reason, disabled_at=_now(deps)),
    )
    for other in deps.store.subscriptions_of(sub.user_id):
        if other.channel == "email" and other.status == "active" and other.id != sub.id:
            context = {
                "channel": sub.channel,
                "subscription_id": sub.id,
                "target": sub.target,
                "failing_since": since,
                "reason": reason,
            }
            try:
                deps.emails.send(
                    Email(
                        to=other.target,
                        subject="A Snapinfra notification subscription was disabled",
                        text=messages.render("disabled.txt", **context),
                        html=messages.render("disabled.html", **context),
                    )
                )
            except Exception:
                log.exception("could not tell the user their subscription was disabled")
            break


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
