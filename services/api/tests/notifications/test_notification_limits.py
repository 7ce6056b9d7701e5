"""Subscribing cannot be turned on a victim or the system: a per-user bucket on the subscribe and
confirm routes, a per-target allowance of confirmation messages whoever asks, a cap on subscriptions
per user, and one target once per user."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import uuid

import pytest

from snapinfra_api.adapters.limits import SlidingWindows
from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_api.notifications.store import DuplicateTarget
from snapinfra_api.notifications.use_cases import code_hmac, target_key
from snapinfra_shared.catalog import SubscriptionFilters

from ..conftest import As, api_settings
from .test_notifications_api import Clock, confirm, sent_to_notifier, with_clock

VICTIM = "+14155552671"


def client_with(stack, **settings):
    deps = build_dependencies(api_settings(stack, **settings))
    return deps, create_app(dependencies=deps).test_client()


def confirmation_messages(stack, target: str) -> list[str]:
    """The confirmation messages the notifier was asked to send to `target` (each one is sent once)."""
    events = sent_to_notifier(stack)
    requested = {e.data["subscription_id"]: e.data["target"] for e in events if e.type == "SubscriptionRequested"}
    found = []
    for e in events:
        if e.type == "SubscriptionRequested" and e.data["target"].lower() == target.lower():
            found.append(e.data["confirmation_code"] or e.data["confirmation_token"])
        elif e.type == "SubscriptionCodeReissued" and requested.get(e.data["subscription_id"]) == target:
            found.append(e.data["confirmation_code"])
    return found


def test_twenty_accounts_trying_twenty_times_text_the_victim_only_its_allowance(stack, capsys):
    deps, client = client_with(stack)  # the defaults: 3 confirmation messages per target per 24 h
    clock = Clock()
    with_clock(deps, clock)
    statuses: collections.Counter[str] = collections.Counter()
    for n in range(20):
        attacker = As(client, f"attacker-{n}")
        sub_id = None
        for _ in range(20):
            if sub_id is None:
                answer = attacker.post("/api/notifications/subscribe/sms", json={"phone": VICTIM})
                if answer.status_code == 201:
                    sub_id = answer.json["id"]
            else:  # subscribed: ask for a new code instead
                answer = attacker.post(f"/api/notifications/subscriptions/{sub_id}/resend")
            statuses[f"{answer.status_code} {answer.json['error']['code'] if answer.status_code >= 400 else ''}"] += 1
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) >= 1
    texts = confirmation_messages(stack, VICTIM)
    with capsys.disabled():
        print(f"\n20 accounts x 20 attempts on one number: {len(texts)} confirmation texts; answers {dict(statuses)}")
    assert len(texts) == deps.settings.confirmations_per_target == 3
    assert statuses["429 target_rate_limited"] > 0 and statuses["429 rate_limited"] > 0
    # A day later the number may be asked again, once per message of its allowance.
    clock.now += 24 * 3600
    late = As(client, "latecomer").post("/api/notifications/subscribe/sms", json={"phone": VICTIM})
    assert late.status_code == 201
    assert len(confirmation_messages(stack, VICTIM)) == 1


def test_an_email_address_has_the_same_allowance_whatever_its_case(stack):
    _, client = client_with(stack)
    answers = [
        As(client, f"u{n}").post("/api/notifications/subscribe/email", json={"email": address})
        for n, address in enumerate(
            ["Victim@Example.com", "victim@example.com", "VICTIM@example.com", "victim@Example.COM"]
        )
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    refused = answers[-1]
    assert refused.json["error"]["code"] == "target_rate_limited" and int(refused.headers["Retry-After"]) > 80_000
    assert len(confirmation_messages(stack, "victim@example.com")) == 3


def test_a_user_over_the_bucket_gets_429_on_subscribe_and_confirm_routes(stack):
    _, client = client_with(stack, subscription_rate_per_minute=0.5, subscription_rate_burst=3)
    alice, bob = As(client, "alice"), As(client, "bob")
    answers = [
        alice.post("/api/notifications/subscribe/webhook", json={"url": f"https://h{n}.example.com/"}) for n in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    for refused in (
        alice.post("/api/notifications/subscribe/sms", json={"phone": VICTIM}),
        confirm(alice, answers[0].json["id"], "123456"),
        alice.post(f"/api/notifications/subscriptions/{answers[0].json['id']}/resend"),
    ):
        assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 100  # one token every two minutes
    assert bob.post("/api/notifications/subscribe/sms", json={"phone": VICTIM}).status_code == 201  # bob's own
    assert alice.get("/api/notifications/subscriptions").status_code == 200  # listing is not limited


def test_a_user_holds_at_most_the_cap(stack):
    _, client = client_with(stack, max_subscriptions_per_user=3)
    alice = As(client, "alice")
    made = [
        alice.post("/api/notifications/subscribe/webhook", json={"url": f"https://h{n}.example.com/"}) for n in range(3)
    ]
    assert [m.status_code for m in made] == [201, 201, 201]
    refused = alice.post("/api/notifications/subscribe/email", json={"email": "a@example.com"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "too_many_subscriptions"
    assert "3 subscriptions" in refused.json["error"]["message"]
    assert alice.delete(f"/api/notifications/unsubscribe?id={made[0].json['id']}").status_code == 204
    assert alice.post("/api/notifications/subscribe/email", json={"email": "a@example.com"}).status_code == 201
    assert (
        As(client, "bob")
        .post("/api/notifications/subscribe/webhook", json={"url": "https://h0.example.com/"})
        .status_code
        == 201
    )


@pytest.mark.parametrize(
    ("path", "first", "again", "field"),
    [
        ("email", {"email": "Ann@Example.com"}, {"email": "ann@example.com", "statuses": ["failed"]}, "email"),
        ("sms", {"phone": VICTIM}, {"phone": VICTIM, "projectId": "shop"}, "phone"),
        ("webhook", {"url": "https://h.example.com/x"}, {"url": "https://h.example.com/x"}, "url"),
    ],
)
def test_the_same_target_twice_is_409_naming_the_subscription(stack, path, first, again, field):
    _, client = client_with(stack)
    alice = As(client, "alice")
    created = alice.post(f"/api/notifications/subscribe/{path}", json=first)
    assert created.status_code == 201
    sent_to_notifier(stack)
    duplicate = alice.post(f"/api/notifications/subscribe/{path}", json=again)
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "duplicate_subscription"
    assert created.json["id"] in duplicate.json["error"]["message"]
    assert duplicate.json["error"]["fields"][0]["field"] == field
    assert sent_to_notifier(stack) == []  # nothing sent, nothing counted against the target
    assert len(alice.get("/api/notifications/subscriptions").json["items"]) == 1
    assert alice.delete(f"/api/notifications/unsubscribe?id={created.json['id']}").status_code == 204
    assert alice.post(f"/api/notifications/subscribe/{path}", json=again).status_code == 201  # free again


def test_the_public_confirmation_link_takes_from_its_owners_bucket(stack):
    _, client = client_with(stack, subscription_rate_per_minute=0.5, subscription_rate_burst=2)
    created = As(client, "alice").post("/api/notifications/subscribe/email", json={"email": "a@example.com"})
    (requested,) = sent_to_notifier(stack)
    link = f"/api/notifications/confirm?token={requested.data['confirmation_token']}"
    first = client.get(link)
    assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == "0"
    again = client.get(link)
    assert again.status_code == 429 and again.json["error"]["code"] == "rate_limited"
    assert client.get("/api/notifications/confirm?token=" + "x" * 43).status_code == 404  # unknown: no bucket
    assert created.status_code == 201


def test_a_retried_write_that_was_applied_is_read_back_not_refused(stack, deps):
    """A subscription's transaction retried after a timeout finds its own writes: not a duplicate."""
    notifications = deps.notifications
    created = notifications.subscribe(
        user_id="alice",
        channel="sms",
        target=VICTIM,
        filters=SubscriptionFilters(),
        admin=False,
        correlation_id="c",
    )
    sub = created.subscription
    (event,) = sent_to_notifier(stack)
    key = target_key("sms", VICTIM)
    code = (code_hmac(sub.id, "123456"), int(time.time()) + 600)
    notifications.read_model.add(sub, event, None, target_key=key, cap=25, code=code)  # the same write again
    assert notifications.read_model.count("alice") == 1
    other = dataclasses.replace(sub, id=str(uuid.uuid4()))
    with pytest.raises(DuplicateTarget) as raised:
        notifications.read_model.add(other, event, None, target_key=key, cap=25, code=code)
    assert raised.value.args[0] == sub.id


def test_concurrent_takers_never_overdraw_a_window(stack):
    """Twenty threads race for a window of three: exactly three win (compare-and-set in DynamoDB)."""
    windows = SlidingWindows(stack.clients.dynamodb, stack.topology.tables["api"].name)
    results: list[bool] = []
    start = threading.Barrier(20)

    def take() -> None:
        start.wait()
        results.append(windows.take("TARGET#racer", limit=3, window=3600).allowed)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 17 + [True] * 3
