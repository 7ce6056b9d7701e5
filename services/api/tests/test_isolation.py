"""Every route, walked as a second user, shows nothing of the first user's.

The routes are enumerated from the app's url_map, so a route added later is walked too. Each seeder
makes one kind of resource for the first user and says which ids to try in the path and which
markers (text only that user's resource holds) must never reach the second user. A new kind of
resource adds a seeder here.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies
from snapinfra_shared.catalog import NotificationAttempted

from .codegen.test_codegen_api import complete
from .conftest import As, api_settings
from .deployments.test_deployments_api import completed_job, deliver
from .notifications.test_notifications_api import notifier_event, project


@dataclass
class Seeded:
    ids: list[str]
    markers: list[bytes]
    queries: list[dict[str, str]]  # query strings naming the owner's resources (filters, ids)
    still_there: Callable[[], bool]


def seed_code_generation(owner, deps, stack) -> Seeded:
    marker = "zqxj-owner-only-marker"
    job = owner.post(
        "/api/code-gen",
        json={"projectId": "owner-project-7", "type": "api", "prompt": f"a shop with products {marker}"},
    ).json
    complete(deps, stack, owner.user, job["id"], content=b"PK zip-only-the-owner-may-read")
    return Seeded(
        ids=[job["id"]],
        markers=[marker.encode(), b"zip-only-the-owner-may-read", job["createdAt"].encode()],
        queries=[{"projectId": "owner-project-7"}],
        still_there=lambda: owner.get(f"/api/code-gen/{job['id']}").status_code == 200,
    )


def seed_deployment(owner, deps, stack) -> Seeded:
    """A deployed stack with outputs and a step log, of a completed infra generation."""
    marker = "zqxj-deployment-marker"
    d = owner.post(
        "/api/deployments",
        json={"codeGenId": completed_job(owner, deps, project_id="owner-project-7"), "environment": "staging"},
    ).json
    ids = {"deployment_id": d["id"], "stack_name": d["stackName"]}
    now = datetime.now(UTC)
    step = {"at": now, "source": "cloudformation", "message": f"CREATE_COMPLETE {marker}-step", "status": "X"}
    deliver(deps, "deployer", "DeploymentProgressed", owner.user, **ids, steps=[step])
    deliver(
        deps, "deployer", "DeploymentCompleted", owner.user, **ids, stack_id="arn:s", region="eu-west-1",
        outputs={"TableName": f"{marker}-table"}, completed_at=now,
    )  # fmt: skip
    return Seeded(
        ids=[d["id"]],
        markers=[d["stackName"].encode(), f"{marker}-step".encode(), f"{marker}-table".encode()],
        queries=[
            {"projectId": "owner-project-7"},
            {"status": "deployed"},
            {"environment": "staging"},
            {"projectId": "owner-project-7", "status": "deployed", "environment": "staging"},
        ],
        still_there=lambda: owner.get(f"/api/deployments/{d['id']}").json["status"] == "deployed",
    )


def seed_subscriptions(owner, deps, stack) -> Seeded:
    """An email, an SMS and a webhook subscription, and a delivery attempt to the webhook."""
    targets = {
        "email": {"email": "zqxj-owner@example.com"},
        "sms": {"phone": "+14155550199"},
        "webhook": {"url": "https://zqxj-owner.example.com/hook"},
    }
    subs = {
        channel: owner.post(f"/api/notifications/subscribe/{channel}", json=body).json
        for channel, body in targets.items()
    }
    attempt = NotificationAttempted(
        delivery_id=f"zqxj-delivery-{uuid.uuid4()}", notification_id="n1", subscription_id=subs["webhook"]["id"],
        event_id=str(uuid.uuid4()), event_type="deployment.completed", channel="webhook", attempt=1,
        outcome="failed", http_status=500, latency_ms=7, error="zqxj-delivery-error", at=datetime.now(UTC),
    )  # fmt: skip
    project(deps, notifier_event("NotificationAttempted", owner.user, attempt))

    def still_there() -> bool:
        listed = {s["id"] for s in owner.get("/api/notifications/subscriptions").json["items"]}
        delivered = owner.get("/api/notifications/deliveries").json["items"]
        return listed == {s["id"] for s in subs.values()} and [d["id"] for d in delivered] == [attempt.delivery_id]

    return Seeded(
        ids=[s["id"] for s in subs.values()],
        markers=[b"zqxj-owner@example.com", b"+14155550199", b"zqxj-owner.example.com", b"zqxj-delivery"]
        + [s["secret"].encode() for s in subs.values() if s.get("secret")],
        queries=[{key: s["id"]} for s in subs.values() for key in ("id", "subscriptionId")],
        still_there=still_there,
    )


SEEDERS = [seed_code_generation, seed_deployment, seed_subscriptions]


@pytest.fixture
def walk_app(stack):
    deps = build_dependencies(api_settings(stack, sse_max_seconds=1, sse_poll_seconds=0.1))
    return deps, create_app(dependencies=deps)


def test_every_route_as_another_user_finds_nothing_of_the_owners(walk_app, stack):
    deps, app = walk_app
    owner, other = As(app.test_client(), "owner"), As(app.test_client(), "other")
    seeded = [seed(owner, deps, stack) for seed in SEEDERS]
    ids = [i for s in seeded for i in s.ids]
    markers = [m for s in seeded for m in s.markers]
    queries = [{}, *(q for s in seeded for q in s.queries)]
    walked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # A route with a path id is walked with each id; one without, with each query naming the owner's.
            for values, query in itertools.product(
                itertools.product(ids, repeat=len(rule.arguments)),
                [{}] if rule.arguments or method == "POST" else queries,
            ):
                path = app.url_map.bind("localhost").build(
                    rule.endpoint, dict(zip(sorted(rule.arguments), values, strict=True))
                )
                call = getattr(other, method.lower())
                kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {"query_string": query}
                response = call(path, **kwargs)
                body = response.get_data()
                walked.append((method, rule.rule, tuple(sorted(query)), response.status_code))
                leaked = [m for m in markers if m in body]
                assert leaked == [], f"{method} {path} {query} as another user: {response.status_code} with {leaked}"
                assert response.status_code < 500, f"{method} {path}: {response.status_code} {body[:300]!r}"
                if (rule.arguments and method != "POST") or (method == "DELETE" and "id" in query):
                    assert response.status_code in (403, 404), (
                        f"{method} {path} {query} as another user: {response.status_code}"
                    )
    assert all(s.still_there() for s in seeded), "another user's DELETE removed the owner's resource"
    answered = {(m, r, q) for m, r, q, status in walked if status == 200}
    # The filters and listings were really walked (not refused as bad queries).
    assert {
        ("GET", "/api/code-gen", ("projectId",)),
        ("GET", "/api/deployments", ("projectId",)),
        ("GET", "/api/deployments", ("status",)),
        ("GET", "/api/deployments", ("environment",)),
        ("GET", "/api/deployments", ("environment", "projectId", "status")),
        ("GET", "/api/notifications/subscriptions", ()),
        ("GET", "/api/notifications/deliveries", ("subscriptionId",)),
    } <= answered
    assert {r for _, r, _, _ in walked} >= {
        "/api/code-gen",
        "/api/code-gen/<job_id>",
        "/api/code-gen/<job_id>/download",
        "/api/deployments/<deployment_id>",
        "/api/deployments/<deployment_id>/events",
        "/api/notifications/unsubscribe",
    }
    # The owner does see them: the markers are real.
    seen = b"".join(
        owner.get(path).get_data()
        for path in (
            "/api/code-gen",
            "/api/deployments",
            f"/api/deployments/{seeded[1].ids[0]}/events",
            "/api/notifications/subscriptions",
            "/api/notifications/deliveries",
        )
    )
    unseen = [m for m in markers if m not in seen and not m.startswith(b"whsec_")]
    assert unseen == [b"zip-only-the-owner-may-read"]  # the ZIP is only in its download
