"""Benchmark of fair delivery (a script that measures and prints; not a test).

Time to first delivery for a quiet user while another user has thousands of deliveries queued: the
notifier worker runs as its own process (`python -m snapinfra_notifier`, as in production) against
the embedded AWS; user `flood` has `--hooks` webhooks on a receiver that answers after `--latency`
seconds and `--deliveries / --hooks` job events; once those are fanned out, user `quiet` gets one job
event, and the script waits for its webhook.

    .venv/bin/python tests/benchmarks/bench_fair_delivery.py --deliveries 5000
    # the same against another tree's notifier (e.g. main's, extracted with `git archive`):
    .venv/bin/python tests/benchmarks/bench_fair_delivery.py --code /tmp/before
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.catalog import CodeGenerationStarted, SubscriptionFilters, SubscriptionRequested
from snapinfra_shared.events import new_event
from snapinfra_shared.local.embedded import EmbeddedAws
from snapinfra_shared.provision import provision
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.topology import build_topology

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """Webhook endpoints on 127.0.0.1 (any path) answering 200 after `latency` seconds."""

    def __init__(self, latency: float):
        self.arrivals: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                threading.Event().wait(latency)
                receiver.arrivals.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def wait_for(condition: Callable[[], bool], timeout: float, progress: Callable[[], str] | None = None) -> bool:
    deadline, shown = time.monotonic() + timeout, time.monotonic()
    while not condition():
        if time.monotonic() > deadline:
            return False
        if progress and time.monotonic() - shown > 15:
            print(progress(), file=sys.stderr, flush=True)
            shown = time.monotonic()
        time.sleep(0.2)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000, help="the flooding user's deliveries")
    parser.add_argument("--hooks", type=int, default=50, help="the flooding user's webhooks")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the flooding user's receiver takes")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on the quiet user's delivery after")
    parser.add_argument("--code", type=Path, help="a source tree whose notifier to run (default: this one)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the notifier, repeatable")
    args = parser.parse_args()
    events = args.deliveries // args.hooks

    tmp = tempfile.mkdtemp(prefix="bench-fair-")  # the logs of moto and of the notifier, kept
    with EmbeddedAws(log_path=f"{tmp}/moto.log") as aws:
        os.environ.update(aws.env())
        prefix = f"b{uuid.uuid4().hex[:8]}"
        topology = build_topology(prefix)
        clients = AwsClients(s3_addressing_style="path")
        topics = provision(clients, topology)["topics"]
        flood, quiet = Receiver(args.latency), Receiver(0.0)
        env = {
            **os.environ,
            "SNAPINFRA_PREFIX": prefix,
            "SNAPINFRA_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "SNAPINFRA_LOG_LEVEL": "WARNING",
            "SNAPINFRA_SHUTDOWN_GRACE_SECONDS": "4",
            **dict(pair.split("=", 1) for pair in args.env),
        }
        if args.code:
            env["PYTHONPATH"] = f"{args.code / 'services/notifier'}:{args.code / 'shared'}"
        with open(f"{tmp}/notifier.log", "wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "snapinfra_notifier"], env=env, stdout=log, stderr=log)
        try:
            api, codegen = Publisher(clients.sns, topics["api"]), Publisher(clients.sns, topics["codegen"])

            def subscribe(user: str, url: str) -> None:
                data = SubscriptionRequested(
                    subscription_id=str(uuid.uuid4()),
                    channel="webhook",
                    target=url,
                    filters=SubscriptionFilters(),
                    signing_secret=SECRET,
                    requested_at=datetime.now(UTC),
                )
                api.publish(
                    new_event("SubscriptionRequested", source="api", user_id=user, correlation_id="b", data=data)
                )

            def job_started(user: str) -> None:
                data = CodeGenerationStarted(job_id=str(uuid.uuid4()), project_id="p", generator="templated", attempt=1)
                codegen.publish(
                    new_event("CodeGenerationStarted", source="codegen", user_id=user, correlation_id="b", data=data)
                )

            for i in range(args.hooks):
                subscribe("flood", f"{flood.base}/hook/{i}")
            subscribe("quiet", f"{quiet.base}/hook")
            sqs = clients.sqs
            events_url = sqs.get_queue_url(QueueName=topology.queues["notifier"].name)["QueueUrl"]
            deliveries_url = sqs.get_queue_url(QueueName=topology.work_queues["notifier"].name)["QueueUrl"]

            def depth(url: str) -> int:
                names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
                names.append("ApproximateNumberOfMessagesDelayed")
                found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
                return sum(int(v) for v in found.values())

            wait_for(lambda: depth(events_url) == 0, 120)  # the subscriptions are in
            started = time.monotonic()
            for _ in range(events):
                job_started("flood")

            def progress() -> str:
                names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
                names.append("ApproximateNumberOfMessagesDelayed")
                found = sqs.get_queue_attributes(QueueUrl=deliveries_url, AttributeNames=names)["Attributes"]
                visible, held, delayed = (found[n] for n in names)
                counts = f"{visible}/{held}/{delayed}"
                queues = f"events queued {depth(events_url)}, deliveries visible/in flight/delayed {counts}"
                return f"{queues}, delivered {len(flood.arrivals)}"

            if not wait_for(lambda: depth(events_url) == 0, 1800, progress):
                sys.exit("the flooding user's events were not fanned out in 1800 s")
            fanned = time.monotonic() - started
            queued, delivered = depth(deliveries_url), len(flood.arrivals)
            sent = time.monotonic()
            job_started("quiet")
            arrived = wait_for(lambda: bool(quiet.arrivals), args.timeout, progress)
            waited = (quiet.arrivals[0] if arrived else time.monotonic()) - sent
            during = len(flood.arrivals) - delivered
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        rate = during / waited if waited else 0.0
        print(f"notifier code: {args.code or 'this tree'}; {' '.join(args.env) or 'default settings'}; logs in {tmp}")
        print(
            f"flooding user: {args.hooks} webhooks answering in {args.latency} s, {events} job events "
            f"= {events * args.hooks} deliveries, fanned out in {fanned:.0f} s ({delivered} delivered by then)"
        )
        print(f"delivery queue when the quiet user's event was published: {queued} messages")
        if arrived:
            print(f"time to first delivery for the quiet user: {waited:.1f} s")
        else:
            print(f"time to first delivery for the quiet user: not within {args.timeout:.0f} s")
        print(f"flooding user's deliveries meanwhile: {during} ({rate:.1f}/s)")


if __name__ == "__main__":
    main()
