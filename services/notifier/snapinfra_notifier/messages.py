"""What each notification says: email (text and HTML from the templates), SMS (one short line) and
webhook (the event itself, as JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from snapinfra_notifier.adapters.channels import Email
from snapinfra_shared.events import Envelope

SUBJECTS: dict[str, str] = {
    "codegen.queued": "Code generation queued for {project_id}",
    "codegen.started": "Code generation started for {project_id}",
    "codegen.completed": "Your project {project_id} is ready to download",
    "codegen.failed": "Code generation failed for {project_id}",
    "deployment.queued": "Deployment {stack_name} queued",
    "deployment.started": "Deployment {stack_name} started",
    "deployment.completed": "Deployment {stack_name} is live",
    "deployment.failed": "Deployment {stack_name} failed",
    "deployment.destroying": "Deployment {stack_name} is being destroyed",
    "deployment.destroyed": "Deployment {stack_name} destroyed",
    "deployment.destroy_failed": "Deployment {stack_name} could not be destroyed",
    "system.dead_lettered": "[Snapinfra alert] {source} dead-lettered a message",
}
ALERT_KIND = "system.dead_lettered"


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("snapinfra_notifier", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    return _templates().get_template(template).render(**context)


@dataclass(frozen=True)
class Links:
    """Where a notification points: the api as users reach it, a presigned download and its diagram."""

    base_url: str
    download_url: str | None = None
    download_expires: datetime | None = None
    diagram_url: str | None = None


def subject(kind: str, event: Envelope) -> str:
    fields = {"project_id": "", "stack_name": "", "source": event.source, **event.data}
    return SUBJECTS[kind].format(**{k: v for k, v in fields.items() if isinstance(v, str)})


def email(kind: str, event: Envelope, to: str, links: Links, *, notification_id: str, subscription_id: str) -> Email:
    family = "alert" if kind == ALERT_KIND else kind.split(".", 1)[0]
    data = event.data
    title = subject(kind, event)
    context = {
        "kind": kind,
        "subject": title,
        "data": _Attrs(data),
        "notification_id": notification_id,
        "subscription_id": subscription_id,
        "job_url": f"{links.base_url}/api/code-gen/{data.get('job_id', '')}",
        "deployment_url": f"{links.base_url}/api/deployments/{data.get('deployment_id', '')}",
        "download_url": links.download_url or "",
        "download_expires": links.download_expires.isoformat(timespec="minutes") if links.download_expires else "",
        "diagram_url": links.diagram_url or "",
    }
    return Email(
        to=to,
        subject=title,
        text=render(f"{family}.txt", **context),
        html=render(f"{family}.html", **context),
    )


def sms(kind: str, event: Envelope) -> str:
    """One short line (an SMS segment is 160 characters)."""
    line = f"Snapinfra: {subject(kind, event)}."
    reason = event.data.get("reason")
    if isinstance(reason, str):
        line += f" {reason}"
    return line if len(line) <= 160 else line[:157] + "..."


def sms_code(code: str, minutes: int) -> str:
    """The one text an unconfirmed number ever gets: its code, and how to ignore it."""
    return (
        f"Snapinfra code: {code}. Enter it within {minutes} min to get Snapinfra notifications by SMS here. "
        "Not you? Ignore this."
    )


def webhook_body(kind: str, event: Envelope) -> str:
    """The event itself, with its notification kind beside its type."""
    return json.dumps({"kind": kind, **event.model_dump(mode="json")}, separators=(",", ":"))


def expiry(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


class _Attrs(dict[str, Any]):
    """Event data that templates read as attributes (`data.artifact.file_count`); a missing one is empty."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Attrs(value) if isinstance(value, dict) else value
