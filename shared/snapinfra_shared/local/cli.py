"""`snapinfra-dev`: run the whole system on one machine.

`snapinfra-dev up` starts the embedded AWS (a moto server on 127.0.0.1:4566) unless AWS_ENDPOINT_URL
points at one already, provisions the topology, and runs the four services under one supervisor
(honcho), their logs interleaved and labelled. Ctrl-C stops everything.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import threading
import time
import urllib.error
import urllib.request

import click
from botocore.exceptions import ConnectionError as BotoConnectionError

from snapinfra_shared.aws import AwsClients
from snapinfra_shared.local.embedded import LOCAL_CREDENTIALS, endpoint_answers, moto_command, session_for
from snapinfra_shared.logs import configure_logging
from snapinfra_shared.provision import provision, verify_email_sender
from snapinfra_shared.topology import build_topology

log = logging.getLogger("snapinfra.dev")

WORKERS = ("codegen", "deployer", "notifier")
DEV_EMAIL_SENDER = "notifications@example.com"


def _service_env(*, endpoint: str | None, prefix: str, dev_defaults: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        for key, value in LOCAL_CREDENTIALS.items():
            env.setdefault(key, value)
    env["SNAPINFRA_PREFIX"] = prefix
    for key, value in dev_defaults.items():
        env.setdefault(key, value)
    return env


def _provision_when_up(
    endpoint: str | None, prefix: str, on_failure: threading.Event, email_sender: str | None = None
) -> None:
    deadline = time.monotonic() + 60
    while endpoint and not endpoint_answers(endpoint):
        if time.monotonic() > deadline:
            log.error("the AWS endpoint %s did not answer within 60 s", endpoint)
            on_failure.set()
            return
        time.sleep(0.2)
    try:
        result = provision(AwsClients(), build_topology(prefix, os.environ.get("SNAPINFRA_BUCKET")))
        if email_sender:
            verify_email_sender(AwsClients(), email_sender)
    except Exception:
        log.exception("provisioning failed")
        on_failure.set()
        return
    work_queues = len(result["work_queues"])
    log.info(
        "topology ready: %d topics, %d queues (%d fed by topics, %d work %s), bucket %s",
        len(result["topics"]),
        len(result["queues"]) + work_queues,
        len(result["queues"]),
        work_queues,
        "queue" if work_queues == 1 else "queues",
        result["bucket"],
    )


def dev_defaults(api_port: int) -> dict[str, str]:
    """The settings `make dev` gives every service (the fault suite starts its processes with the same)."""
    return {
        "SNAPINFRA_AUTH_MODE": "dev",
        "SNAPINFRA_LOG_FORMAT": "text",  # key=value lines for a person at the terminal (containers: JSON)
        "SNAPINFRA_S3_ADDRESSING_STYLE": "path",
        "SNAPINFRA_SHUTDOWN_GRACE_SECONDS": "4",
        # Rate limits stay on, generous enough for the benchmark's one user (see the README).
        "SNAPINFRA_JOB_RATE_PER_MINUTE": "6000",
        "SNAPINFRA_JOB_RATE_BURST": "1000",
        # glibc gives each thread its own malloc arena; with ten handler threads a worker's
        # memory creeps up for thousands of jobs before it levels. Two arenas keep it flat.
        "MALLOC_ARENA_MAX": "2",
        # Notifications: webhooks may reach loopback (and use http there); mail comes from a
        # sender the provisioning verifies; links point at this api.
        "SNAPINFRA_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost,::1",
        "SNAPINFRA_EMAIL_SENDER": DEV_EMAIL_SENDER,
        "SNAPINFRA_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
    }


def _is_ready(url: str, timeout: float = 2.0) -> bool:
    """True when `url` answers 200 (the api's /readyz: its table, queues and bucket answer)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the loopback api we started
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):  # HTTPError (503: not ready yet) is a URLError
        return False


def ready_line(api_url: str, aws_url: str | None, aws_in_memory: bool) -> str:
    """The one line `snapinfra-dev up` prints once the api is ready: where everything is."""
    line = f"ready: api {api_url}  docs {api_url}/docs"
    if aws_url:
        line += f"  AWS {aws_url}"
        if aws_in_memory:
            line += " (the embedded AWS keeps everything in memory: stopping it loses every job)"
    return line


def announce_when_ready(
    api_url: str,
    line: str,
    stop: threading.Event,
    timeout: float = 180.0,
    interval: float = 0.5,
) -> bool:
    """Poll the api's /readyz until it answers 200, then log `line` once; give up (with a warning) after
    `timeout` seconds or when `stop` is set. Returns whether the line was logged."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        if _is_ready(f"{api_url}/readyz"):
            log.info("%s", line)
            return True
        if time.monotonic() > deadline:
            log.warning("the api at %s was not ready within %g s (see its log lines above)", api_url, timeout)
            return False
        stop.wait(interval)
    return False


@click.group()
def main() -> None:
    """Run Snapinfra locally."""


@main.command()
@click.option("--aws-port", default=4566, show_default=True, help="port of the embedded AWS (moto)")
@click.option("--api-port", default=5000, show_default=True)
@click.option("--metrics-port", default=9100, show_default=True, help="workers serve metrics from this port up")
@click.option("--prefix", default="snapinfra", show_default=True, help="resource name prefix")
@click.option("--embedded/--no-embedded", default=True, help="start moto when AWS_ENDPOINT_URL is unset")
def up(aws_port: int, api_port: int, metrics_port: int, prefix: str, embedded: bool) -> None:
    """Start the embedded AWS (if needed), provision, and run every service."""
    from honcho.manager import Manager
    from honcho.printer import Printer

    configure_logging("dev", fmt="text")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    started_aws = False
    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    if endpoint:
        log.info("using the AWS endpoint in AWS_ENDPOINT_URL: %s", endpoint)
    elif embedded:
        endpoint = f"http://127.0.0.1:{aws_port}"
        if endpoint_answers(endpoint):
            log.info("reusing the AWS endpoint already answering on %s", endpoint)
        else:
            manager.add_process("aws", "exec " + shlex.join(moto_command(aws_port)))
            started_aws = True
    else:
        log.info("no AWS_ENDPOINT_URL and --no-embedded: using the default AWS credentials and region")

    env = _service_env(
        endpoint=endpoint if embedded or os.environ.get("AWS_ENDPOINT_URL") else None,
        prefix=prefix,
        dev_defaults=dev_defaults(api_port),
    )
    if endpoint:
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    exe = os.path.dirname(sys.executable)
    manager.add_process("api", f"exec {exe}/snapinfra-api serve --host 127.0.0.1 --port {api_port}", env=env)
    for offset, worker in enumerate(WORKERS, start=1):
        worker_env = {**env, "SNAPINFRA_METRICS_PORT": str(metrics_port + offset) if metrics_port else "0"}
        manager.add_process(worker, f"exec {exe}/snapinfra-{worker}", env=worker_env)

    failed = threading.Event()
    sender = env["SNAPINFRA_EMAIL_SENDER"]
    threading.Thread(target=_provision_when_up, args=(endpoint, prefix, failed, sender), daemon=True).start()
    threading.Thread(target=lambda: failed.wait() and manager.terminate(), daemon=True).start()
    api_url = f"http://127.0.0.1:{api_port}"
    line = ready_line(api_url, endpoint, aws_in_memory=started_aws)
    threading.Thread(target=announce_when_ready, args=(api_url, line, failed), daemon=True).start()
    manager.loop()
    sys.exit(1 if failed.is_set() else manager.returncode or 0)


@main.command(name="provision")
@click.option("--prefix", default="snapinfra", show_default=True)
def provision_command(prefix: str) -> None:
    """Provision the topology on the endpoint in AWS_ENDPOINT_URL (or real AWS)."""
    configure_logging("provision", fmt="text")
    clients = AwsClients()
    result = provision(clients, build_topology(prefix, os.environ.get("SNAPINFRA_BUCKET")))
    if os.environ.get("SNAPINFRA_EMAIL_SENDER"):  # docker-compose: the notifier's sender, as `make dev` does
        verify_email_sender(clients, os.environ["SNAPINFRA_EMAIL_SENDER"])
    click.echo(result)


@main.command()
@click.option(
    "--endpoint",
    envvar="AWS_ENDPOINT_URL",
    default="http://127.0.0.1:4566",
    show_default=True,
    help="the AWS endpoint (AWS_ENDPOINT_URL); on loopback no credentials nor region are needed",
)
def tables(endpoint: str) -> None:
    """The DynamoDB tables on the embedded AWS (or the endpoint given), one a line."""
    dynamodb = session_for(endpoint).client("dynamodb", endpoint_url=endpoint)
    try:
        for page in dynamodb.get_paginator("list_tables").paginate():
            for name in page["TableNames"]:
                click.echo(name)
    except BotoConnectionError as exc:
        click.echo(f"error: cannot reach the AWS endpoint {endpoint} (is `make dev` running?): {exc}", err=True)
        sys.exit(3)


@main.command()
@click.option("--port", default=4566, show_default=True)
def aws(port: int) -> None:
    """Run only the embedded AWS (moto) in the foreground."""
    os.execvp(moto_command(port)[0], moto_command(port))  # noqa: S606 - replaces this process with moto
