"""`snapinfra`: generate projects, deploy them, subscribe to what happens, look after the queues.

Exit codes: 0 done; 1 the API refused (the message says why); 2 bad usage; 3 the API or AWS could not
be reached; 4 the job or check itself failed.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from snapinfra_cli.client import Api, ApiFailure, Unreachable
from snapinfra_cli.smoke import run_checks

F = TypeVar("F", bound=Callable[..., Any])
EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_FAILED = 1, 3, 4
FINAL = {"completed", "failed"}
out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)


class Context:
    def __init__(self, api: Api, as_json: bool):
        self.api, self.as_json = api, as_json

    def emit(self, data: Any, render: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            render()


def handled(command: F) -> F:
    """API refusals and unreachable endpoints become one clear line on stderr and an exit code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ApiFailure as exc:
            err.print(f"[red]error[/red] {exc}", highlight=False, markup=True)
            sys.exit(EXIT_REFUSED)
        except Unreachable as exc:
            err.print(f"[red]error[/red] {exc}", highlight=False)
            sys.exit(EXIT_UNREACHABLE)

    return run  # type: ignore[return-value]


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option("--api-url", envvar="SNAPINFRA_API_URL", default="http://localhost:5000", show_default=True)
@click.option("--token", envvar="SNAPINFRA_TOKEN", help="a Bearer JWT (jwt auth mode)")
@click.option(
    "--user", envvar="SNAPINFRA_DEV_USER", default="test-user", show_default=True, help="dev auth mode: the user id"
)
@click.option("--json", "as_json", is_flag=True, help="print JSON, for scripts")
@click.pass_context
def main(ctx: click.Context, api_url: str, token: str | None, user: str, as_json: bool) -> None:
    """The Snapinfra API from the command line (SNAPINFRA_API_URL, SNAPINFRA_TOKEN or SNAPINFRA_DEV_USER)."""
    api = Api(api_url, token=token, dev_user=user)
    ctx.call_on_close(api.close)
    ctx.obj = Context(api, as_json)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


def _fields(item: dict[str, Any]) -> None:
    for key, value in item.items():
        out.print(f"[bold]{key}[/bold]: {json.dumps(value) if isinstance(value, dict | list) else value}")


# -- code generation --------------------------------------------------------------------------


@main.group()
def codegen() -> None:
    """Generated projects."""


def _follow(api: Api, job: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Follow a job to a final status over its event stream (polling if the server has no stream slot)."""
    path = f"/api/code-gen/{job['id']}"
    with err.status(f"{job['id']}: {job['status']}", spinner="dots") as status:
        while job["status"] not in FINAL:
            try:
                for event, data in api.events(f"{path}/events"):
                    if event == "status":
                        if data["status"] != job["status"] and not quiet:
                            out.print(f"  {data['status']}")
                        job = data
                        status.update(f"{job['id']}: {job['status']}")
                    elif event == "deleted":
                        raise ApiFailure(404, "not_found", f"code generation {job['id']} was deleted")
            except ApiFailure as exc:
                if exc.status != 503:
                    raise
                # No stream slot free: poll once a second until the server's Retry-After, then try the stream again.
                until = time.monotonic() + (exc.retry_after or 5)
                while job["status"] not in FINAL and time.monotonic() < until:
                    time.sleep(1)
                    polled = api.get(path)
                    if polled["status"] != job["status"] and not quiet:
                        out.print(f"  {polled['status']}")
                    job = polled
                    status.update(f"{job['id']}: {job['status']}")
    return job


@codegen.command("create")
@click.option("--type", "project_type", type=click.Choice(["api", "model", "infra", "full-stack"]), required=True)
@click.option("--prompt", required=True)
@click.option("--project-id", default="project", show_default=True)
@click.option("--spec", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="a JSON spec")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="where to save the ZIP (default <project>.zip)")
@click.option("--no-wait", is_flag=True, help="return once the job is accepted")
@click.option("--idempotency-key", help="retrying with the same key never makes a second job")
@pass_context
@handled
def codegen_create(
    ctx: Context,
    project_type: str,
    prompt: str,
    project_id: str,
    spec_file: Path | None,
    output: Path | None,
    no_wait: bool,
    idempotency_key: str | None,
) -> None:
    """Request a project, wait for it with a progress display, and download its ZIP."""
    body: dict[str, Any] = {"projectId": project_id, "type": project_type, "prompt": prompt}
    if spec_file is not None:
        try:
            body["spec"] = json.loads(spec_file.read_text())
        except ValueError as exc:
            raise click.BadParameter(f"{spec_file} is not JSON: {exc}", param_hint="--spec") from exc
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    job = ctx.api.post("/api/code-gen", body, headers=headers)
    if not ctx.as_json:
        out.print(f"accepted [bold]{job['id']}[/bold] ({', '.join(job['entities'])})")
    if no_wait:
        ctx.emit(job, lambda: None)
        return
    job = _follow(ctx.api, job, quiet=ctx.as_json)
    if job["status"] == "failed":
        ctx.emit(job, lambda: err.print(f"[red]failed[/red]: {job.get('reason')}"))
        sys.exit(EXIT_FAILED)
    target = output or Path(f"{project_id}.zip")
    size = ctx.api.download(f"/api/code-gen/{job['id']}/download", target)
    ctx.emit(
        {**job, "zip": str(target)},
        lambda: out.print(f"completed: {job['fileCount']} files, saved {size} bytes to [bold]{target}[/bold]"),
    )


@codegen.command("list")
@click.option("--project-id")
@click.option("--limit", type=int, default=20, show_default=True)
@pass_context
@handled
def codegen_list(ctx: Context, project_id: str | None, limit: int) -> None:
    """Your jobs, newest first."""
    items = list(ctx.api.pages("/api/code-gen", limit=limit, projectId=project_id))
    ctx.emit(items, lambda: _table("code generations", items, ["id", "projectId", "type", "status", "createdAt"]))


@codegen.command("get")
@click.argument("job_id")
@pass_context
@handled
def codegen_get(ctx: Context, job_id: str) -> None:
    """One job."""
    job = ctx.api.get(f"/api/code-gen/{job_id}")
    ctx.emit(job, lambda: _fields(job))


@codegen.command("download")
@click.argument("job_id")
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True)
@pass_context
@handled
def codegen_download(ctx: Context, job_id: str, output: Path) -> None:
    """Save a completed job's ZIP."""
    size = ctx.api.download(f"/api/code-gen/{job_id}/download", output)
    ctx.emit({"id": job_id, "zip": str(output), "bytes": size}, lambda: out.print(f"saved {size} bytes to {output}"))


@codegen.command("delete")
@click.argument("job_id")
@pass_context
@handled
def codegen_delete(ctx: Context, job_id: str) -> None:
    """Delete a job and its ZIP."""
    ctx.api.delete(f"/api/code-gen/{job_id}")
    ctx.emit({"id": job_id, "deleted": True}, lambda: out.print(f"deleted {job_id}"))


# -- deployments ------------------------------------------------------------------------------


@main.group()
def deploy() -> None:
    """Deployments of generated projects."""


DEPLOYMENT_COLUMNS = ["id", "codeGenId", "environment", "status", "stackName", "updatedAt"]
DEPLOYED, DESTROYED = {"deployed", "failed"}, {"destroyed", "destroy_failed"}


def _wait_deployment(api: Api, deployment: dict[str, Any], final: set[str], timeout: float) -> dict[str, Any]:
    """Poll a deployment (it has no event stream) until it reaches one of `final`, showing each status."""
    path, deadline = f"/api/deployments/{deployment['id']}", time.monotonic() + timeout
    with err.status(f"{deployment['id']}: {deployment['status']}", spinner="dots") as status:
        while deployment["status"] not in final:
            if time.monotonic() > deadline:
                err.print(f"[red]timed out[/red]: {deployment['id']} still {deployment['status']} after {timeout:g} s")
                sys.exit(EXIT_FAILED)
            time.sleep(1)
            deployment = api.get(path)
            status.update(f"{deployment['id']}: {deployment['status']}")
    return deployment


def _emit_deployment(ctx: Context, deployment: dict[str, Any]) -> None:
    ctx.emit(deployment, lambda: out.print(f"deployment [bold]{deployment['id']}[/bold]: {deployment['status']}"))
    if deployment["status"] in {"failed", "destroy_failed"}:
        if not ctx.as_json:
            err.print(f"[red]{deployment['status']}[/red]: {deployment.get('error')}", highlight=False)
        sys.exit(EXIT_FAILED)


@deploy.command("create")
@click.option("--codegen-id", required=True, help="the completed code generation to deploy")
@click.option("--environment", type=click.Choice(["dev", "staging", "prod"]), default="dev", show_default=True)
@click.option("--param", "params", multiple=True, help="a stack parameter, KEY=VALUE (repeatable)")
@click.option("--region")
@click.option("--role-arn")
@click.option("--idempotency-key", help="retrying with the same key never makes a second deployment")
@click.option("--wait", is_flag=True, help="wait until it is deployed (or failed)")
@click.option("--timeout", type=float, default=900, show_default=True, help="seconds --wait waits")
@pass_context
@handled
def deploy_create(
    ctx: Context,
    codegen_id: str,
    environment: str,
    params: tuple[str, ...],
    region: str | None,
    role_arn: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Deploy a generated project (infra or full-stack)."""
    parameters = {}
    for pair in params:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        parameters[key] = value
    body: dict[str, Any] = {"codeGenId": codegen_id, "environment": environment}
    if parameters:
        body["parameters"] = parameters
    body |= {k: v for k, v in (("region", region), ("roleArn", role_arn)) if v}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    deployment = ctx.api.post("/api/deployments", body, headers=headers)
    if wait:
        deployment = _wait_deployment(ctx.api, deployment, DEPLOYED, timeout)
    _emit_deployment(ctx, deployment)


@deploy.command("list")
@click.option("--project-id")
@click.option("--status")
@click.option("--environment")
@click.option("--limit", type=int, default=20, show_default=True)
@pass_context
@handled
def deploy_list(ctx: Context, project_id: str | None, status: str | None, environment: str | None, limit: int) -> None:
    """Your deployments."""
    items = list(
        ctx.api.pages("/api/deployments", limit=limit, projectId=project_id, status=status, environment=environment)
    )
    ctx.emit(items, lambda: _table("deployments", items, DEPLOYMENT_COLUMNS))


@deploy.command("get")
@click.argument("deployment_id")
@pass_context
@handled
def deploy_get(ctx: Context, deployment_id: str) -> None:
    """One deployment."""
    deployment = ctx.api.get(f"/api/deployments/{deployment_id}")
    ctx.emit(deployment, lambda: _fields(deployment))


@deploy.command("events")
@click.argument("deployment_id")
@click.option("--limit", type=int, default=100, show_default=True)
@pass_context
@handled
def deploy_events(ctx: Context, deployment_id: str, limit: int) -> None:
    """A deployment's stack events, oldest first."""
    items = list(ctx.api.pages(f"/api/deployments/{deployment_id}/events", limit=limit))
    columns = ["at", "source", "message", "logicalId", "resourceType", "status", "reason"]
    ctx.emit(items, lambda: _table("events", items, columns))


@deploy.command("destroy")
@click.argument("deployment_id")
@click.option("--wait", is_flag=True, help="wait until it is destroyed (or the destroy failed)")
@click.option("--timeout", type=float, default=900, show_default=True, help="seconds --wait waits")
@pass_context
@handled
def deploy_destroy(ctx: Context, deployment_id: str, wait: bool, timeout: float) -> None:
    """Destroy a deployment's stack (the record stays as history)."""
    deployment = ctx.api.delete(f"/api/deployments/{deployment_id}")
    if wait:
        deployment = _wait_deployment(ctx.api, deployment, DESTROYED, timeout)
    _emit_deployment(ctx, deployment)


# -- notifications ----------------------------------------------------------------------------


def _filters(event_types: tuple[str, ...], statuses: tuple[str, ...], project_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if event_types:
        body["eventTypes"] = list(event_types)
    if statuses:
        body["statuses"] = list(statuses)
    if project_id:
        body["projectId"] = project_id
    return body


def _subscribe_command(channel: str, target_field: str) -> Callable[..., None]:
    @click.argument("target")
    @click.option("--event-type", "event_types", multiple=True, help="e.g. codegen.completed or deployment.*")
    @click.option("--status", "statuses", multiple=True)
    @click.option("--project-id")
    @click.option("--admin", is_flag=True, help="admins: receive system alerts too")
    @pass_context
    @handled
    def subscribe_to(
        ctx: Context,
        target: str,
        event_types: tuple[str, ...],
        statuses: tuple[str, ...],
        project_id: str | None,
        admin: bool,
    ) -> None:
        body = {target_field: target, **_filters(event_types, statuses, project_id)}
        if admin:
            body["admin"] = True
        subscription = ctx.api.post(f"/api/notifications/subscribe/{channel}", body)

        def render() -> None:
            out.print(f"subscription [bold]{subscription['id']}[/bold] ({channel}): {subscription['status']}")
            if channel == "sms":
                out.print(f"enter the texted code with: snapinfra confirm {subscription['id']} <code>")
            if subscription.get("secret"):
                out.print(f"signing secret (shown once): [bold]{subscription['secret']}[/bold]")

        ctx.emit(subscription, render)

    subscribe_to.__doc__ = f"Be told by {channel} ({target_field}) as your jobs move."
    return subscribe_to


@main.group()
def subscribe() -> None:
    """Subscribe to notifications."""


subscribe.command("email")(_subscribe_command("email", "email"))
subscribe.command("sms")(_subscribe_command("sms", "phone"))
subscribe.command("webhook")(_subscribe_command("webhook", "url"))


@main.command()
@click.argument("subscription_id")
@click.argument("code")
@pass_context
@handled
def confirm(ctx: Context, subscription_id: str, code: str) -> None:
    """Confirm an SMS subscription with the code texted to its number."""
    confirmed = ctx.api.post(f"/api/notifications/subscriptions/{subscription_id}/confirm", {"code": code})
    ctx.emit(confirmed, lambda: out.print(f"subscription [bold]{subscription_id}[/bold]: confirmed"))


@main.command("resend-code")
@click.argument("subscription_id")
@pass_context
@handled
def resend_code(ctx: Context, subscription_id: str) -> None:
    """Text a pending SMS subscription a new code (the previous one stops working)."""
    sent = ctx.api.post(f"/api/notifications/subscriptions/{subscription_id}/resend")
    ctx.emit(sent, lambda: out.print(f"a new code was texted; it works until {sent['expiresAt']}"))


@main.command()
@pass_context
@handled
def subscriptions(ctx: Context) -> None:
    """Your subscriptions."""
    items = list(ctx.api.pages("/api/notifications/subscriptions"))
    ctx.emit(items, lambda: _table("subscriptions", items, ["id", "channel", "target", "status", "eventTypes"]))


@main.command()
@click.argument("subscription_id")
@pass_context
@handled
def unsubscribe(ctx: Context, subscription_id: str) -> None:
    """Remove a subscription."""
    ctx.api.delete("/api/notifications/unsubscribe", id=subscription_id)
    ctx.emit({"id": subscription_id, "deleted": True}, lambda: out.print(f"unsubscribed {subscription_id}"))


# -- admin ------------------------------------------------------------------------------------


@main.group()
def admin() -> None:
    """Queues and dead letters (admin rights)."""


@admin.command("queue-status")
@pass_context
@handled
def admin_queue_status(ctx: Context) -> None:
    """Every queue and its DLQ: visible, in flight, delayed."""
    status = ctx.api.get("/api/admin/queue-status")
    rows = [
        {
            "service": q["service"],
            "queue": q["queue"]["name"],
            "visible": q["queue"]["visible"],
            "in flight": q["queue"]["inFlight"],
            "delayed": q["queue"]["delayed"],
            "DLQ": q["dlqDepth"],
        }
        for q in status["queues"]
    ]
    ctx.emit(status, lambda: _table("queues", rows, ["service", "queue", "visible", "in flight", "delayed", "DLQ"]))


@admin.command("dlq")
@click.argument("queue")
@click.option("--limit", type=int, default=50, show_default=True)
@pass_context
@handled
def admin_dlq(ctx: Context, queue: str, limit: int) -> None:
    """The dead letters of a queue (by service name, or a work queue's name), without removing them."""
    found = ctx.api.get(f"/api/admin/dlq/{queue}", limit=limit)
    ctx.emit(found, lambda: _table(found["dlq"], found["items"], ["type", "eventId", "receiveCount", "error"]))


@admin.command("redrive")
@click.argument("queue")
@click.option("--limit", type=int, default=100, show_default=True)
@pass_context
@handled
def admin_redrive(ctx: Context, queue: str, limit: int) -> None:
    """Move a queue's dead letters back to it."""
    result = ctx.api.post(f"/api/admin/dlq/{queue}/redrive", limit=limit)
    ctx.emit(
        result, lambda: out.print(f"moved {result['moved']}, failed {result['failed']}, left {result['remaining']}")
    )


# -- smoke ------------------------------------------------------------------------------------


@main.command()
@pass_context
def smoke(ctx: Context) -> None:
    """S3 upload/download, SQS send/receive, SNS publish against AWS_ENDPOINT_URL (or AWS itself)."""
    results = run_checks()

    def render() -> None:
        for check in results:
            mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
            out.print(f"{mark} {check.name}: {check.detail}", highlight=False)

    ctx.emit([{"check": c.name, "passed": c.passed, "detail": c.detail} for c in results], render)
    if not all(c.passed for c in results):
        sys.exit(EXIT_FAILED)
