"""Benchmark of the code-generation flow (a script that measures and prints; not a test).

Submits N jobs from C concurrent clients to a running system and prints jobs per second, the
latency from POST to `completed` (p50/p95/p99), AWS API calls per completed job by service and
operation (from each service's Prometheus metrics, counted by a botocore hook), and the workers'
resident memory over the run.

    make dev                                   # in one terminal, then:
    make bench BENCH_ARGS="--jobs 200 --clients 10"
    make bench BENCH_ARGS="--start --jobs 2000"  # or start a system of its own
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import contextlib

from tests.system import RunningSystem

REQUEST = {"projectId": "bench", "type": "api", "prompt": "Create a REST API for user management"}
HEADERS = {"x-dev-user-id": "bench-user"}


def scrape(url: str) -> dict[str, float]:
    """Counters and gauges of one service: {"aws dynamodb UpdateItem": n, "rss": bytes, ...}."""
    text = requests.get(url, timeout=5).text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "snapinfra_aws_calls_total":
                values[f"aws {sample.labels['aws_service']} {sample.labels['operation']}"] = sample.value
            elif sample.name == "process_resident_memory_bytes":
                values["rss"] = sample.value
    return values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_job(api: str, session: requests.Session, poll: float, timeout: float) -> tuple[float, float, str]:
    """(observed seconds, pipeline seconds, final status) of one job."""
    start = time.perf_counter()
    try:
        response = session.post(f"{api}/api/code-gen", json=REQUEST, headers=HEADERS, timeout=30)
    except requests.RequestException:
        return time.perf_counter() - start, float("nan"), "error"
    if response.status_code != 202:
        return time.perf_counter() - start, float("nan"), f"http {response.status_code}"
    job_id = response.json()["id"]
    deadline = start + timeout
    while time.perf_counter() < deadline:
        job = session.get(f"{api}/api/code-gen/{job_id}", headers=HEADERS, timeout=30).json()
        if job["status"] in ("completed", "failed"):
            observed = time.perf_counter() - start
            pipeline = float("nan")
            if job["completedAt"]:
                pipeline = (
                    datetime.fromisoformat(job["completedAt"]) - datetime.fromisoformat(job["createdAt"])
                ).total_seconds()
            return observed, pipeline, job["status"]
        time.sleep(poll)
    return timeout, float("nan"), "timeout"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", default="http://127.0.0.1:5000")
    parser.add_argument("--metrics", default="9101,9102,9103", help="worker metrics ports (codegen,deployer,notifier)")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument(
        "--poll",
        type=float,
        default=0.2,
        help="seconds between a client's status checks (polling loads the 2 cores too)",
    )
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--start", action="store_true", help="start a system of its own (embedded AWS)")
    args = parser.parse_args()

    system = None
    if args.start:
        system = RunningSystem(Path(tempfile.mkdtemp()) / "system.log", metrics_port=19100).start()
        args.api, args.metrics = system.api, "19101,19102,19103"
        print(f"started a system: api {system.api}, logs {system.log_path}")
    endpoints = {"api": f"{args.api}/metrics"} | {
        name: f"http://127.0.0.1:{port}/metrics"
        for name, port in zip(("codegen", "deployer", "notifier"), args.metrics.split(","), strict=True)
    }
    try:
        return measure(args, endpoints)
    finally:
        if system:
            system.stop()


def measure(args: argparse.Namespace, endpoints: dict[str, str]) -> int:
    before = {name: scrape(url) for name, url in endpoints.items()}
    rss: dict[str, list[float]] = defaultdict(list)
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(1.0):
            for name, url in endpoints.items():
                with contextlib.suppress(requests.RequestException):
                    rss[name].append(scrape(url).get("rss", 0.0))

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    local = threading.local()

    def one(_: int) -> tuple[float, float, str]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return run_job(args.api, local.session, args.poll, args.timeout)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(one, range(args.jobs)))
    elapsed = time.perf_counter() - started
    done.set()
    after = {name: scrape(url) for name, url in endpoints.items()}

    completed = [r for r in results if r[2] == "completed"]
    observed = [r[0] for r in completed]
    pipeline = [r[1] for r in completed]
    print(
        f"\nmachine: {platform.machine()}, {platform.system()} {platform.release()}, python {platform.python_version()}"
    )
    print(
        f"jobs: {args.jobs} from {args.clients} clients; completed {len(completed)}, "
        f"failed {sum(r[2] == 'failed' for r in results)}, timed out {sum(r[2] == 'timeout' for r in results)}"
    )
    print(f"throughput: {len(completed) / elapsed:.1f} jobs/s over {elapsed:.1f} s")
    if completed:
        for label, values in (
            ("POST -> completed, observed by polling", observed),
            ("POST -> completed, pipeline (createdAt -> completedAt)", pipeline),
        ):
            print(
                f"{label}: p50 {percentile(values, 0.5) * 1000:.0f} ms, p95 {percentile(values, 0.95) * 1000:.0f} ms, "
                f"p99 {percentile(values, 0.99) * 1000:.0f} ms, mean {statistics.fmean(values) * 1000:.0f} ms"
            )

    print("\nAWS calls per completed job, by service and operation:")
    n = max(1, len(completed))
    totals: dict[str, float] = {}
    reads = {"aws dynamodb GetItem"}  # the api's reads serve the benchmark's own polling
    for name in endpoints:
        calls = {k: after[name].get(k, 0) - before[name].get(k, 0) for k in after[name] if k.startswith("aws ")}
        for key, count in sorted(calls.items()):
            if count:
                note = (
                    "  (serves the benchmark's polling; not part of the job)" if name == "api" and key in reads else ""
                )
                print(f"  {name:9} {key[4:]:40} {count / n:7.2f}{note}")
        totals[name] = sum(c for k, c in calls.items() if not (name == "api" and k in reads))
    flow = totals.get("api", 0) + totals.get("codegen", 0)
    print(f"  per job, api + codegen (the code-generation path): {flow / n:.2f}")
    print(
        f"  per job, notifier and deployer (consuming for notifications): "
        f"{(totals.get('notifier', 0) + totals.get('deployer', 0)) / n:.2f}"
    )

    print("\nresident memory (MiB) at each tenth of the run, then max")
    for name, samples in rss.items():
        if samples:
            tenths = [samples[min(len(samples) - 1, i * len(samples) // 10)] for i in range(10)] + [samples[-1]]
            series = " ".join(f"{v / 2**20:6.1f}" for v in tenths)
            print(f"  {name:9} {series}   max {max(samples) / 2**20:6.1f}")
    return 0 if len(completed) == args.jobs else 1


if __name__ == "__main__":
    raise SystemExit(main())
