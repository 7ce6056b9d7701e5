"""The fault scenarios of issue 13 and what each one measures.

Every scenario starts a fresh system (tests/faults/system.py), subscribes a webhook through the api as
a user would, creates jobs through the api, injects its fault, waits until the system has settled (or a
deadline passed), and then counts from real observations: the api (GET of each job), S3 (every version
under codegen/), SQS (every DLQ) and the webhook receiver.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.faults.fakes import SlowModel, WebhookReceiver
from tests.faults.system import System

USER = "faults"
HEADERS = {"x-dev-user-id": USER}
POISON_MARKER = "faults-poison"
TERMINAL = {"completed", "failed"}
# The read timeout every service's botocore client uses (snapinfra_shared/aws.py).
AWS_READ_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Params:
    jobs: int = 300
    generation_seconds: float = 3.0  # the slow model's answer time
    codegen_kills: int = 3  # kill -9 of codegen, each mid-generation
    sigterms: int = 2  # SIGTERMs of codegen while its work outlasts the grace
    downtime_seconds: float = 150.0  # codegen down
    stall_seconds: float = AWS_READ_TIMEOUT_SECONDS + 10.0  # moto SIGSTOPped
    quiet_seconds: float = 15.0  # queues empty this long after every job settled: nothing more is coming
    settle_timeout_seconds: float = 900.0  # the longest wait for the system to settle after the fault
    post_threads: int = 4
    env: dict[str, str] = field(default_factory=dict)  # extra settings for every service
    codegen_env: dict[str, str] = field(default_factory=dict)  # extra settings for codegen

    @property
    def shutdown_grace_seconds(self) -> float:
        from snapinfra_shared.local.cli import dev_defaults

        merged = {**dev_defaults(0), **self.env, **self.codegen_env}
        return float(merged["SNAPINFRA_SHUTDOWN_GRACE_SECONDS"])

    @property
    def outbox_grace_seconds(self) -> float:
        return float(self.env.get("SNAPINFRA_OUTBOX_GRACE_SECONDS", "60"))


@dataclass
class Row:
    scenario: str
    requested: int = 0
    accepted: int = 0
    completed: int = 0
    failed: int = 0
    stuck: int = 0
    dead_lettered: int = 0  # DLQ messages that are not the scenario's own poison
    dead_letter_errors: dict[str, int] = field(default_factory=dict)
    poison_sent: int = 0
    poison_dead_lettered: int = 0
    zips_min: int = 0
    zips_max: int = 0
    jobs_without_zip: int = 0
    webhooks_min: int = 0
    webhooks_max: int = 0
    webhook_ids_max: int = 0  # distinct webhook-ids of one job's completions, at most
    invalid_signatures: int = 0
    http_500: int = 0
    seconds: float = 0.0
    settled: bool = False  # False: the deadline passed with work still moving

    def aims_met(self) -> list[str]:
        """The issue's aims this row misses, in words (empty: all met)."""
        misses = []
        if self.accepted != self.requested:
            misses.append(f"{self.requested - self.accepted} of {self.requested} requests not accepted")
        if self.completed != self.accepted:
            misses.append(f"{self.accepted - self.completed} jobs not completed ({self.stuck} stuck)")
        if self.dead_lettered:
            misses.append(f"{self.dead_lettered} dead-lettered {self.dead_letter_errors}")
        if self.poison_dead_lettered != self.poison_sent:
            misses.append(f"{self.poison_dead_lettered} of {self.poison_sent} poison messages in a DLQ")
        if (self.zips_min, self.zips_max) != (1, 1):
            misses.append(f"ZIPs per job {self.zips_min}-{self.zips_max}")
        if (self.webhooks_min, self.webhooks_max, self.webhook_ids_max) != (1, 1, 1):
            misses.append(
                f"completion webhooks per job {self.webhooks_min}-{self.webhooks_max} "
                f"({self.webhook_ids_max} distinct ids at most)"
            )
        if self.invalid_signatures:
            misses.append(f"{self.invalid_signatures} webhooks with a bad signature")
        if self.http_500:
            misses.append(f"{self.http_500} answers of 500")
        return misses


class Run:
    """One scenario's system, servers, client and counts."""

    def __init__(self, name: str, params: Params, system: System, model: SlowModel, receiver: WebhookReceiver):
        self.name, self.params, self.system, self.model, self.receiver = name, params, system, model, receiver
        self.row = Row(name, requested=params.jobs)
        self.jobs: dict[int, str] = {}  # request number -> job id
        self.statuses: dict[str, str] = {}
        self._lock = threading.Lock()
        self.sqs = system.client("sqs")
        self.s3 = system.client("s3")
        self.sns = system.client("sns")

    # -- the client ---------------------------------------------------------------------------

    def call(self, method: str, path: str, timeout: float = 120.0, **kwargs: Any) -> requests.Response:
        """One api call, retried across connection failures (the api may be down) until `timeout`;
        every 5xx answer is counted."""
        deadline = time.monotonic() + timeout
        headers = HEADERS | kwargs.pop("headers", {})
        while True:
            try:
                response = requests.request(method, self.system.api + path, headers=headers, timeout=90, **kwargs)
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                continue
            if response.status_code >= 500:
                with self._lock:
                    self.row.http_500 += 1
                if time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
            return response

    def subscribe(self) -> None:
        answer = self.call(
            "POST",
            "/api/notifications/subscribe/webhook",
            json={"url": self.receiver.url, "eventTypes": ["codegen.completed"]},
        )
        assert answer.status_code == 201, answer.text
        self.receiver.secret = answer.json()["secret"]

    def post_job(self, n: int) -> None:
        """Create job n as a careful client would: one Idempotency-Key, retried until accepted."""
        key = str(uuid.uuid4())
        body = {"projectId": f"fault-{n}", "type": "api", "prompt": "Create a REST API for user management"}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            answer = self.call("POST", "/api/code-gen", json=body, headers={"Idempotency-Key": key})
            if answer.status_code == 202:
                with self._lock:
                    self.jobs[n] = answer.json()["id"]
                return
            if answer.status_code in (409, 429):  # the same key still in progress, or the rate limit
                time.sleep(float(answer.headers.get("Retry-After", "0.5")))
                continue
            raise AssertionError(f"job {n} refused: {answer.status_code} {answer.text[:300]}")

    def post_jobs(self, numbers: range) -> None:
        with ThreadPoolExecutor(self.params.post_threads, thread_name_prefix="poster") as pool:
            for future in [pool.submit(self.post_job, n) for n in numbers]:
                future.result()

    def post_in_background(self, numbers: range) -> threading.Thread:
        thread = threading.Thread(target=self.post_jobs, args=(numbers,), name="posting", daemon=True)
        thread.start()
        return thread

    def accepted(self) -> int:
        with self._lock:
            return len(self.jobs)

    def wait_accepted(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.accepted() < count:
            assert time.monotonic() < deadline, f"only {self.accepted()} of {count} jobs accepted"
            time.sleep(0.05)

    # -- the faults' helpers ---------------------------------------------------------------------

    def wait_generating(self, since: int, timeout: float = 300) -> None:
        """Wait until codegen is mid-generation (the model is answering a request numbered above `since`)."""
        assert self.model.wait_in_flight(since, timeout), "codegen never asked the model"

    def queue_urls(self) -> dict[str, str]:
        topology = self.system.topology
        names = [q.name for q in topology.queues.values()] + [q.name for q in topology.work_queues.values()]
        names += [q.dlq_name for q in topology.queues.values()] + [q.dlq_name for q in topology.work_queues.values()]
        return {name: self.sqs.get_queue_url(QueueName=name)["QueueUrl"] for name in names}

    def messages_in_queues(self) -> int:
        """Messages visible, in flight or delayed on every consuming queue (not the DLQs)."""
        total = 0
        for name, url in self.queue_urls().items():
            if name.endswith("-dlq"):
                continue
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            total += sum(
                int(attributes.get(a, "0"))
                for a in (
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                )
            )
        return total

    # -- settling and counting ---------------------------------------------------------------------

    def refresh_statuses(self, only_open: bool) -> None:
        with self._lock:
            jobs = list(self.jobs.values())
        todo = [j for j in jobs if not (only_open and self.statuses.get(j) in TERMINAL)]

        def get(job_id: str) -> None:
            answer = self.call("GET", f"/api/code-gen/{job_id}")
            self.statuses[job_id] = (
                answer.json()["status"] if answer.status_code == 200 else f"http {answer.status_code}"
            )

        with ThreadPoolExecutor(8, thread_name_prefix="status") as pool:
            list(pool.map(get, todo))

    def settle(self) -> None:
        """Wait until no more work can come: every queue empty for the quiet period (longer while a job is
        still `queued`, whose request the outbox relay may publish again), or the deadline."""
        deadline = time.monotonic() + self.params.settle_timeout_seconds
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            self.refresh_statuses(only_open=True)
            open_jobs = [s for s in self.statuses.values() if s not in TERMINAL]
            now = time.monotonic()
            if self.messages_in_queues():
                quiet_since = None
            else:
                quiet_since = quiet_since or now
                needed = self.params.quiet_seconds
                if "queued" in open_jobs:
                    needed = max(needed, 2 * self.params.outbox_grace_seconds + 10)
                if now - quiet_since >= needed:
                    self.row.settled = True
                    return
            time.sleep(1.0)

    def count(self) -> None:
        row = self.row
        row.accepted = self.accepted()
        self.refresh_statuses(only_open=False)
        statuses = Counter(self.statuses.values())
        row.completed, row.failed = statuses["completed"], statuses["failed"]
        row.stuck = row.accepted - row.completed - row.failed
        # ZIPs: every version of every .zip under codegen/<user>/<job>/ (at any depth: each attempt stores
        # under a folder of its own), per job.
        zips: Counter[str] = Counter()
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.system.topology.bucket, Prefix="codegen/"):
            for version in page.get("Versions", []):
                parts = version["Key"].split("/")
                if len(parts) >= 4 and parts[-1].endswith(".zip"):
                    zips[parts[2]] += 1
        per_job = [zips[j] for j in self.jobs.values()] or [0]
        row.zips_min, row.zips_max = min(per_job), max(per_job)
        row.jobs_without_zip = sum(1 for n in per_job if n == 0)
        # Completion webhooks per job, and their distinct ids.
        hooks = self.receiver.snapshot()
        counts = [len(hooks.get(j, [])) for j in self.jobs.values()] or [0]
        row.webhooks_min, row.webhooks_max = min(counts), max(counts)
        row.webhook_ids_max = max([len(set(ids)) for ids in hooks.values()] or [0])
        row.invalid_signatures = self.receiver.invalid
        # Dead letters: every message of every DLQ, read (not deleted).
        errors: Counter[str] = Counter()
        for name, url in self.queue_urls().items():
            if not name.endswith("-dlq"):
                continue
            for message in self.read_all(url):
                if POISON_MARKER in message["Body"]:
                    row.poison_dead_lettered += 1
                    continue
                row.dead_lettered += 1
                error = message.get("MessageAttributes", {}).get("snapinfra_error", {}).get("StringValue", "?")
                errors[f"{name.removeprefix(self.system.prefix + '-')}: {error.split(':')[0][:40]}"] += 1
        row.dead_letter_errors = dict(errors)

    def read_all(self, url: str) -> list[dict[str, Any]]:
        """Every message of a queue, each received once and left there (invisible for a while)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=600,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return found
            found += batch


# -- the scenarios ------------------------------------------------------------------------------------


def baseline(run: Run) -> None:
    """No fault: the reference row."""
    run.post_jobs(range(run.params.jobs))


def kill_codegen(run: Run) -> None:
    """kill -9 of codegen mid-generation, repeatedly, each time restarted at once."""
    posting = run.post_in_background(range(run.params.jobs))
    codegen, since = run.system.services["codegen"], 0
    for _ in range(run.params.codegen_kills):
        run.wait_generating(since)
        time.sleep(run.params.generation_seconds / 2)  # halfway through the model's answer
        codegen.kill()
        since = run.model.requests  # what the next process asks is numbered above
        codegen.start()
    posting.join()


def kill_api(run: Run) -> None:
    """kill -9 of the api twice while clients are posting, each time restarted at once."""
    jobs = run.params.jobs
    posting = run.post_in_background(range(jobs))
    api = run.system.services["api"]
    for share in (1, 2):
        run.wait_accepted(jobs * share // 3)
        api.kill()
        api.start()
    posting.join()


def codegen_down(run: Run) -> None:
    """codegen down for a while (the system started without it), then started."""
    run.post_jobs(range(run.params.jobs))
    threading.Event().wait(run.params.downtime_seconds)  # the fault's own duration
    run.system.services["codegen"].start()


def sigterm_codegen(run: Run) -> None:
    """SIGTERM of codegen while its generations outlast the shutdown grace, each time restarted."""
    normal = run.model.delay
    run.model.delay = run.params.shutdown_grace_seconds + 6
    posting = run.post_in_background(range(run.params.jobs))
    codegen, since = run.system.services["codegen"], 0
    for _ in range(run.params.sigterms):
        run.wait_generating(since)
        codegen.terminate(timeout=run.params.shutdown_grace_seconds + 30)
        since = run.model.requests
        codegen.start()
    run.model.delay = normal
    posting.join()


def duplicate_requests(run: Run) -> None:
    """Each request delivered three times: its CodeGenerationRequested envelope, read from a tap queue on
    the api's topic, is published twice more to that topic, as an at-least-once redelivery would."""
    topic_arn = run.sns.create_topic(Name=run.system.topology.topics["api"])["TopicArn"]
    tap_url = run.sqs.create_queue(QueueName=f"{run.system.prefix}-faults-tap")["QueueUrl"]
    tap_arn = run.sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    run.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=tap_arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"type": ["CodeGenerationRequested"]})},
    )
    posting = run.post_in_background(range(run.params.jobs))
    repeated: set[str] = set()
    deadline = time.monotonic() + 600
    while (posting.is_alive() or len(repeated) < run.accepted()) and time.monotonic() < deadline:
        for message in run.sqs.receive_message(
            QueueUrl=tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", []):
            job_id = json.loads(message["Body"])["data"]["job_id"]
            if job_id not in repeated:  # the relay may publish it again itself: repeat each request once
                repeated.add(job_id)
                attributes = {
                    k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                    for k, v in message.get("MessageAttributes", {}).items()
                }
                for _ in range(2):
                    run.sns.publish(TopicArn=topic_arn, Message=message["Body"], MessageAttributes=attributes)
            run.sqs.delete_message(QueueUrl=tap_url, ReceiptHandle=message["ReceiptHandle"])
    posting.join()
    assert len(repeated) >= run.accepted(), f"only {len(repeated)} of {run.accepted()} requests seen on the tap"


def stall_aws(run: Run) -> None:
    """The embedded AWS stopped (SIGSTOP) past the services' read timeout while jobs are being created and
    generated, then resumed (SIGCONT)."""
    jobs = run.params.jobs
    run.post_jobs(range(jobs // 2))
    run.wait_generating(0)
    posting = run.post_in_background(range(jobs // 2, jobs))
    run.wait_accepted(jobs // 2 + 1)
    run.system.pause_aws()
    try:
        threading.Event().wait(run.params.stall_seconds)  # the fault's own duration
    finally:
        run.system.resume_aws()
    posting.join()


def poison_messages(run: Run) -> None:
    """Malformed bodies and unknown event types sent straight to every queue, among ordinary jobs."""
    from snapinfra_shared.events import Envelope

    posting = run.post_in_background(range(run.params.jobs))
    topology = run.system.topology
    for queue in [*topology.queues.values(), *topology.work_queues.values()]:
        url = run.sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        unknown = Envelope(
            id=uuid.uuid4(),
            type="FaultsUnknownHappened",
            occurred_at=datetime.now(UTC),
            source="api",
            correlation_id=POISON_MARKER,
            user_id=USER,
            data={"marker": POISON_MARKER},
        )
        for body in (f"not json {POISON_MARKER}", json.dumps({"marker": POISON_MARKER}), unknown.model_dump_json()):
            run.sqs.send_message(QueueUrl=url, MessageBody=body)
            run.row.poison_sent += 1
    posting.join()


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "baseline": baseline,
    "kill-9 codegen": kill_codegen,
    "kill-9 api x2": kill_api,
    "codegen down": codegen_down,
    "SIGTERM codegen": sigterm_codegen,
    "request x3": duplicate_requests,
    "AWS stalled": stall_aws,
    "poison": poison_messages,
}
# Scenarios that start the system without a service.
STARTED_WITHOUT = {"codegen down": ("codegen",)}


def run_scenario(name: str, params: Params, workdir: Path) -> Row:
    """Start a fresh system, inject the fault, settle, count. Each process is stopped by its pid at the end."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (
        SlowModel(params.generation_seconds) as model,
        WebhookReceiver() as receiver,
        System(workdir, model_url=model.url, env=params.env, codegen_env=params.codegen_env) as system,
    ):
        system.start(without=STARTED_WITHOUT.get(name, ()))
        run = Run(name, params, system, model, receiver)
        run.subscribe()
        SCENARIOS[name](run)
        run.settle()
        run.count()
    run.row.seconds = time.monotonic() - started
    return run.row
