"""Rate limits (a token bucket per user in the api's table, one conditional update per take),
Idempotency-Key, and size limits."""

from __future__ import annotations

import hashlib
import threading

import pytest

from snapinfra_api.adapters.limits import TokenBuckets
from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies

from ..conftest import As, api_settings
from ..deployments.test_deployments_api import completed_job

REQUEST = {"projectId": "p-1", "type": "api", "prompt": "Create a REST API for user management"}


@pytest.fixture
def limited(stack, clock):
    """An app whose users may create 3 jobs at once, then one a second, on a clock the test moves."""
    deps = build_dependencies(api_settings(stack, job_rate_per_minute=60, job_rate_burst=3), clock=clock)
    return deps, create_app(dependencies=deps).test_client()


def test_over_the_limit_answers_429_with_retry_after_and_ratelimit_headers(limited, clock):
    _, client = limited
    alice, bob = As(client, "alice"), As(client, "bob")
    answers = [alice.post("/api/code-gen", json=REQUEST) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    refused = answers[3]
    assert refused.json["error"]["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "1" and refused.headers["X-RateLimit-Reset"] == "3"
    # One user's limit is not another's, and the listing is not limited.
    assert bob.post("/api/code-gen", json=REQUEST).status_code == 202
    assert alice.get("/api/code-gen").status_code == 200
    assert len(alice.get("/api/code-gen").json["items"]) == 3  # the refused request created nothing
    clock.advance(0.5)  # half a token
    assert alice.post("/api/code-gen", json=REQUEST).status_code == 429
    clock.advance(0.5)  # one token a second
    assert alice.post("/api/code-gen", json=REQUEST).status_code == 202
    assert alice.post("/api/code-gen", json=REQUEST).status_code == 429


def test_health_routes_are_never_limited(limited):
    _, client = limited
    for _ in range(10):
        for path in ("/healthz", "/readyz", "/metrics"):
            response = client.get(path)
            assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers


def _concurrently(count: int, call):
    """`call()` from `count` threads released at once; their answers."""
    results, start = [], threading.Barrier(count)

    def run():
        start.wait()
        results.append(call())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == count
    return results


def test_concurrent_takers_never_overdraw_a_bucket(stack, clock):
    """Thirty threads race for a fresh bucket of ten: exactly ten win, and none fails on the new item."""
    buckets = TokenBuckets(stack.clients.dynamodb, stack.topology.tables["api"].name, clock)
    verdicts = _concurrently(30, lambda: buckets.take("racer#jobs", rate_per_second=0.001, burst=10))
    assert [v.allowed for v in verdicts].count(True) == 10
    assert sorted(v.remaining for v in verdicts if v.allowed) == list(range(10))
    assert {v.retry_after for v in verdicts if not v.allowed} == {1000.0}  # one token in 1000 s


@pytest.mark.parametrize(("burst", "accepted"), [(1000, 30), (10, 10)])
def test_concurrent_posts_of_one_user_are_refused_only_past_the_burst(stack, clock, burst, accepted):
    """Thirty clients of one user POST at once: under a burst of 1000 none is refused (no lost race
    answers 429); under a burst of 10 exactly ten are accepted."""
    deps = build_dependencies(api_settings(stack, job_rate_per_minute=1, job_rate_burst=burst), clock=clock)
    app = create_app(dependencies=deps)
    answers = _concurrently(30, lambda: As(app.test_client(), "alice").post("/api/code-gen", json=REQUEST))
    codes = [a.status_code for a in answers]
    print(f"burst {burst}: {codes.count(429)}/30 answered 429")
    assert codes.count(202) == accepted and codes.count(429) == 30 - accepted
    assert len(As(app.test_client(), "alice").get("/api/code-gen?limit=100").json["items"]) == accepted
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.headers["Retry-After"] == "60" and refused.headers["X-RateLimit-Remaining"] == "0"


def test_a_bucket_refills_at_its_rate_on_the_injected_clock(stack, clock):
    buckets = TokenBuckets(stack.clients.dynamodb, stack.topology.tables["api"].name, clock)

    def take():
        return buckets.take("refill#jobs", rate_per_second=0.25, burst=2)  # a token every 4 s

    first, second, third = take(), take(), take()
    assert (first.allowed, first.remaining, first.reset_after) == (True, 1, 4.0)
    assert (second.allowed, second.remaining, second.reset_after) == (True, 0, 8.0)
    assert (third.allowed, third.retry_after, third.reset_after) == (False, 4.0, 8.0)
    clock.advance(3)
    early = take()
    assert (early.allowed, early.retry_after, early.reset_after) == (False, 1.0, 5.0)
    clock.advance(1)
    refilled = take()
    assert (refilled.allowed, refilled.remaining, refilled.reset_after) == (True, 0, 8.0)
    clock.advance(100)  # long idle: the bucket is full again, never fuller
    assert [take().allowed for _ in range(3)] == [True, True, False]


def test_a_take_costs_no_read_and_an_empty_bucket_one_update(stack, clock):
    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    dynamodb = stack.clients.dynamodb
    dynamodb.meta.events.register("before-call.dynamodb", count)
    buckets = TokenBuckets(dynamodb, stack.topology.tables["api"].name, clock)
    taken = []
    for _ in range(3):
        calls.clear()
        taken.append((buckets.take("cost#jobs", rate_per_second=1, burst=2).allowed, list(calls)))
    dynamodb.meta.events.unregister("before-call.dynamodb", count)
    assert taken == [
        (True, ["UpdateItem"]),  # a full bucket: one update
        (True, ["UpdateItem", "UpdateItem"]),  # a bucket in use: the full bucket's condition fails, then the take
        (False, ["UpdateItem"]),  # an empty bucket: the item the first condition met says so
    ]


def test_a_bucket_in_the_former_shape_is_taken_over(stack, clock):
    """Buckets written before (`tokens`, `refilled_at`) start again full rather than failing."""
    table = stack.topology.tables["api"].name
    stack.clients.dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": "LIMIT#old#jobs"},
            "sk": {"S": "LIMIT"},
            "tokens": {"N": "0"},
            "refilled_at": {"N": repr(clock())},
            "expires_at": {"N": str(int(clock()) + 600)},
        },
    )
    verdict = TokenBuckets(stack.clients.dynamodb, table, clock).take("old#jobs", rate_per_second=1, burst=3)
    assert verdict.allowed and verdict.remaining == 2


def test_limits_off_when_the_rate_is_zero(stack):
    client = create_app(dependencies=build_dependencies(api_settings(stack, job_rate_per_minute=0))).test_client()
    answers = [As(client, "alice").post("/api/code-gen", json=REQUEST) for _ in range(12)]
    assert {a.status_code for a in answers} == {202} and "X-RateLimit-Limit" not in answers[0].headers


def test_the_same_idempotency_key_and_body_answer_the_first_answer_and_make_one_job(alice, stack):
    headers = {"Idempotency-Key": "order-42"}
    first = alice.post("/api/code-gen", json=REQUEST, headers=headers)
    # The same body with its keys in another order is the same request.
    again = alice.post("/api/code-gen", json=dict(reversed(REQUEST.items())), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(alice.get("/api/code-gen").json["items"]) == 1
    assert len(stack.drain("codegen")) == 1  # one event: one job
    # The key is the caller's own: another user with the same key makes a job of their own.
    other = As(alice.client, "bob").post("/api/code-gen", json=REQUEST, headers=headers)
    assert other.status_code == 202 and other.json["id"] != first.json["id"]


def test_the_same_key_with_another_body_is_422(alice):
    headers = {"Idempotency-Key": "order-43"}
    assert alice.post("/api/code-gen", json=REQUEST, headers=headers).status_code == 202
    response = alice.post("/api/code-gen", json={**REQUEST, "prompt": "a blog with posts"}, headers=headers)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "idempotency_key_reused"
    assert response.json["error"]["fields"][0]["field"] == "Idempotency-Key"


def test_a_failed_request_frees_its_key(alice):
    headers = {"Idempotency-Key": "order-44"}
    assert alice.post("/api/code-gen", json={**REQUEST, "type": "nope"}, headers=headers).status_code == 422
    assert alice.post("/api/code-gen", json=REQUEST, headers=headers).status_code == 202


def test_concurrent_duplicates_make_one_job(app, stack):
    """Eight clients send the same key at once: one job; each answer is that job, or 409 while it is made."""
    barrier, answers = threading.Barrier(8), []

    def post():
        client = As(app.test_client(), "carol")
        barrier.wait()
        answers.append(client.post("/api/code-gen", json=REQUEST, headers={"Idempotency-Key": "burst-1"}))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [a for a in answers if a.status_code == 202]
    assert {a.status_code for a in answers} <= {202, 409} and accepted
    assert len({a.json["id"] for a in accepted}) == 1
    for a in answers:
        if a.status_code == 409:
            assert a.json["error"]["code"] == "idempotency_in_progress" and a.headers["Retry-After"] == "1"
    assert len(As(app.test_client(), "carol").get("/api/code-gen").json["items"]) == 1
    assert len(stack.drain("codegen")) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_a_malformed_idempotency_key_is_400(alice, key):
    response = alice.post("/api/code-gen", json=REQUEST, headers={"Idempotency-Key": key})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_idempotency_key"


def test_size_limits_say_what_the_limit_is(alice, app):
    big = alice.post("/api/code-gen", json={**REQUEST, "prompt": "x" * 4001})
    assert big.status_code == 422
    assert big.json["error"]["fields"] == [{"field": "prompt", "message": "String should have at most 4000 characters"}]
    limit = app.config["MAX_CONTENT_LENGTH"]
    huge = alice.post("/api/code-gen", data=b"{" + b" " * limit + b"}", headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert str(limit) in huge.json["error"]["message"]
    many = {"entities": [{"name": f"E{i}", "fields": [{"name": "a"}]} for i in range(21)]}
    too_many = alice.post("/api/code-gen", json={**REQUEST, "spec": many})
    assert too_many.status_code == 422 and too_many.json["error"]["fields"][0]["field"] == "spec.entities"


def test_a_replayed_deployment_key_answers_the_first_deployment_and_makes_one(alice, deps, stack):
    job_id = completed_job(alice, deps)
    stack.drain("deployer")
    body, headers = {"codeGenId": job_id, "environment": "dev"}, {"Idempotency-Key": "deploy-1"}
    first = alice.post("/api/deployments", json=body, headers=headers)
    again = alice.post("/api/deployments", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [d["id"] for d in alice.get("/api/deployments").json["items"]] == [first.json["id"]]
    assert len(stack.drain("deployer")) == 1  # one request to the deployer: one stack
    other = alice.post("/api/deployments", json={**body, "environment": "prod"}, headers=headers)
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"


def test_deployments_take_from_the_job_bucket(limited):  # the clock stands still: no token comes back
    deps, client = limited
    alice = As(client, "alice")
    job_id = completed_job(alice, deps)  # the first of three tokens
    answers = [alice.post("/api/deployments", json={"codeGenId": job_id, "environment": "dev"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json["error"]["code"] == "rate_limited" and answers[2].headers["Retry-After"] == "1"
    assert answers[0].headers["X-RateLimit-Remaining"] == "1"
    assert len(alice.get("/api/deployments").json["items"]) == 2  # the refused request made nothing


# -- a write DynamoDB applied, whose answer was lost: botocore's retry meets its own condition ------------


def test_a_token_taken_by_a_write_botocore_retried_is_taken_once(limited, lost_answers):
    deps, client = limited
    lost_answers.arm(deps.clients.dynamodb, "UpdateItem")  # the bucket's take
    first = As(client, "alice").post("/api/code-gen", json=REQUEST)
    assert lost_answers.lost == ["UpdateItem"]
    assert first.status_code == 202 and first.headers["X-RateLimit-Remaining"] == "2"  # not two tokens for one


def test_an_idempotency_claim_botocore_retried_holds_the_key(alice, deps, stack, lost_answers):
    headers = {"Idempotency-Key": "order-lost-answer"}
    lost_answers.arm(deps.clients.dynamodb, "PutItem")  # the claim is the request's first put
    first = alice.post("/api/code-gen", json=REQUEST, headers=headers)
    assert lost_answers.lost == ["PutItem"]
    assert first.status_code == 202, first.json  # not 409 "in progress" against its own claim
    again = alice.post("/api/code-gen", json=REQUEST, headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert len(alice.get("/api/code-gen").json["items"]) == 1 and len(stack.drain("codegen")) == 1


def test_a_key_claimed_by_another_request_still_answers_409_when_botocore_retried(alice, deps, lost_answers):
    body = b'{"projectId":"p-1","prompt":"Create a REST API for user management","type":"api"}'
    fingerprint = hashlib.sha256(b"POST /api/code-gen\n" + body).hexdigest()
    assert deps.idempotency.claim("alice", "code-gen", "order-held", fingerprint, ttl=600, lease=60) is None
    lost_answers.arm(deps.clients.dynamodb, "PutItem")
    response = alice.post("/api/code-gen", json=REQUEST, headers={"Idempotency-Key": "order-held"})
    assert lost_answers.lost == ["PutItem"]
    assert response.status_code == 409 and response.json["error"]["code"] == "idempotency_in_progress"
    assert alice.get("/api/code-gen").json["items"] == []
