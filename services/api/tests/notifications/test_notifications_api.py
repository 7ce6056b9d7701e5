"""The notification endpoints against the embedded AWS: validation, the events the api publishes
for the notifier, confirmation by link and by SMS code, unsubscribing, and the projection of the
notifier's events."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime

import pytest

from snapinfra_api.adapters.limits import SlidingWindows
from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_api.notifications.projection import build_notification_handlers
from snapinfra_api.notifications.store import SubscriptionReadModel
from snapinfra_api.settings import ApiSettings
from snapinfra_shared.catalog import NotificationAttempted, SubscriptionActivated, SubscriptionDisabled
from snapinfra_shared.consumer import Delivery, parse_body
from snapinfra_shared.events import new_event
from snapinfra_shared.runtime import Dispatcher


@pytest.fixture
def deps(stack):
    settings = ApiSettings(
        auth_mode="dev",
        prefix=stack.prefix,
        s3_addressing_style="path",
        startup_timeout_seconds=5,
        webhook_allowed_hosts=["127.0.0.1"],
    )
    return build_dependencies(settings)


@pytest.fixture
def app(deps):
    return create_app(dependencies=deps)


def sent_to_notifier(stack) -> list:
    return [parse_body(m["Body"]) for m in stack.drain("notifier", wait=0)]


def project(deps, event) -> None:
    Dispatcher(build_notification_handlers(deps.notifications.read_model))(event, Delivery("m", 1, 5))


def notifier_event(type_, user, data):
    return new_event(type_, source="notifier", user_id=user, correlation_id="c", data=data)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/subscribe", {"email": "not-an-address"}, "email"),
        ("/subscribe/email", {"email": "someone@localhost"}, "email"),
        ("/subscribe/sms", {"phone": "4155552671"}, "phone"),
        ("/subscribe/sms", {"phone": "+1 415 555 2671"}, "phone"),
        ("/subscribe/sms", {"phone": "+1555"}, "phone"),
        ("/subscribe/webhook", {"url": "ftp://example.com/x"}, "url"),
        ("/subscribe/webhook", {"url": "http://example.com/hook"}, "url"),
        ("/subscribe/email", {"email": "a@example.com", "eventTypes": ["codegen.exploded"]}, "eventTypes"),
        ("/subscribe/email", {"email": "a@example.com", "statuses": ["melted"]}, "statuses"),
        ("/subscribe/email", {"email": "a@example.com", "projectId": "../x"}, "projectId"),
        ("/subscribe/email", {"email": "a@example.com", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(alice, path, body, field):
    response = alice.post(f"/api/notifications{path}", json=body)
    assert response.status_code == 422, response.json
    assert field in [f["field"] for f in response.json["error"]["fields"]]


def test_only_admins_may_ask_for_system_alerts(client, alice):
    refused = alice.post("/api/notifications/subscribe/email", json={"email": "a@example.com", "admin": True})
    assert refused.status_code == 403 and refused.json["error"]["fields"][0]["field"] == "admin"
    accepted = client.post(
        "/api/notifications/subscribe/email",
        json={"email": "ops@example.com", "admin": True},
        headers={"x-dev-user-id": "admin"},
    )
    assert accepted.status_code == 201 and accepted.json["admin"] is True


def test_a_webhook_subscription_shows_its_secret_once_and_hands_it_to_the_notifier(stack, alice):
    response = alice.post(
        "/api/notifications/subscribe/webhook",
        json={"url": "https://hooks.example.com/snapinfra", "eventTypes": ["deployment.*"], "projectId": "shop"},
    )
    assert response.status_code == 201, response.json
    sub = response.json
    assert sub["secret"].startswith("whsec_") and sub["status"] == "active" and sub["channel"] == "webhook"
    assert (sub["eventTypes"], sub["statuses"], sub["projectId"]) == (["deployment.*"], [], "shop")
    (event,) = sent_to_notifier(stack)
    assert event.type == "SubscriptionRequested" and event.user_id == "alice"
    assert event.data["signing_secret"] == sub["secret"] and event.data["subscription_id"] == sub["id"]
    listed = alice.get("/api/notifications/subscriptions").json
    assert [s["id"] for s in listed["items"]] == [sub["id"]] and "secret" not in listed["items"][0]
    local = alice.post("/api/notifications/subscribe/webhook", json={"url": "http://127.0.0.1:9/hook"})
    assert local.status_code == 201  # plain http to an allow-listed host


def test_an_email_subscription_is_confirmed_through_its_link(stack, client, alice, deps):
    created = alice.post("/api/notifications/subscribe", json={"email": "your-email@example.com"})
    assert created.status_code == 201 and created.json["status"] == "pending_confirmation"
    assert "secret" not in created.json
    (requested,) = sent_to_notifier(stack)
    token = requested.data["confirmation_token"]
    assert client.get("/api/notifications/confirm?token=" + "x" * 43).status_code == 404
    confirmed = client.get(f"/api/notifications/confirm?token={token}")  # no credentials: the token is one
    assert confirmed.status_code == 200 and confirmed.json == {
        "subscriptionId": created.json["id"],
        "status": "confirmed",
    }
    (event,) = sent_to_notifier(stack)
    assert event.type == "SubscriptionConfirmed" and event.user_id == "alice"
    assert client.get(f"/api/notifications/confirm?token={token}").status_code == 200  # a second click
    assert sent_to_notifier(stack) == []
    project(
        deps,
        notifier_event(
            "SubscriptionActivated",
            "alice",
            SubscriptionActivated(subscription_id=created.json["id"], activated_at=datetime.now(UTC)),
        ),
    )
    assert alice.get("/api/notifications/subscriptions").json["items"][0]["status"] == "active"


def test_unsubscribe_is_scoped_to_the_owner(stack, alice, bob):
    sub = alice.post("/api/notifications/subscribe/sms", json={"phone": "+14155552671"}).json
    sent_to_notifier(stack)
    assert bob.delete(f"/api/notifications/unsubscribe?id={sub['id']}").status_code == 404
    assert alice.delete(f"/api/notifications/unsubscribe?id={sub['id']}").status_code == 204
    (event,) = sent_to_notifier(stack)
    assert event.type == "SubscriptionCancelled" and event.data == {"subscription_id": sub["id"]}
    assert alice.get("/api/notifications/subscriptions").json["items"] == []
    assert alice.delete(f"/api/notifications/unsubscribe?id={sub['id']}").status_code == 404


def test_delivery_attempts_and_disabling_are_projected_for_their_owner_only(alice, bob, deps):
    sub = alice.post("/api/notifications/subscribe/webhook", json={"url": "https://h.example.com/"}).json
    other = alice.post("/api/notifications/subscribe/webhook", json={"url": "https://i.example.com/"}).json
    for attempt, outcome in ((1, "retrying"), (2, "failed")):
        event = notifier_event(
            "NotificationAttempted",
            "alice",
            NotificationAttempted(
                delivery_id=str(uuid.uuid4()),
                notification_id="n1",
                subscription_id=sub["id"],
                event_id=str(uuid.uuid4()),
                event_type="codegen.completed",
                channel="webhook",
                attempt=attempt,
                outcome=outcome,
                http_status=500,
                latency_ms=12,
                error="the receiver answered 500",
                at=datetime.now(UTC),
            ),
        )
        project(deps, event)
        project(deps, event)  # a redelivery changes nothing
    listed = alice.get(f"/api/notifications/deliveries?subscriptionId={sub['id']}").json
    assert [(d["attempt"], d["outcome"], d["httpStatus"]) for d in listed["items"]] == [
        (2, "failed", 500),
        (1, "retrying", 500),
    ]
    assert alice.get(f"/api/notifications/deliveries?subscriptionId={other['id']}").json["items"] == []
    first = alice.get("/api/notifications/deliveries?limit=1").json
    second = alice.get(f"/api/notifications/deliveries?limit=1&cursor={first['nextCursor']}").json
    assert [d["attempt"] for d in first["items"] + second["items"]] == [2, 1]
    assert bob.get("/api/notifications/deliveries").json["items"] == []
    project(
        deps,
        notifier_event(
            "SubscriptionDisabled",
            "alice",
            SubscriptionDisabled(subscription_id=sub["id"], reason="failing", disabled_at=datetime.now(UTC)),
        ),
    )
    project(
        deps,
        notifier_event(
            "SubscriptionActivated",
            "alice",
            SubscriptionActivated(subscription_id=sub["id"], activated_at=datetime.now(UTC)),
        ),
    )  # late: never undoes the disabling
    statuses = {s["id"]: s["status"] for s in alice.get("/api/notifications/subscriptions").json["items"]}
    assert statuses == {sub["id"]: "disabled", other["id"]: "active"}


# -- SMS confirmation by code ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))  # whole seconds: timestamps round-trip exactly

    def __call__(self) -> float:
        return self.now


def with_clock(deps, clock: Clock):
    """The notification use cases, their read model and their windows on an injected clock."""
    table = deps.resources.table
    deps.notifications = dataclasses.replace(
        deps.notifications,
        clock=clock,
        read_model=SubscriptionReadModel(deps.clients.dynamodb, table, clock=clock),
        windows=SlidingWindows(deps.clients.dynamodb, table, clock=clock),
    )
    return deps


def subscribe_sms(stack, owner, phone: str = "+14155552671") -> tuple[dict, str]:
    """Subscribe `phone`; the subscription and the code the notifier was asked to text."""
    created = owner.post("/api/notifications/subscribe/sms", json={"phone": phone})
    assert created.status_code == 201, created.json
    (requested,) = sent_to_notifier(stack)
    return created.json, requested.data["confirmation_code"]


def confirm(owner, sub_id: str, code: str):
    return owner.post(f"/api/notifications/subscriptions/{sub_id}/confirm", json={"code": code})


def other(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_an_sms_subscription_is_pending_until_the_texted_code_is_confirmed(stack, alice, bob, deps):
    sub, code = subscribe_sms(stack, alice)
    assert sub["status"] == "pending_confirmation" and re.fullmatch(r"[0-9]{6}", code)
    item = deps.clients.dynamodb.get_item(
        TableName=deps.resources.table, Key={"pk": {"S": "USER#alice"}, "sk": {"S": f"NOTIFSUB#{sub['id']}"}}
    )["Item"]
    expected = hmac.new(sub["id"].encode(), code.encode(), hashlib.sha256).hexdigest()
    assert item["code_hash"]["S"] == expected  # only the HMAC is kept, keyed by the subscription
    assert code not in json.dumps(item)
    assert confirm(bob, sub["id"], code).status_code == 404  # another user's subscription
    wrong = confirm(alice, sub["id"], other(code))
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "wrong_code"
    assert wrong.json["error"]["fields"][0]["field"] == "code" and "4 attempts left" in wrong.json["error"]["message"]
    malformed = confirm(alice, sub["id"], "12345")
    assert malformed.status_code == 422 and malformed.json["error"]["fields"][0]["field"] == "code"
    assert sent_to_notifier(stack) == []
    confirmed = confirm(alice, sub["id"], code)
    assert confirmed.status_code == 200 and confirmed.json == {"subscriptionId": sub["id"], "status": "confirmed"}
    (event,) = sent_to_notifier(stack)
    assert (event.type, event.user_id, event.data["subscription_id"]) == ("SubscriptionConfirmed", "alice", sub["id"])
    assert confirm(alice, sub["id"], code).status_code == 200  # again: confirmed already, nothing sent
    assert sent_to_notifier(stack) == []
    assert alice.get("/api/notifications/subscriptions").json["items"][0]["status"] == "pending_confirmation"
    project(
        deps,
        notifier_event(
            "SubscriptionActivated",
            "alice",
            SubscriptionActivated(subscription_id=sub["id"], activated_at=datetime.now(UTC)),
        ),
    )
    assert alice.get("/api/notifications/subscriptions").json["items"][0]["status"] == "active"


def test_an_expired_code_is_refused_and_a_new_one_replaces_it(stack, alice, deps):
    clock = Clock()
    with_clock(deps, clock)
    sub, code = subscribe_sms(stack, alice)
    clock.now += 600  # the code's ten minutes are over
    expired = confirm(alice, sub["id"], code)
    assert expired.status_code == 410 and expired.json["error"]["code"] == "code_expired"
    assert f"/subscriptions/{sub['id']}/resend" in expired.json["error"]["message"]
    resent = alice.post(f"/api/notifications/subscriptions/{sub['id']}/resend")
    assert resent.status_code == 202, resent.json
    (event,) = sent_to_notifier(stack)
    assert event.type == "SubscriptionCodeReissued" and event.data["subscription_id"] == sub["id"]
    new = event.data["confirmation_code"]
    assert datetime.fromisoformat(resent.json["expiresAt"]).timestamp() == clock.now + 600
    if new != code:  # the old code no longer works (one chance in a million that they are the same)
        assert confirm(alice, sub["id"], code).json["error"]["code"] == "wrong_code"
    clock.now += 599
    assert confirm(alice, sub["id"], new).status_code == 200
    assert alice.post(f"/api/notifications/subscriptions/{sub['id']}/resend").status_code == 409  # confirmed


def test_after_too_many_attempts_the_code_is_void(stack, alice, deps):
    sub, code = subscribe_sms(stack, alice)
    answers = [confirm(alice, sub["id"], other(code)) for _ in range(5)]
    assert [a.status_code for a in answers] == [422] * 5
    assert "last attempt" in answers[-1].json["error"]["message"]
    exhausted = confirm(alice, sub["id"], code)  # the right code, too late
    assert exhausted.status_code == 410 and exhausted.json["error"]["code"] == "code_exhausted"
    assert sent_to_notifier(stack) == []
    assert alice.post(f"/api/notifications/subscriptions/{sub['id']}/resend").status_code == 202
    (event,) = sent_to_notifier(stack)
    assert confirm(alice, sub["id"], event.data["confirmation_code"]).status_code == 200


def test_only_a_pending_sms_subscription_takes_a_code(stack, alice):
    mail = alice.post("/api/notifications/subscribe/email", json={"email": "a@example.com"}).json
    hook = alice.post("/api/notifications/subscribe/webhook", json={"url": "https://h.example.com/"}).json
    for sub in (mail, hook):
        refused = confirm(alice, sub["id"], "123456")
        assert refused.status_code == 409 and refused.json["error"]["code"] == "no_code_pending"
        assert alice.post(f"/api/notifications/subscriptions/{sub['id']}/resend").status_code == 409
    assert confirm(alice, "not-an-id", "123456").status_code == 404
    assert alice.post(f"/api/notifications/subscriptions/{uuid.uuid4()}/resend").status_code == 404


# -- a transaction DynamoDB applied, whose answer was lost: botocore's retry meets its own condition -------


def test_a_subscription_whose_applied_transaction_botocore_retried_is_created_once(stack, alice, deps, lost_answers):
    lost_answers.arm(deps.clients.dynamodb, "TransactWriteItems")
    created = alice.post("/api/notifications/subscribe/sms", json={"phone": "+14155552671"})
    assert lost_answers.lost == ["TransactWriteItems"]
    assert created.status_code == 201, created.json
    assert [s["id"] for s in alice.get("/api/notifications/subscriptions").json["items"]] == [created.json["id"]]
    (event,) = sent_to_notifier(stack)
    assert event.type == "SubscriptionRequested" and event.data["subscription_id"] == created.json["id"]


def test_a_subscription_that_meets_another_under_its_key_still_conflicts(stack, alice, deps, lost_answers):
    from dataclasses import replace

    from botocore.exceptions import ClientError

    from snapinfra_api.notifications.use_cases import target_key

    created = alice.post("/api/notifications/subscribe/sms", json={"phone": "+14155552671"}).json
    (event,) = sent_to_notifier(stack)
    existing = deps.notifications.read_model.get("alice", created["id"])
    other_event = event.model_copy(update={"id": uuid.uuid4()})  # another request, under the same id
    lost_answers.arm(deps.clients.dynamodb, "TransactWriteItems")
    with pytest.raises(ClientError) as conflict:
        deps.notifications.read_model.add(
            replace(existing, target="+14155550000"),
            other_event,
            None,
            target_key=target_key("sms", "+14155550000"),
            cap=100,
        )
    assert lost_answers.lost == ["TransactWriteItems"]
    assert conflict.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert deps.notifications.read_model.get("alice", created["id"]).target == "+14155552671"


def test_an_unsubscribe_whose_applied_transaction_botocore_retried_answers_204(stack, alice, deps, lost_answers):
    sub = alice.post("/api/notifications/subscribe/sms", json={"phone": "+14155552671"}).json
    sent_to_notifier(stack)
    lost_answers.arm(deps.clients.dynamodb, "TransactWriteItems")
    assert alice.delete(f"/api/notifications/unsubscribe?id={sub['id']}").status_code == 204
    assert lost_answers.lost == ["TransactWriteItems"]
    (event,) = sent_to_notifier(stack)
    assert event.type == "SubscriptionCancelled" and event.data == {"subscription_id": sub["id"]}
    assert alice.delete(f"/api/notifications/unsubscribe?id={sub['id']}").status_code == 404


def test_a_confirmation_whose_applied_transaction_botocore_retried_is_announced_once(
    stack, client, alice, deps, lost_answers
):
    alice.post("/api/notifications/subscribe", json={"email": "your-email@example.com"})
    (requested,) = sent_to_notifier(stack)
    lost_answers.arm(deps.clients.dynamodb, "TransactWriteItems")
    confirmed = client.get(f"/api/notifications/confirm?token={requested.data['confirmation_token']}")
    assert lost_answers.lost == ["TransactWriteItems"]
    assert confirmed.status_code == 200 and confirmed.json["status"] == "confirmed"
    (event,) = sent_to_notifier(stack)  # published at once, not left to the relay
    assert event.type == "SubscriptionConfirmed"
