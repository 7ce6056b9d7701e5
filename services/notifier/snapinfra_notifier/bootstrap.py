"""Wires the notifier: adapters from settings, each consumed event bound to its handler, and the
delivery queue's handler."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping

from snapinfra_notifier.adapters.channels import EmailSender, SmsSender
from snapinfra_notifier.adapters.store import NotifierStore
from snapinfra_notifier.adapters.tasks import DeliveryQueue
from snapinfra_notifier.adapters.webhooks import AllowList, WebhookSender
from snapinfra_notifier.fairness import Pacing, UserShares
from snapinfra_notifier.handlers import (
    Dependencies,
    dead_lettered,
    deliver,
    job_event,
    subscription_cancelled,
    subscription_code_reissued,
    subscription_confirmed,
    subscription_requested,
)
from snapinfra_notifier.settings import NotifierSettings
from snapinfra_shared.aws import AwsClients
from snapinfra_shared.catalog import CATALOG, NOTIFICATION_KINDS, MessageDeadLettered
from snapinfra_shared.consumer import Delivery
from snapinfra_shared.events import Envelope
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import EventHandler, Resources


def build_dependencies(
    settings: NotifierSettings,
    clients: AwsClients,
    resources: Resources,
    delivery_queue_url: str,
    clock: Callable[[], float] = time.time,
) -> Dependencies:
    """`clock` (seconds since the epoch) is what the retry schedule, leases and retention are measured by."""
    assert resources.topic_arn is not None

    def presign(bucket: str, key: str, seconds: int) -> str:
        return str(
            clients.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds)
        )

    return Dependencies(
        store=NotifierStore(
            clients.dynamodb, resources.table, clock, subscription_cache_seconds=settings.subscription_cache_seconds
        ),
        publisher=Publisher(clients.sns, resources.topic_arn),
        queue=DeliveryQueue(clients.sqs, delivery_queue_url),
        emails=EmailSender(clients.client("ses"), settings.email_sender),
        sms=SmsSender(clients.sns),
        webhooks=WebhookSender(
            timeout=settings.webhook_timeout_seconds, allow=AllowList(settings.webhook_allowed_hosts)
        ),
        presign=presign,
        public_base_url=str(settings.public_base_url).rstrip("/"),
        retry_schedule=tuple(settings.retry_schedule_seconds),
        disable_after_seconds=settings.disable_after_seconds,
        lease_seconds=settings.delivery_lease_seconds,
        download_link_expiry_seconds=settings.download_link_expiry_seconds,
        clock=clock,
        pacing=Pacing(rate=settings.delivery_user_rate, burst=settings.delivery_user_burst),
        shares=UserShares(settings.delivery_user_in_flight),
    )


def build_handlers(deps: Dependencies) -> Mapping[str, EventHandler]:
    handlers: dict[str, EventHandler] = {
        "SubscriptionRequested": functools.partial(subscription_requested, deps=deps),
        "SubscriptionCodeReissued": functools.partial(subscription_code_reissued, deps=deps),
        "SubscriptionConfirmed": functools.partial(subscription_confirmed, deps=deps),
        "SubscriptionCancelled": functools.partial(subscription_cancelled, deps=deps),
    }
    for event_type in NOTIFICATION_KINDS:
        handlers[event_type] = functools.partial(job_event, deps=deps)
    for spec in CATALOG.values():
        if spec.data is MessageDeadLettered and "notifier" in spec.consumers:
            handlers[spec.type] = functools.partial(dead_lettered, deps=deps)
    return handlers


def build_delivery_handler(deps: Dependencies) -> Callable[[Envelope, Delivery], None]:
    return functools.partial(deliver, deps=deps)
