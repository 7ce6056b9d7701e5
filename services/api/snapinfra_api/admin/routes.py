"""/api/admin: queue depths, dead letters and their redrive. Admin rights only; every call audited."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint
from flask.typing import ResponseReturnValue

from snapinfra_api.admin.schemas import (
    DeadLetterListOut,
    DeadLetterOut,
    DlqQuery,
    QueueDepthOut,
    QueueStatusListOut,
    QueueStatusOut,
    RedriveOut,
)
from snapinfra_api.admin.store import QueueInspector, UnknownQueue
from snapinfra_api.http.contract import documented
from snapinfra_api.http.errors import ApiError, api_error_response
from snapinfra_api.http.request import authenticate_admin, caller, deps, query_args

bp = Blueprint("admin", __name__, url_prefix="/api/admin")
bp.before_request(authenticate_admin)
audit = logging.getLogger("snapinfra.audit")


def _inspector() -> QueueInspector:
    d = deps()
    return QueueInspector(d.clients.sqs, d.settings.topology())


def _audit(action: str, **fields: object) -> None:
    audit.info("admin action", extra={"audit": True, "action": action, "admin_user": caller().user_id, **fields})


@bp.errorhandler(UnknownQueue)
def _unknown(exc: UnknownQueue) -> ResponseReturnValue:
    return api_error_response(
        ApiError(404, "not_found", f"no queue {exc.args[0]!r}: name a service (codegen) or a queue of this system")
    )


@bp.get("/queue-status")
@documented(
    "Every queue of the system and its DLQ: visible, in flight, delayed",
    tag="admin",
    responses={200: QueueStatusListOut},
    admin=True,
)
def queue_status() -> ResponseReturnValue:
    inspector = _inspector()
    queues = []
    for spec in inspector.queues():
        queue, dlq = inspector.depth(spec.name), inspector.depth(spec.dlq_name)
        queues.append(
            QueueStatusOut(
                service=spec.service,
                purpose="work" if inspector.is_work_queue(spec) else "events",
                queue=QueueDepthOut.of(queue),
                dlq=QueueDepthOut.of(dlq),
                dlq_depth=dlq.visible + dlq.in_flight + dlq.delayed,
            )
        )
    _audit("queue-status")
    return QueueStatusListOut(queues=queues, checked_at=datetime.now(UTC)).model_dump(mode="json", by_alias=True)


@bp.get("/dlq/<queue>")
@documented(
    "The dead-lettered messages of a queue (read without removing them)",
    tag="admin",
    query=DlqQuery,
    responses={200: DeadLetterListOut},
    errors=(404,),
    admin=True,
)
def dead_letters(queue: str) -> ResponseReturnValue:
    query = query_args(DlqQuery)
    inspector = _inspector()
    spec = inspector.find(queue)
    letters = inspector.dead_letters(spec, query.limit)
    _audit("dlq-list", queue=spec.name, count=len(letters))
    return DeadLetterListOut(
        queue=spec.name, dlq=spec.dlq_name, items=[DeadLetterOut.of(letter) for letter in letters]
    ).model_dump(mode="json", by_alias=True)


@bp.post("/dlq/<queue>/redrive")
@documented(
    "Move a queue's dead-lettered messages back to it for another try",
    tag="admin",
    query=DlqQuery,
    responses={200: RedriveOut},
    errors=(404,),
    admin=True,
)
def redrive(queue: str) -> ResponseReturnValue:
    query = query_args(DlqQuery)
    inspector = _inspector()
    spec = inspector.find(queue)
    result = inspector.redrive(spec, query.limit)
    _audit("dlq-redrive", queue=spec.name, moved=result.moved, failed=result.failed, remaining=result.remaining)
    return RedriveOut(queue=spec.name, moved=result.moved, failed=result.failed, remaining=result.remaining).model_dump(
        mode="json", by_alias=True
    )
