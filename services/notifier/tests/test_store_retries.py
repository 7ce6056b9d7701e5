"""The notifier's conditional writes when botocore retried one that DynamoDB had applied (its answer was
lost): the retry meets its own condition, and that is a success; a write of someone else is still a
conflict. The fault is real: the request reaches the embedded AWS, then its answer times out."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from snapinfra_notifier.adapters.store import Notification, Subscription

from .test_delivery import attempts, started


def notification(clock_now: float) -> Notification:
    return Notification(
        id=str(uuid.uuid4()),
        user_id="alice",
        subscription_id="s-1",
        subscription_user_id="alice",
        event_json='{"id": "e-1"}',
        kind="codegen.started",
        state="pending",
        attempts=0,
        next_at=clock_now,
        lease_until=0,
    )


def test_a_notification_created_by_a_retried_write_is_created_once(make_notifier, stack, lost_answers, clock):
    store = make_notifier(clock=clock).deps.store
    made = notification(clock())
    lost_answers.arm(stack.clients.dynamodb, "PutItem")
    assert store.create_notification(made) is True  # its own write: created, so its first attempt is queued
    assert lost_answers.lost == ["PutItem"]
    assert store.get_notification(made.id) == made
    # Another write under the same id (the same event, handled again) is not this one: False, as before.
    assert store.create_notification(replace(made, next_at=clock() + 1)) is False


def test_a_subscription_added_by_a_retried_write_is_added_once(make_notifier, stack, lost_answers):
    store = make_notifier().deps.store
    sub = Subscription(id=str(uuid.uuid4()), user_id="alice", channel="sms", target="+14155552671", status="active")
    lost_answers.arm(stack.clients.dynamodb, "PutItem")
    assert store.add_subscription(sub) is True
    assert lost_answers.lost == ["PutItem"]
    assert store.get_subscription("alice", sub.id).status == "active"
    store.cancel_subscription("alice", sub.id)
    assert store.add_subscription(sub) is False  # a tombstone is there: a genuine conflict
    assert store.get_subscription("alice", sub.id).status == "cancelled"


def test_a_claim_whose_answer_was_lost_still_makes_the_attempt_at_once(stack, receiver, make_notifier, lost_answers):
    hook = receiver(200)
    notifier = make_notifier()
    notifier.subscribe("alice", "webhook", hook.url)
    notifier.announced()
    notifier.handle(started("alice"))
    lost_answers.arm(stack.clients.dynamodb, "UpdateItem")  # the claim, the attempt's first update
    notifier.deliveries.poll_once()
    assert lost_answers.lost == ["UpdateItem"]
    assert len(hook.requests) == 1  # not put off by its own lease
    assert [(a["attempt"], a["outcome"]) for a in attempts(notifier)] == [(1, "succeeded")]


def test_a_settlement_whose_answer_was_lost_is_recorded_and_announced_once(
    stack, receiver, make_notifier, lost_answers
):
    hook = receiver(200)
    notifier = make_notifier()
    notifier.subscribe("alice", "webhook", hook.url)
    notifier.announced()
    notifier.handle(started("alice"))
    lost_answers.arm(stack.clients.dynamodb, "UpdateItem", after=1)  # the claim goes through; the settle not
    notifier.deliveries.poll_once()
    assert lost_answers.lost == ["UpdateItem"]
    assert [(a["attempt"], a["outcome"]) for a in attempts(notifier)] == [(1, "succeeded")]
    for _ in range(2):
        notifier.deliveries.poll_once()  # settled: the task was deleted, nothing comes back
    assert len(hook.requests) == 1 and attempts(notifier) == []


def test_a_claim_or_settlement_of_another_worker_is_still_a_conflict(make_notifier, clock):
    store = make_notifier(clock=clock).deps.store
    made = notification(clock())
    assert store.create_notification(made)
    assert store.claim_attempt(made, clock(), 30) is True
    assert store.claim_attempt(made, clock(), 30) is False  # another worker, at the very same time
    store.settle_attempt(made, "pending", clock() + 60)  # attempt 1 settled by the worker that claimed it
    with pytest.raises(ClientError) as conflict:
        store.settle_attempt(made, "succeeded", clock())  # a stale worker's settlement of the same attempt
    assert conflict.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    settled = store.get_notification(made.id)
    assert (settled.state, settled.attempts, settled.next_at) == ("pending", 1, clock() + 60)
