"""`snapinfra`: generate projects, deploy them, subscribe to what happens, look after the queues.

Exit codes: 0 done; 1 the API refused (the message says why); 2 bad usage; 3 the API or AWS could not
be reached; 4 the job or check itself failed. Under `--json` an error is a JSON document on stderr:
`{"error": {"status", "code", "message", "fields"}}` (the API's own error, or the client's).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich import box
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from snapinfra_cli.client import Api, ApiFailure, Unreachable
from snapinfra_cli.smoke import run_checks

F = TypeVar("F", bound=Callable[..., Any])
EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_FAILED = 1, 3, 4
FINAL = {"completed", "failed"}
out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
WIDE = 110  # from this many columns on, tables show their optional columns too


class Context:
    def __init__(self, api: Api, as_json: bool):
        self.api, self.as_json = api, as_json

    def emit(self, data: Any, render: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            render()


def _as_json() -> bool:
    context = click.get_current_context(silent=True)
    found = context.find_object(Context) if context else None
    return bool(found and found.as_json)


def fail(
    exit_code: int, code: str, message: str, status: int | None = None, fields: list[Any] | None = None
) -> NoReturn:
    """Report an error (one clear line, or a JSON document under --json) on stderr and exit with `exit_code`."""
    if _as_json():
        error = {"status": status, "code": code, "message": message, "fields": fields or []}
        click.echo(json.dumps({"error": error}, indent=2), err=True)
    else:
        err.print(f"[red]error[/red] {message}", highlight=False)
        for field in fields or []:
            err.print(f"  {field.get('field')}: {field.get('message')}", highlight=False, markup=False)
    sys.exit(exit_code)


def handled(command: F) -> F:
    """API refusals, unreachable endpoints and bad parameters become one clear error and an exit code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ApiFailure as exc:
            fail(EXIT_REFUSED, exc.code, f"{exc.status} {exc.code}: {exc.message}", exc.status, exc.fields)
        except Unreachable as exc:
            fail(EXIT_UNREACHABLE, "unreachable", str(exc))
        except click.ClickException as exc:
            if not _as_json():
                raise
            fail(exc.exit_code, "bad_usage", exc.format_message())

    return run  # type: ignore[return-value]


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.version_option(package_name="snapinfra-cli", prog_name="snapinfra")
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


def _when(value: Any) -> str:
    """An ISO timestamp as `YYYY-MM-DD HH:MM:SS` (UTC, as the API gives it), for tables."""
    text = str(value or "")
    return text[:19].replace("T", " ")


def _time(value: Any) -> str:
    return _when(value)[11:]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


class Column:
    """A table column: `key` of the rows (or a function of the row); an id (or a short value kept whole, like a
    status) is never wrapped nor cut; a `wide` column shows only on a console of at least WIDE columns."""

    def __init__(
        self, header: str, key: str | Callable[[dict[str, Any]], Any], *, is_id: bool = False, wide: bool = False
    ):
        self.header, self.key, self.is_id, self.wide = header, key, is_id, wide

    def value(self, row: dict[str, Any]) -> str:
        return _cell(self.key(row) if callable(self.key) else row.get(self.key))


def table(title: str, rows: list[dict[str, Any]], columns: list[Column], width: int) -> Table:
    """Rows as a table that fits `width` columns: whole ids, the other cells folded when they must be."""
    shown = [c for c in columns if width >= WIDE or not c.wide]
    grid = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    cells = [[c.value(row) for c in shown] for row in rows]
    for index, column in enumerate(shown):
        if column.is_id:
            longest = max([len(column.header)] + [len(r[index]) for r in cells])
            grid.add_column(column.header, no_wrap=True, min_width=longest)
        else:
            grid.add_column(column.header, overflow="fold")
    for row_cells in cells:
        grid.add_row(*row_cells)
    return grid


def _show(title: str, rows: list[dict[str, Any]], columns: list[Column]) -> None:
    out.print(table(title, rows, columns, out.width))


def _fields(item: dict[str, Any]) -> None:
    """A record's fields, one a line; those without a value (null, empty) are left out."""
    for key, value in item.items():
        if value is None or value == {} or value == []:
            continue
        shown = json.dumps(value) if isinstance(value, dict | list) else value
        out.print(f"[bold]{key}[/bold]: {shown}", highlight=False)


CODEGEN_COLUMNS = [
    Column("id", "id", is_id=True),
    Column("status", "status", is_id=True),
    Column("type", "type"),
    Column("project", "projectId"),
    Column("files", "fileCount", wide=True),
    Column("created (UTC)", lambda r: _when(r.get("createdAt")), wide=True),
]
DEPLOYMENT_COLUMNS = [
    Column("id", "id", is_id=True),
    Column("status", "status", is_id=True),
    Column("env", "environment"),
    Column("project", "projectId"),
    Column("code generation", "codeGenId", is_id=True, wide=True),
    Column("updated (UTC)", lambda r: _when(r.get("updatedAt")), wide=True),
]
EVENT_COLUMNS = [
    Column("at (UTC)", lambda r: _time(r.get("at"))),
    Column("status", lambda r: r.get("status") or r.get("source")),
    Column("resource", lambda r: " ".join(x for x in (r.get("logicalId"), r.get("resourceType")) if x)),
    Column("message", lambda r: " — ".join(x for x in (r.get("message"), r.get("reason")) if x)),
]
SUBSCRIPTION_COLUMNS = [
    Column("id", "id", is_id=True),
    Column("channel", "channel"),
    Column("status", "status"),
    Column("target", "target"),
    Column("events", "eventTypes", wide=True),
]
DLQ_COLUMNS = [
    Column("event id", "eventId", is_id=True),
    Column("type", "type"),
    Column("receives", "receiveCount"),
    Column("error", "error"),
]
QUEUE_COLUMNS = [Column(name, name) for name in ("service", "queue", "visible", "in flight", "delayed", "DLQ")]


# -- code generation --------------------------------------------------------------------------


@main.group()
def codegen() -> None:
    """Generated projects."""


class Live:
    """The live display on stderr while a command waits: a spinner, the current status and the time
    elapsed (rich's Progress, removed when done); each change of status stays above it as a line."""

    def __init__(self, subject: str, status: str, quiet: bool):
        self.subject, self.status, self.quiet = subject, status, quiet
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
        )
        self._task = self._progress.add_task(self._describe(status), total=None)

    def _describe(self, status: str) -> str:
        return f"{self.subject} [bold]{status}[/bold]"

    def update(self, status: str) -> None:
        if status != self.status and not self.quiet:
            self._progress.console.print(f"  {status}", highlight=False)
        self.status = status
        self._progress.update(self._task, description=self._describe(status))

    def __enter__(self) -> Live:
        if not self.quiet:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _follow(api: Api, job: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Follow a job to a final status over its event stream (polling if the server has no stream slot)."""
    path = f"/api/code-gen/{job['id']}"
    with Live(job["id"], job["status"], quiet) as live:
        while job["status"] not in FINAL:
            try:
                for event, data in api.events(f"{path}/events"):
                    if event == "status":
                        job = data
                        live.update(job["status"])
                    elif event == "deleted":
                        raise ApiFailure(404, "not_found", f"code generation {job['id']} was deleted")
            except ApiFailure as exc:
                if exc.status != 503:
                    raise
                # No stream slot free: poll once a second until the server's Retry-After, then try the stream again.
                until = time.monotonic() + (exc.retry_after or 5)
                while job["status"] not in FINAL and time.monotonic() < until:
                    time.sleep(1)
                    job = api.get(path)
                    live.update(job["status"])
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
        ctx.emit(job, lambda: err.print(f"[red]failed[/red]: {job.get('reason') or 'no reason given'}"))
        sys.exit(EXIT_FAILED)
    target = output or Path(f"{project_id}.zip")
    size = ctx.api.download(f"/api/code-gen/{job['id']}/download", target)
    ctx.emit(
        {**job, "zip": str(target)},
        lambda: out.print(f"completed: {job['fileCount']} files, saved {size} bytes to [bold]{target}[/bold]"),
    )


CODEGEN_STATUSES = ["queued", "processing", "completed", "failed"]
PROJECT_TYPES = ["api", "model", "infra", "full-stack"]


@codegen.command("list")
@click.option("--project-id")
@click.option("--status", type=click.Choice(CODEGEN_STATUSES), help="only jobs with this status")
@click.option("--type", "project_type", type=click.Choice(PROJECT_TYPES), help="only jobs of this type")
@click.option("--limit", type=int, default=20, show_default=True)
@pass_context
@handled
def codegen_list(
    ctx: Context, project_id: str | None, status: str | None, project_type: str | None, limit: int
) -> None:
    """Your jobs, newest first. --status and --type are applied here, to the pages the API lists."""

    def wanted(job: dict[str, Any]) -> bool:
        return (status is None or job["status"] == status) and (project_type is None or job["type"] == project_type)

    items = list(ctx.api.pages("/api/code-gen", limit=limit, keep=wanted, projectId=project_id))
    ctx.emit(items, lambda: _show("code generations", items, CODEGEN_COLUMNS))


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


@codegen.command("diagram")
@click.argument("job_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="where to save the SVG (default: <job id>-architecture.svg)",
)
@pass_context
@handled
def codegen_diagram(ctx: Context, job_id: str, output: Path | None) -> None:
    """Save a completed job's architecture diagram (SVG): its entities and references, and what it deploys."""
    target = output or Path(f"{job_id}-architecture.svg")
    size = ctx.api.download(f"/api/code-gen/{job_id}/diagram", target)
    ctx.emit(
        {"id": job_id, "svg": str(target), "bytes": size},
        lambda: out.print(f"saved the architecture diagram ({size} bytes) to {target}"),
    )


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


DEPLOYED, DESTROYED = {"deployed", "failed"}, {"destroyed", "destroy_failed"}
IN_FLIGHT = {"queued", "deploying", "destroying"}  # a deployment that will still change by itself
POLL_SECONDS = 1.0


def _wait_deployment(ctx: Context, deployment: dict[str, Any], final: set[str], timeout: float) -> dict[str, Any]:
    """Poll a deployment (it has no event stream) until it reaches one of `final`, showing each status."""
    path, deadline = f"/api/deployments/{deployment['id']}", time.monotonic() + timeout
    with Live(deployment["id"], deployment["status"], ctx.as_json) as live:
        while deployment["status"] not in final:
            if time.monotonic() > deadline:
                fail(EXIT_FAILED, "timeout", f"{deployment['id']} still {deployment['status']} after {timeout:g} s")
            time.sleep(POLL_SECONDS)
            deployment = ctx.api.get(path)
            live.update(deployment["status"])
    return deployment


def _render_deployment(deployment: dict[str, Any]) -> None:
    out.print(f"deployment [bold]{deployment['id']}[/bold]: {deployment['status']}", highlight=False)
    outputs = deployment.get("outputs") or {}
    if outputs and deployment["status"] == "deployed":
        out.print("outputs:")
        for key, value in sorted(outputs.items()):  # one a line, whole: values are copied into other commands
            out.print(f"  [bold]{key}[/bold]: {value}", highlight=False)


def _emit_deployment(ctx: Context, deployment: dict[str, Any]) -> None:
    ctx.emit(deployment, lambda: _render_deployment(deployment))
    if deployment["status"] in {"failed", "destroy_failed"}:
        if not ctx.as_json:
            err.print(
                f"[red]{deployment['status']}[/red]: {deployment.get('error') or 'no reason given'}", highlight=False
            )
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
        deployment = _wait_deployment(ctx, deployment, DEPLOYED, timeout)
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
    ctx.emit(items, lambda: _show("deployments", items, DEPLOYMENT_COLUMNS))


@deploy.command("get")
@click.argument("deployment_id")
@pass_context
@handled
def deploy_get(ctx: Context, deployment_id: str) -> None:
    """One deployment."""
    deployment = ctx.api.get(f"/api/deployments/{deployment_id}")
    ctx.emit(deployment, lambda: _fields(deployment))


def _event_key(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


@deploy.command("events")
@click.argument("deployment_id")
@click.option("--limit", type=int, default=100, show_default=True, help="at most this many (without --follow)")
@click.option("--follow", "-f", is_flag=True, help="keep printing new events until the deployment settles")
@click.option("--timeout", type=float, default=900, show_default=True, help="seconds --follow follows")
@pass_context
@handled
def deploy_events(ctx: Context, deployment_id: str, limit: int, follow: bool, timeout: float) -> None:
    """A deployment's step log, oldest first; with --follow, new steps as they come (one JSON object a line
    under --json) until it is deployed, failed or destroyed."""
    path = f"/api/deployments/{deployment_id}/events"
    if not follow:
        items = list(ctx.api.pages(path, limit=limit))
        ctx.emit(items, lambda: _show("events", items, EVENT_COLUMNS))
        return
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        deployment = ctx.api.get(f"/api/deployments/{deployment_id}")  # read first: no step after it is missed
        fresh = [e for e in ctx.api.pages(path) if _event_key(e) not in seen]
        for event in fresh:
            seen.add(_event_key(event))
            if ctx.as_json:
                click.echo(json.dumps(event))
        if fresh and not ctx.as_json:
            out.print(table("", fresh, EVENT_COLUMNS, out.width), end="")
        if deployment["status"] not in IN_FLIGHT:
            if not ctx.as_json:
                out.print(f"deployment [bold]{deployment_id}[/bold]: {deployment['status']}", highlight=False)
            sys.exit(EXIT_FAILED if deployment["status"] in {"failed", "destroy_failed"} else 0)
        if time.monotonic() > deadline:
            fail(EXIT_FAILED, "timeout", f"{deployment_id} still {deployment['status']} after {timeout:g} s")
        time.sleep(POLL_SECONDS)


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
        deployment = _wait_deployment(ctx, deployment, DESTROYED, timeout)
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
    ctx.emit(items, lambda: _show("subscriptions", items, SUBSCRIPTION_COLUMNS))


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
    ctx.emit(status, lambda: _show("queues", rows, QUEUE_COLUMNS))


@admin.command("dlq")
@click.argument("queue")
@click.option("--limit", type=int, default=50, show_default=True)
@pass_context
@handled
def admin_dlq(ctx: Context, queue: str, limit: int) -> None:
    """The dead letters of a queue (by service name, or a work queue's name), without removing them."""
    found = ctx.api.get(f"/api/admin/dlq/{queue}", limit=limit)
    ctx.emit(found, lambda: _show(found["dlq"], found["items"], DLQ_COLUMNS))


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
    """S3 upload/download, SQS send/receive, SNS publish against AWS_ENDPOINT_URL (or AWS itself); on a
    loopback endpoint the embedded AWS's credentials and region stand in for any not set. Exits 3 when the
    endpoint cannot be reached, 4 when a check fails."""
    results = run_checks()

    def render() -> None:
        for check in results:
            mark = "[green]pass[/green]" if check.passed else "[red]FAIL[/red]"
            out.print(f"{mark} {check.name}: {check.detail}", highlight=False)

    ctx.emit([{"check": c.name, "passed": c.passed, "detail": c.detail} for c in results], render)
    failed = [c for c in results if not c.passed]
    if failed and all(c.unreachable for c in failed):
        sys.exit(EXIT_UNREACHABLE)
    if failed:
        sys.exit(EXIT_FAILED)
