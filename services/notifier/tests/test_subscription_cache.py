"""The notifier keeps each user's subscriptions for a few seconds instead of querying them for every
event: its own subscription changes drop them at once, the time limit bounds another task's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from snapinfra_notifier.adapters.store import NotifierStore, Subscription
from snapinfra_notifier.handlers import notification_id
from snapinfra_shared.catalog import CodeGenerationStarted, SubscriptionCancelled, SubscriptionConfirmed
from snapinfra_shared.events import Envelope, new_event

from .conftest import CACHE_SECONDS


def started(user: str) -> Envelope:
    data = CodeGenerationStarted(job_id=str(uuid.uuid4()), project_id="shop", generator="templated", attempt=1)
    return new_event("CodeGenerationStarted", source="codegen", user_id=user, correlation_id="c1", data=data)


def change(type_: str, user: str, data) -> Envelope:
    return new_event(type_, source="api", user_id=user, correlation_id="c", data=data)


@pytest.fixture
def queries(stack):
    """The Query calls the stack's DynamoDB client makes (the real client, counted as it sends them)."""
    made: list[str] = []

    def count(params, **_):
        made.append(
            params["ExpressionAttributeValues"][":pk"]["S"] if ":pk" in params["ExpressionAttributeValues"] else ""
        )

    stack.clients.dynamodb.meta.events.register("provide-client-params.dynamodb.Query", count)
    yield made
    stack.clients.dynamodb.meta.events.unregister("provide-client-params.dynamodb.Query", count)


def notified(notifier, event: Envelope, *subscriptions: str) -> list[bool]:
    """For each subscription: whether the event made a notification for it."""
    store = notifier.deps.store
    return [store.get_notification(notification_id(event.id, sub)) is not None for sub in subscriptions]


def test_a_users_second_event_makes_no_query(make_notifier, clock, queries):
    notifier = make_notifier(clock=clock)
    hook = notifier.subscribe("ada", "webhook", "https://hooks.example.com/a")
    first, second = started("ada"), started("ada")
    notifier.handle(first)
    assert queries == ["USER#ada"]
    notifier.handle(second)
    assert queries == ["USER#ada"]  # the second event was fanned out from the cache
    assert notified(notifier, first, hook) == notified(notifier, second, hook) == [True]
    notifier.handle(started("bea"))  # another user's subscriptions are their own
    assert queries == ["USER#ada", "USER#bea"]


def test_the_users_own_subscription_changes_drop_the_cache(make_notifier, clock, queries):
    notifier = make_notifier(clock=clock)
    one = notifier.subscribe("cy", "webhook", "https://hooks.example.com/1")
    notifier.handle(started("cy"))
    two = notifier.subscribe("cy", "webhook", "https://hooks.example.com/2")  # requested
    event = started("cy")
    notifier.handle(event)
    assert notified(notifier, event, one, two) == [True, True] and len(queries) == 2

    notifier.handle(change("SubscriptionCancelled", "cy", SubscriptionCancelled(subscription_id=one)))
    event = started("cy")
    notifier.handle(event)
    assert notified(notifier, event, one, two) == [False, True] and len(queries) == 3

    email = notifier.subscribe("cy", "email", "cy@example.com", token=uuid.uuid4().hex * 2)  # pending
    event = started("cy")
    notifier.handle(event)
    assert notified(notifier, event, two, email) == [True, False] and len(queries) == 4
    confirmation = SubscriptionConfirmed(subscription_id=email, confirmed_at=datetime.now(UTC))
    notifier.handle(change("SubscriptionConfirmed", "cy", confirmation))
    event = started("cy")
    notifier.handle(event)
    assert notified(notifier, event, two, email) == [True, True] and len(queries) == 5


def test_another_tasks_change_is_seen_once_the_cache_expires_on_the_clock(stack, make_notifier, clock, queries):
    notifier = make_notifier(clock=clock)
    notifier.handle(started("dan"))  # dan has no subscription yet: that too is kept
    other_task = NotifierStore(stack.clients.dynamodb, stack.topology.tables["notifier"].name, clock)
    hook = Subscription(
        id=str(uuid.uuid4()), user_id="dan", channel="webhook", target="https://h.example.com", status="active"
    )
    assert other_task.add_subscription(hook)
    clock.advance(CACHE_SECONDS - 0.5)
    event = started("dan")
    notifier.handle(event)
    assert notified(notifier, event, hook.id) == [False] and len(queries) == 1  # not yet seen here
    clock.advance(0.5)
    event = started("dan")
    notifier.handle(event)
    assert notified(notifier, event, hook.id) == [True] and len(queries) == 2


def test_no_cache_when_its_time_is_zero(make_notifier, clock, queries):
    notifier = make_notifier(clock=clock, cache=0)
    notifier.subscribe("eve", "webhook", "https://hooks.example.com/e")
    for _ in range(3):
        notifier.handle(started("eve"))
    assert queries == ["USER#eve"] * 3
