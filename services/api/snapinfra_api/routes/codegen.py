"""/api/code-gen: request a generated project, follow it, download it, delete it."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, g, stream_with_context
from flask.typing import ResponseReturnValue

from snapinfra_api.adapters.repository import InvalidCursor
from snapinfra_api.codegen_jobs import JobNotFound, JobNotReady
from snapinfra_api.domain.interpret import UninterpretablePrompt
from snapinfra_api.errors import ApiError, api_error_response
from snapinfra_api.routes.common import authenticate, caller, deps, json_body, query_args
from snapinfra_api.schemas import CodeGenerationOut, CreateCodeGeneration, ListQuery

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


@bp.post("")
def create() -> ResponseReturnValue:
    body = json_body(CreateCodeGeneration)
    try:
        job = deps().jobs.request(
            user_id=caller().user_id,
            project_id=body.project_id,
            project_type=body.type,
            prompt=body.prompt,
            spec=body.spec,
            correlation_id=g.request_id,
        )
    except UninterpretablePrompt as exc:
        raise ApiError(422, "uninterpretable_prompt", str(exc), [{"field": "prompt", "message": str(exc)}]) from exc
    return CodeGenerationOut.of(job).wire(), 202, {"Location": f"/api/code-gen/{job.id}"}


@bp.get("")
def list_jobs() -> ResponseReturnValue:
    query = query_args(ListQuery)
    try:
        page = deps().jobs.list(caller().user_id, limit=query.limit, cursor=query.cursor, project_id=query.project_id)
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_query", str(exc), [{"field": "cursor", "message": str(exc)}]) from exc
    return {"items": [CodeGenerationOut.of(job).wire() for job in page.items], "nextCursor": page.next_cursor}


@bp.get("/<job_id>")
def get(job_id: str) -> ResponseReturnValue:
    return CodeGenerationOut.of(deps().jobs.get(caller().user_id, _job_id(job_id))).wire()


@bp.get("/<job_id>/download-url")
def download_url(job_id: str) -> ResponseReturnValue:
    url, expires_in = deps().jobs.download_url(caller().user_id, _job_id(job_id))
    return {"url": url, "expiresIn": expires_in}


@bp.get("/<job_id>/download")
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


@bp.delete("/<job_id>")
def delete(job_id: str) -> ResponseReturnValue:
    deps().jobs.delete(caller().user_id, _job_id(job_id), g.request_id)
    return "", 204
