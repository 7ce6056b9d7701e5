"""/api/code-gen: request a generated project, follow it, download it (and its diagram), delete it."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, g, stream_with_context
from flask.typing import ResponseReturnValue

from snapinfra_api.adapters.table import InvalidCursor
from snapinfra_api.codegen.schemas import (
    CodeGenerationListOut,
    CodeGenerationOut,
    CreateCodeGeneration,
    DeletedEventOut,
    DownloadUrlOut,
    ListQuery,
)
from snapinfra_api.codegen.use_cases import ArtifactGone, DiagramGone, JobNotFound, JobNotReady
from snapinfra_api.http.contract import Body, EventStream, documented
from snapinfra_api.http.errors import ApiError, api_error_response
from snapinfra_api.http.limits import idempotent, rate_limited
from snapinfra_api.http.request import authenticate, caller, deps, json_body, query_args
from snapinfra_api.http.streams import (
    DELETED_EVENT,
    STATUS_EVENT,
    StreamOptions,
    event_stream,
    slots_of,
    status_events,
)
from snapinfra_api.interpreter import UninterpretablePrompt

bp = Blueprint("codegen", __name__, url_prefix="/api/code-gen")
bp.before_request(authenticate)


def _job_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, "not_found", f"no code generation {value!r}") from None


@bp.errorhandler(JobNotFound)
def _not_found(exc: JobNotFound) -> ResponseReturnValue:
    return api_error_response(ApiError(404, "not_found", f"no code generation {exc.args[0]!r}"))


@bp.errorhandler(JobNotReady)
def _not_ready(exc: JobNotReady) -> ResponseReturnValue:
    return api_error_response(ApiError(409, "not_completed", str(exc)))


@bp.errorhandler(ArtifactGone)
@bp.errorhandler(DiagramGone)
def _gone(exc: ArtifactGone | DiagramGone) -> ResponseReturnValue:
    return api_error_response(ApiError(410, "artifact_gone", str(exc)))


@bp.post("")
@documented(
    "Request a generated project",
    tag="code-gen",
    body=CreateCodeGeneration,
    responses={202: CodeGenerationOut},
    errors=(413,),
)
@idempotent("code-gen")
@rate_limited("jobs")
def create() -> ResponseReturnValue:
    body = json_body(CreateCodeGeneration)
    try:
        job = deps().jobs.request(
            user_id=caller().user_id,
            project_id=body.project_id,
            project_type=body.type,
            prompt=body.prompt,
            spec=body.spec.internal() if body.spec else None,
            correlation_id=g.request_id,
        )
    except UninterpretablePrompt as exc:
        raise ApiError(422, "uninterpretable_prompt", str(exc), [{"field": "prompt", "message": str(exc)}]) from exc
    return CodeGenerationOut.of(job).wire(), 202, {"Location": f"/api/code-gen/{job.id}"}


@bp.get("")
@documented("The caller's jobs, newest first", tag="code-gen", query=ListQuery, responses={200: CodeGenerationListOut})
def list_jobs() -> ResponseReturnValue:
    query = query_args(ListQuery)
    try:
        page = deps().jobs.list(caller().user_id, limit=query.limit, cursor=query.cursor, project_id=query.project_id)
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_query", str(exc), [{"field": "cursor", "message": str(exc)}]) from exc
    return {"items": [CodeGenerationOut.of(job).wire() for job in page.items], "nextCursor": page.next_cursor}


@bp.get("/<job_id>")
@documented("One job", tag="code-gen", responses={200: CodeGenerationOut}, errors=(404,))
def get(job_id: str) -> ResponseReturnValue:
    return CodeGenerationOut.of(deps().jobs.get(caller().user_id, _job_id(job_id))).wire()


@bp.get("/<job_id>/download-url")
@documented("A presigned URL of the job's ZIP", tag="code-gen", responses={200: DownloadUrlOut}, errors=(404, 409, 410))
def download_url(job_id: str) -> ResponseReturnValue:
    url, expires_in = deps().jobs.download_url(caller().user_id, _job_id(job_id))
    return {"url": url, "expiresIn": expires_in}


@bp.get("/<job_id>/download")
@documented(
    "The job's ZIP, streamed through the api",
    tag="code-gen",
    responses={200: Body("application/zip", "the generated project")},
    errors=(404, 409, 410),
)
def download(job_id: str) -> ResponseReturnValue:
    found = deps().jobs.download(caller().user_id, _job_id(job_id))
    return Response(
        stream_with_context(found.chunks),
        mimetype="application/zip",
        headers={
            "Content-Length": str(found.content_length),
            "Content-Disposition": f'attachment; filename="{found.filename}"',
        },
    )


# The diagram is an SVG of the api's own making, served from the api's origin: it may not run anything.
_SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"}


@bp.get("/<job_id>/diagram-url")
@documented(
    "A presigned URL of the job's architecture diagram (SVG)",
    tag="code-gen",
    responses={200: DownloadUrlOut},
    errors=(404, 409, 410),
)
def diagram_url(job_id: str) -> ResponseReturnValue:
    url, expires_in = deps().jobs.diagram_url(caller().user_id, _job_id(job_id))
    return {"url": url, "expiresIn": expires_in}


@bp.get("/<job_id>/diagram")
@documented(
    "The job's architecture diagram: its entities with their references, and what the project deploys",
    tag="code-gen",
    responses={200: Body("image/svg+xml", "the architecture diagram, also in the ZIP as docs/architecture.svg")},
    errors=(404, 409, 410),
)
def diagram(job_id: str) -> ResponseReturnValue:
    found = deps().jobs.diagram(caller().user_id, _job_id(job_id))
    return Response(
        stream_with_context(found.chunks),
        mimetype="image/svg+xml",
        headers={
            "Content-Length": str(found.content_length),
            "Content-Disposition": f'inline; filename="{found.filename}"',
            **_SVG_HEADERS,
        },
    )


@bp.delete("/<job_id>")
@documented("Delete a job and its artifact", tag="code-gen", responses={204: None}, errors=(404,))
def delete(job_id: str) -> ResponseReturnValue:
    deps().jobs.delete(caller().user_id, _job_id(job_id), g.request_id)
    return "", 204


FINAL_STATUSES = frozenset({"completed", "failed"})


@bp.get("/<job_id>/events")
@documented(
    "Follow a job's status as Server-Sent Events until it is completed or failed",
    tag="code-gen",
    responses={
        200: EventStream(
            "`event: status` with the job as `data` (and its status as `id`) at once and at each change (queued, "
            "generating, completed or failed), `: heartbeat` comments in between; `event: deleted` (data `{}`) "
            "if the job is deleted. The stream ends at a final status or after SNAPINFRA_SSE_MAX_SECONDS.",
            {STATUS_EVENT: CodeGenerationOut, DELETED_EVENT: DeletedEventOut},
        )
    },
    errors=(404, 503),
)
def events(job_id: str) -> ResponseReturnValue:
    d, user, job_id = deps(), caller().user_id, _job_id(job_id)
    first = d.jobs.get(user, job_id)  # 404 before the stream starts

    def read() -> tuple[str, dict[str, object]] | None:
        job = d.jobs.repository.get(user, job_id)
        return (job.status, CodeGenerationOut.of(job).wire()) if job else None

    settings = d.settings
    options = StreamOptions(settings.sse_poll_seconds, settings.sse_heartbeat_seconds, settings.sse_max_seconds)
    stream = status_events(read, (first.status, CodeGenerationOut.of(first).wire()), FINAL_STATUSES, options)
    return event_stream(slots_of(current_app, settings.sse_max_streams), stream)
