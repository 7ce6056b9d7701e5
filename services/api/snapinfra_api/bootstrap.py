"""Wires the api: adapters from settings, the use cases, the authenticator, the background work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from snapinfra_api.adapters.limits import IdempotencyStore, SlidingWindows, TokenBuckets
from snapinfra_api.adapters.outbox import OutboxRelay
from snapinfra_api.codegen.artifacts import ArtifactReader
from snapinfra_api.codegen.projection import build_handlers
from snapinfra_api.codegen.store import JobRepository
from snapinfra_api.codegen.use_cases import CodeGenJobs
from snapinfra_api.deployments.store import DeploymentRepository
from snapinfra_api.deployments.use_cases import Deployments
from snapinfra_api.http.auth import Authenticator, DevHeaderAuthenticator, JwtAuthenticator
from snapinfra_api.notifications.projection import build_notification_handlers
from snapinfra_api.notifications.store import SubscriptionReadModel
from snapinfra_api.notifications.use_cases import Notifications, Policy
from snapinfra_api.settings import ApiSettings
from snapinfra_shared.aws import AwsClients
from snapinfra_shared.consumer import Consumer
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import Resources, consumer_for, resolve_resources


@dataclass
class ApiDependencies:
    settings: ApiSettings
    clients: AwsClients
    resources: Resources
    repository: JobRepository
    publisher: Publisher
    jobs: CodeGenJobs
    authenticator: Authenticator
    relay: OutboxRelay
    notifications: Notifications
    deployments: Deployments
    rate_limits: TokenBuckets
    idempotency: IdempotencyStore
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _consumer: Consumer | None = None

    def start_background(self) -> None:
        """Consume the api's queue (the projection) and relay the outbox, on daemon threads."""
        handlers = {
            **build_handlers(self.repository, self.deployments.repository),
            **build_notification_handlers(self.notifications.read_model),
        }
        consumer = consumer_for(self.clients, self.settings, self.resources, handlers)
        self._consumer = consumer
        self._threads = [
            threading.Thread(target=consumer.run, args=(self._stop,), name="projection", daemon=True),
            threading.Thread(
                target=self.relay.run,
                args=(self._stop, self.settings.outbox_interval_seconds),
                name="outbox-relay",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()

    def stop_background(self, timeout: float) -> None:
        """Let the relay tidy up and the projection finish the batch in hand. A consumer blocked in a
        long poll holds no work, so it is not waited for (a daemon thread, it ends with the process)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            while thread.is_alive() and time.monotonic() < deadline:
                if thread.name == "projection" and self._consumer is not None and self._consumer.receiving:
                    break
                thread.join(0.05)


def build_authenticator(settings: ApiSettings) -> Authenticator:
    if settings.auth_mode == "dev":
        return DevHeaderAuthenticator(frozenset(settings.dev_admin_users))
    assert settings.jwt_jwks_url and settings.jwt_issuer and settings.jwt_audience  # the settings validator
    return JwtAuthenticator(
        jwks_url=settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.jwt_algorithms,
        admin_claim=settings.jwt_admin_claim,
        admin_value=settings.jwt_admin_value,
    )


def build_dependencies(
    settings: ApiSettings, clients: AwsClients | None = None, clock: Callable[[], float] = time.time
) -> ApiDependencies:
    """`clock` (seconds since the epoch) is what the limits and the notification windows measure time by;
    tests pass one they control."""
    clients = clients or AwsClients.from_settings(settings)
    resources = resolve_resources(clients, settings, "api")
    assert resources.topic_arn is not None
    repository = JobRepository(clients.dynamodb, resources.table)
    publisher = Publisher(clients.sns, resources.topic_arn)
    relay = OutboxRelay(repository, publisher, grace_seconds=settings.outbox_grace_seconds)
    return ApiDependencies(
        settings=settings,
        clients=clients,
        resources=resources,
        repository=repository,
        publisher=publisher,
        jobs=CodeGenJobs(repository, publisher, ArtifactReader(clients.s3), relay, settings.presign_expiry_seconds),
        authenticator=build_authenticator(settings),
        relay=relay,
        notifications=Notifications(
            SubscriptionReadModel(clients.dynamodb, resources.table, clock),
            publisher,
            relay,
            SlidingWindows(clients.dynamodb, resources.table, clock),
            Policy(
                confirmation_ttl_seconds=settings.confirmation_ttl_seconds,
                code_ttl_seconds=settings.sms_code_ttl_seconds,
                code_max_attempts=settings.sms_code_max_attempts,
                confirmations_per_target=settings.confirmations_per_target,
                confirmation_window_seconds=settings.confirmation_window_seconds,
                max_per_user=settings.max_subscriptions_per_user,
            ),
            clock,
        ),
        deployments=Deployments(DeploymentRepository(clients.dynamodb, resources.table), repository, publisher, relay),
        rate_limits=TokenBuckets(clients.dynamodb, resources.table, clock),
        idempotency=IdempotencyStore(clients.dynamodb, resources.table, clock),
    )
