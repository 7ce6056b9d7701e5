"""The notifier's handlers and delivery queue with their real adapters against the embedded AWS,
webhooks to a receiver on 127.0.0.1, emails and SMS read back from the embedded AWS's stores."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from snapinfra_notifier import messages
from snapinfra_shared.catalog import (
    Artifact,
    CodeGenerationCompleted,
    CodeGenerationFailed,
    CodeGenerationStarted,
    DeploymentRequested,
    DeploymentStarted,
    SubscriptionCodeReissued,
    SubscriptionConfirmed,
)
from snapinfra_shared.consumer import NotYet
from snapinfra_shared.events import Envelope, new_event

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the one the harness subscribes webhooks with


def started(user: str, project: str = "shop") -> Envelope:
    data = CodeGenerationStarted(job_id=str(uuid.uuid4()), project_id=project, generator="templated", attempt=1)
    return new_event("CodeGenerationStarted", source="codegen", user_id=user, correlation_id="c1", data=data)


def failed(user: str, project: str = "shop") -> Envelope:
    data = CodeGenerationFailed(job_id=str(uuid.uuid4()), project_id=project, reason="no entities", attempts=1)
    return new_event("CodeGenerationFailed", source="codegen", user_id=user, correlation_id="c1", data=data)


def completed(stack, user: str, *, diagram: bool = False) -> Envelope:
    key = f"codegen/{user}/job/shop.zip"
    stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=key, Body=b"PK-zip-bytes")
    diagram_key = f"codegen/{user}/job/architecture.svg" if diagram else None
    if diagram_key:
        stack.clients.s3.put_object(Bucket=stack.topology.bucket, Key=diagram_key, Body=b"<svg>Book</svg>")
    artifact = Artifact(
        bucket=stack.topology.bucket,
        key=key,
        manifest_key="m",
        size_bytes=12,
        file_count=3,
        sha256="ab",
        diagram_key=diagram_key,
    )
    data = CodeGenerationCompleted(
        job_id=str(uuid.uuid4()),
        project_id="shop",
        project_type="api",
        generator="templated",
        artifact=artifact,
        completed_at=datetime.now(UTC),
    )
    return new_event("CodeGenerationCompleted", source="codegen", user_id=user, correlation_id="c1", data=data)


def attempts(notifier) -> list[dict]:
    return [e.data for e in notifier.announced() if e.type == "NotificationAttempted"]


def test_a_webhook_gets_the_event_signed_the_standard_webhooks_way(stack, receiver, make_notifier):
    hook = receiver(200)
    notifier = make_notifier()
    sub = notifier.subscribe("alice", "webhook", hook.url)
    assert [e.type for e in notifier.announced()] == ["SubscriptionActivated"]
    event = started("alice")
    notifier.handle(event)
    notifier.run_deliveries(lambda: len(hook.requests) == 1)
    headers, body = hook.requests[0]
    payload = Webhook(SECRET).verify(body, headers)  # the library's own check, not ours
    assert payload["kind"] == "codegen.started" and payload["id"] == str(event.id)
    assert payload["data"]["project_id"] == "shop"
    with pytest.raises(WebhookVerificationError, match="No matching signature"):  # not the timestamp's check
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    (attempt,) = attempts(notifier)
    assert (attempt["subscription_id"], attempt["outcome"], attempt["http_status"]) == (sub, "succeeded", 200)


def test_a_receiver_failing_twice_gets_exactly_one_successful_delivery_on_the_schedule(
    stack, receiver, make_notifier, clock
):
    hook = receiver(500, 503, 200)
    notifier = make_notifier(schedule=(60.0, 120.0, 300.0), clock=clock)
    notifier.subscribe("alice", "webhook", hook.url)
    notifier.announced()
    event, start = started("alice"), clock()
    notifier.handle(event)
    notifier.handle(event, receive_count=2)  # the event delivered twice: still one notification
    notifier.run_deliveries(lambda: len(hook.requests) == 1)
    for wait, sent in ((60, 2), (120, 3)):
        for _ in range(3):
            notifier.deliveries.poll_once()  # back from the queue before it is due: not attempted
        assert len(hook.requests) == sent - 1
        clock.advance(wait)
        notifier.run_deliveries(lambda sent=sent: len(hook.requests) == sent)
    clock.advance(3600)
    for _ in range(3):
        notifier.deliveries.poll_once()  # nothing more comes: no fourth request
    assert len(hook.requests) == 3
    assert len({h["webhook-id"] for h, _ in hook.requests}) == 1  # one message id across retries
    outcomes = [(a["attempt"], a["outcome"], a["http_status"], _seconds(a["at"]) - start) for a in attempts(notifier)]
    assert outcomes == [(1, "retrying", 500, 0), (2, "retrying", 503, 60), (3, "succeeded", 200, 180)]
    assert 60 in notifier.delivery_queue.delays and 120 in notifier.delivery_queue.delays  # asked of the queue


def _seconds(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


def test_a_receiver_that_always_fails_ends_failed_and_its_subscription_disabled(
    stack, receiver, make_notifier, emails_to, clock
):
    hook = receiver(500)
    notifier = make_notifier(schedule=(60.0, 60.0), disable_after=90.0, clock=clock)
    email = f"carol-{uuid.uuid4().hex[:8]}@example.com"
    mail_sub = notifier.subscribe("carol", "email", email, token="t" * 32)
    notifier.handle(
        new_event(
            "SubscriptionConfirmed",
            source="api",
            user_id="carol",
            correlation_id="c",
            data=SubscriptionConfirmed(subscription_id=mail_sub, confirmed_at=datetime.now(UTC)),
        )
    )
    hook_sub = notifier.subscribe("carol", "webhook", hook.url, event_types=["codegen.*"])
    notifier.announced()
    notifier.handle(started("carol"))
    notifier.run_deliveries(lambda: len(hook.requests) == 1)
    clock.advance(60)
    notifier.run_deliveries(lambda: len(hook.requests) == 2)
    assert notifier.deps.store.get_subscription("carol", hook_sub).status == "active"  # failing 60 s, not 90
    clock.advance(60)
    notifier.run_deliveries(lambda: notifier.deps.store.get_subscription("carol", hook_sub).status == "disabled")
    events = notifier.announced()
    webhook_attempts = [e.data for e in events if e.type == "NotificationAttempted" and e.data["channel"] == "webhook"]
    assert [a["outcome"] for a in webhook_attempts] == ["retrying", "retrying", "failed"]
    disabled = [e for e in events if e.type == "SubscriptionDisabled"]
    assert [e.data["subscription_id"] for e in disabled] == [hook_sub]
    told = [m for m in emails_to(email) if "disabled" in m["subject"]]
    assert len(told) == 1 and hook_sub in told[0]["body"]
    notifier.handle(started("carol"))  # a disabled subscription gets nothing more
    for _ in range(2):
        notifier.deliveries.poll_once()
    assert len(hook.requests) == 3


def test_addresses_that_are_not_public_are_refused_unless_allow_listed(stack, receiver, make_notifier):
    hook = receiver(200)
    notifier = make_notifier(allow=())
    port = hook.url.split(":")[2].split("/")[0]
    for url in (f"https://localhost:{port}/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest"):
        notifier.subscribe("dave", "webhook", url)
    notifier.announced()
    notifier.handle(started("dave"))
    seen: list[dict] = []
    notifier.run_deliveries(lambda: len(seen.__iadd__(attempts(notifier))) >= 3)
    assert sorted(a["outcome"] for a in seen) == ["refused"] * 3
    errors = sorted(a["error"] for a in seen)
    assert any("127.0.0.1" in e for e in errors) and any("10.1.2.3" in e for e in errors)
    assert any("169.254.169.254" in e for e in errors)
    assert hook.requests == []  # nothing was sent


def test_ipv6_forms_of_internal_addresses_are_refused_through_the_whole_notifier(stack, receiver, make_notifier):
    hook = receiver(200)
    notifier = make_notifier(allow=("127.0.0.1",))  # loopback allowed as IPv4, never through an IPv6 form
    port = hook.url.split(":")[2].split("/")[0]
    forms = ["2002:7f00:1::1", "2002:a9fe:a9fe::1", "fec0::1", "64:ff9b::7f00:1", "::ffff:127.0.0.1", "::127.0.0.1"]
    for form in forms:
        notifier.subscribe("gina", "webhook", f"https://[{form}]:{port}/hook")
    notifier.announced()
    notifier.handle(started("gina"))
    seen: list[dict] = []
    notifier.run_deliveries(lambda: len(seen.__iadd__(attempts(notifier))) >= len(forms))
    assert [a["outcome"] for a in seen] == ["refused"] * len(forms)
    assert all("not a public address" in a["error"] for a in seen)
    assert hook.requests == []


def test_plain_http_is_refused_to_hosts_off_the_allow_list(stack, receiver, make_notifier):
    hook = receiver(200)
    notifier = make_notifier(allow=("10.0.0.0/8",))  # admits private addresses there, not http to loopback
    notifier.subscribe("erin", "webhook", hook.url)
    notifier.announced()
    notifier.handle(started("erin"))
    seen: list[dict] = []
    notifier.run_deliveries(lambda: len(seen.__iadd__(attempts(notifier))) >= 1)
    assert seen[0]["outcome"] == "refused" and "http" in seen[0]["error"]
    assert hook.requests == []


def test_two_users_never_see_each_others_events(stack, receiver, make_notifier):
    alice_hook, bob_hook = receiver(200), receiver(200)
    notifier = make_notifier()
    notifier.subscribe("alice", "webhook", alice_hook.url)
    notifier.subscribe("bob", "webhook", bob_hook.url)
    alice_event, bob_event = started("alice"), failed("bob")
    notifier.handle(alice_event)
    notifier.handle(bob_event)
    notifier.run_deliveries(lambda: len(alice_hook.requests) == 1 and len(bob_hook.requests) == 1)
    for _ in range(2):
        notifier.deliveries.poll_once()
    assert [Webhook(SECRET).verify(b, h)["id"] for h, b in alice_hook.requests] == [str(alice_event.id)]
    assert [Webhook(SECRET).verify(b, h)["id"] for h, b in bob_hook.requests] == [str(bob_event.id)]
    by_user = {e.user_id for e in notifier.announced() if e.type == "NotificationAttempted"}
    assert by_user == {"alice", "bob"}


def test_filters_choose_kinds_statuses_and_project(stack, receiver, make_notifier):
    hooks = {name: receiver(200) for name in ("globs", "failed", "project", "all")}
    notifier = make_notifier()
    notifier.subscribe("fay", "webhook", hooks["globs"].url, event_types=["deployment.*"])
    notifier.subscribe("fay", "webhook", hooks["failed"].url, statuses=["failed"])
    notifier.subscribe("fay", "webhook", hooks["project"].url, project_id="other")
    notifier.subscribe("fay", "webhook", hooks["all"].url)
    deployment = DeploymentRequested(
        deployment_id="d1",
        code_gen_id="j",
        project_id="other",
        environment="dev",
        stack_name="s",
        artifact=Artifact(bucket="b", key="k", manifest_key="m", size_bytes=1, file_count=1, sha256="x"),
        template_path="t",
    )
    events = [
        started("fay"),
        failed("fay"),
        new_event("DeploymentRequested", source="api", user_id="fay", correlation_id="c", data=deployment),
        new_event(
            "DeploymentStarted",
            source="deployer",
            user_id="fay",
            correlation_id="c",
            data=DeploymentStarted(deployment_id="d1", stack_name="s", region="us-east-1", attempt=1),
        ),
    ]
    for event in events:
        notifier.handle(event)
    notifier.run_deliveries(lambda: len(hooks["all"].requests) == 4)
    for _ in range(2):
        notifier.deliveries.poll_once()

    def kinds(name: str) -> list[str]:
        return sorted(Webhook(SECRET).verify(b, h)["kind"] for h, b in hooks[name].requests)

    assert kinds("globs") == ["deployment.queued", "deployment.started"]
    assert kinds("failed") == ["codegen.failed"]
    assert kinds("project") == ["deployment.queued", "deployment.started"]  # the project known from Requested
    assert len(kinds("all")) == 4


def test_email_needs_confirmation_and_the_completion_email_carries_the_download_link(
    stack, make_notifier, emails_to, sms_to
):
    notifier = make_notifier()
    email = f"gus-{uuid.uuid4().hex[:8]}@example.com"
    token = uuid.uuid4().hex * 2
    sub = notifier.subscribe("gus", "email", email, token=token)
    (confirmation,) = emails_to(email)
    assert f"/api/notifications/confirm?token={token}" in confirmation["body"]
    notifier.handle(started("gus"))  # not confirmed yet: nothing is sent
    assert emails_to(email) == [confirmation]
    notifier.handle(
        new_event(
            "SubscriptionConfirmed",
            source="api",
            user_id="gus",
            correlation_id="c",
            data=SubscriptionConfirmed(subscription_id=sub, confirmed_at=datetime.now(UTC)),
        )
    )
    assert [e.type for e in notifier.announced()] == ["SubscriptionActivated"]
    notifier.handle(completed(stack, "gus", diagram=True))
    notifier.run_deliveries(lambda: len(emails_to(email)) == 2)
    mail = emails_to(email)[1]
    assert mail["subject"] == "Your project shop is ready to download"
    link = re.search(r'href="([^"]+)">Download the project', mail["body"]).group(1).replace("&amp;", "&")
    assert requests.get(link, timeout=10).content == b"PK-zip-bytes"  # the presigned link works
    diagram = re.search(r'href="([^"]+)">See its architecture diagram', mail["body"]).group(1).replace("&amp;", "&")
    assert requests.get(diagram, timeout=10).content == b"<svg>Book</svg>"
    assert re.search(r"/api/code-gen/[0-9a-f-]{36}/diagram</code>", mail["body"])


def confirmed(user: str, sub: str) -> Envelope:
    data = SubscriptionConfirmed(subscription_id=sub, confirmed_at=datetime.now(UTC))
    return new_event("SubscriptionConfirmed", source="api", user_id=user, correlation_id="c", data=data)


def reissued(user: str, sub: str, code: str, issued_at: datetime) -> Envelope:
    data = SubscriptionCodeReissued(
        subscription_id=sub,
        confirmation_code=code,
        confirmation_expires_at=issued_at + timedelta(minutes=10),
        issued_at=issued_at,
    )
    return new_event("SubscriptionCodeReissued", source="api", user_id=user, correlation_id="c", data=data)


def test_an_unconfirmed_number_gets_its_codes_and_nothing_else(stack, make_notifier, sms_to):
    notifier = make_notifier()
    phone = "+1415555" + str(uuid.uuid4().int)[:4]
    sub = str(uuid.uuid4())
    request = notifier.requested("hal", sub, "sms", phone, code="123456", statuses=["failed"])
    notifier.handle(request)
    notifier.handle(request, receive_count=2)  # redelivered: texted once
    (first,) = sms_to(phone)
    assert first["message"].startswith("Snapinfra code: 123456. Enter it within 10 min")
    assert len(first["message"]) <= 160
    assert notifier.announced() == []  # pending: not activated
    notifier.handle(failed("hal"))  # a job event for a pending number: nothing is queued, nothing sent
    for _ in range(2):
        notifier.deliveries.poll_once()
    assert notifier.announced() == [] and len(sms_to(phone)) == 1
    later = datetime.now(UTC) + timedelta(seconds=5)
    notifier.handle(reissued("hal", sub, "654321", later))
    notifier.handle(reissued("hal", sub, "654321", later), receive_count=2)  # redelivered
    notifier.handle(reissued("hal", sub, "111111", later - timedelta(seconds=1)))  # older than the one sent
    assert [m["message"].split(".")[0] for m in sms_to(phone)] == ["Snapinfra code: 123456", "Snapinfra code: 654321"]

    notifier.handle(confirmed("hal", sub))
    assert [e.type for e in notifier.announced()] == ["SubscriptionActivated"]
    notifier.handle(reissued("hal", sub, "222222", later + timedelta(seconds=1)))  # confirmed: no more codes
    notifier.handle(failed("hal"))
    notifier.run_deliveries(lambda: len(sms_to(phone)) == 3)
    sms = sms_to(phone)[2]
    assert sms["message"] == "Snapinfra: Code generation failed for shop. no entities"
    assert len(sms["message"]) <= 160


def test_a_code_for_a_subscription_not_yet_arrived_waits(stack, make_notifier, sms_to):
    notifier = make_notifier()
    phone = "+1415555" + str(uuid.uuid4().int)[:4]
    sub = str(uuid.uuid4())
    with pytest.raises(NotYet):  # the consumer retries it later
        notifier.handle(reissued("ida", sub, "654321", datetime.now(UTC)))
    notifier.handle(notifier.requested("ida", sub, "sms", phone, code="123456"))
    notifier.handle(reissued("ida", sub, "654321", datetime.now(UTC) + timedelta(seconds=1)), receive_count=2)
    assert [m["message"][:22] for m in sms_to(phone)] == ["Snapinfra code: 123456", "Snapinfra code: 654321"]


def test_a_dead_lettered_message_alerts_the_admin_subscriptions_only(stack, receiver, make_notifier):
    from snapinfra_shared.catalog import MessageDeadLettered

    admin_hook, user_hook = receiver(200), receiver(200)
    notifier = make_notifier()
    notifier.subscribe("admin", "webhook", admin_hook.url, admin=True)
    notifier.subscribe("ivy", "webhook", user_hook.url)
    alert = new_event(
        "CodegenMessageDeadLettered",
        source="codegen",
        user_id="system",
        correlation_id="c",
        data=MessageDeadLettered(queue="q", message_id="m1", event_type="CodeGenerationRequested", error="boom"),
    )
    notifier.handle(alert)
    notifier.run_deliveries(lambda: len(admin_hook.requests) == 1)
    notifier.deliveries.poll_once()
    payload = Webhook(SECRET).verify(admin_hook.requests[0][1], admin_hook.requests[0][0])
    assert payload["kind"] == "system.dead_lettered" and payload["data"]["error"] == "boom"
    assert user_hook.requests == []


@pytest.mark.parametrize(
    "stray",
    [
        {"type": "CodeGenerationCompleted", "source": "codegen", "data": {"notification_id": "n-1"}},
        {"type": "NotificationDue", "source": "notifier", "data": {}},
        {"type": "NotificationDue", "source": "notifier", "data": {"notification_id": "n-1", "due_at": "soon"}},
    ],
    ids=["another-type", "no-notification-id", "due-at-not-a-number"],
)
def test_a_stray_envelope_on_the_delivery_queue_goes_to_its_dlq_not_deleted(stack, make_notifier, stray):
    notifier = make_notifier()
    envelope = Envelope(
        id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        correlation_id="c-stray",
        user_id="user-1",
        **stray,
    )
    sqs = stack.clients.sqs
    sqs.send_message(QueueUrl=notifier.delivery_url, MessageBody=envelope.model_dump_json())
    results = notifier.deliveries.poll_once()
    assert [r.outcome for r in results] == ["poison"]
    dead = sqs.receive_message(QueueUrl=notifier.deliveries.dlq_url, WaitTimeSeconds=1)["Messages"]
    assert [Envelope.model_validate_json(m["Body"]).id for m in dead] == [envelope.id]


def test_the_completion_email_links_the_diagram_only_when_the_job_has_one(stack):
    event = completed(stack, "ivy", diagram=True)
    expires = datetime.now(UTC)
    when = expires.isoformat(timespec="minutes")
    links = messages.Links("https://api.example", "https://s3/zip", expires, "https://s3/architecture.svg")
    mail = messages.email("codegen.completed", event, "ivy@ex.com", links, notification_id="n", subscription_id="s")
    job = event.data["job_id"]
    assert f"Architecture diagram (valid until {when}): https://s3/architecture.svg\n" in mail.text
    assert f"Through the api: https://api.example/api/code-gen/{job}/diagram\n" in mail.text
    assert '<a href="https://s3/architecture.svg">See its architecture diagram</a>' in mail.html
    before = messages.email(
        "codegen.completed",
        completed(stack, "ivy"),
        "ivy@example.com",
        messages.Links("https://api.example", "https://s3/zip", datetime.now(UTC)),
        notification_id="n",
        subscription_id="s",
    )
    assert "diagram" not in before.text and "diagram" not in before.html
