"""Health and metrics: never authenticated, never rate limited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from snapinfra_api.http.contract import Body, documented
from snapinfra_api.http.request import deps

bp = Blueprint("health", __name__)


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    checks: dict[str, str]


@bp.get("/healthz")
@documented("The process is alive", tag="health", responses={200: HealthOut}, public=True)
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


@bp.get("/readyz")
@documented(
    "The AWS endpoint, table, queue and bucket answer",
    tag="health",
    responses={200: ReadyOut, 503: ReadyOut},
    public=True,
)
def readyz() -> ResponseReturnValue:
    d = deps()
    checks: dict[str, str] = {}
    probes: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("table", lambda: d.clients.dynamodb.describe_table(TableName=d.resources.table)),
        (
            "queue",
            lambda: d.clients.sqs.get_queue_attributes(QueueUrl=d.resources.queue_url, AttributeNames=["QueueArn"]),
        ),
        # A listing of its own prefix, not HeadBucket: on AWS the api may list only under its prefix.
        (
            "bucket",
            lambda: d.clients.s3.list_objects_v2(Bucket=d.resources.bucket, Prefix=d.resources.prefix, MaxKeys=1),
        ),
    )
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
@documented(
    "Prometheus metrics", tag="health", responses={200: Body("text/plain", "the Prometheus text format")}, public=True
)
def metrics() -> ResponseReturnValue:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
