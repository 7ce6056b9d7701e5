"""/api/deployments: deploy a completed code generation, follow it, read its step log, destroy it."""

from __future__ import annotations

import uuid

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from snapinfra_api.adapters.table import InvalidCursor
from snapinfra_api.deployments.schemas import (
    CreateDeployment,
    DeploymentEventOut,
    DeploymentEventPageOut,
    DeploymentEventsQuery,
    DeploymentListQuery,
    DeploymentOut,
    DeploymentPageOut,
    credential_fields,
)
from snapinfra_api.deployments.use_cases import CodeGenerationNotFound, DeploymentConflict, DeploymentNotFound
from snapinfra_api.http.contract import documented
from snapinfra_api.http.errors import ApiError, api_error_response
from snapinfra_api.http.limits import idempotent, rate_limited
from snapinfra_api.http.request import authenticate, caller, deps, json_body, query_args

bp = Blueprint("deployments", __name__, url_prefix="/api/deployments")
bp.before_request(authenticate)

CREDENTIALS_REFUSED = "credentials are never accepted: give a roleArn that the deployer may assume"


def _deployment_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(404, "not_found", f"no deployment {value!r}") from None


@bp.errorhandler(DeploymentNotFound)
def _not_found(exc: DeploymentNotFound) -> ResponseReturnValue:
    return api_error_response(ApiError(404, "not_found", f"no deployment {exc.args[0]!r}"))


@bp.errorhandler(CodeGenerationNotFound)
def _no_code_generation(exc: CodeGenerationNotFound) -> ResponseReturnValue:
    message = f"no code generation {exc.args[0]!r}"
    return api_error_response(ApiError(404, "not_found", message, [{"field": "codeGenId", "message": message}]))


@bp.errorhandler(DeploymentConflict)
def _conflict(exc: DeploymentConflict) -> ResponseReturnValue:
    return api_error_response(ApiError(409, exc.code, str(exc)))


@bp.errorhandler(InvalidCursor)
def _bad_cursor(exc: InvalidCursor) -> ResponseReturnValue:
    return api_error_response(ApiError(400, "invalid_query", str(exc), [{"field": "cursor", "message": str(exc)}]))


@bp.post("")
@documented(
    "Deploy a completed code generation (infra or full-stack) as a CloudFormation stack",
    tag="deployments",
    body=CreateDeployment,
    responses={202: DeploymentOut},
    errors=(404, 409),
)
@idempotent("deployments")
@rate_limited("jobs")
def create() -> ResponseReturnValue:
    document = request.get_json(silent=True) if request.mimetype == "application/json" else None
    found = credential_fields(document) if isinstance(document, dict) else []
    if found:
        # Never echoed, never stored, never logged: only where they were.
        fields = [{"field": f, "message": CREDENTIALS_REFUSED} for f in found]
        raise ApiError(422, "credentials_refused", CREDENTIALS_REFUSED, fields)
    body = json_body(CreateDeployment)
    deployment = deps().deployments.request(
        user_id=caller().user_id,
        code_gen_id=str(uuid.UUID(body.code_gen_id)),
        environment=body.environment,
        parameters=body.parameters,
        region=body.region,
        role_arn=body.role_arn,
        correlation_id=g.request_id,
    )
    return DeploymentOut.of(deployment).wire(), 202, {"Location": f"/api/deployments/{deployment.id}"}


@bp.get("")
@documented(
    "The caller's deployments, newest first",
    tag="deployments",
    query=DeploymentListQuery,
    responses={200: DeploymentPageOut},
)
def list_deployments() -> ResponseReturnValue:
    query = query_args(DeploymentListQuery)
    page = deps().deployments.list(
        caller().user_id,
        limit=query.limit,
        cursor=query.cursor,
        project_id=query.project_id,
        status=query.status,
        environment=query.environment,
    )
    return DeploymentPageOut(items=[DeploymentOut.of(d) for d in page.items], next_cursor=page.next_cursor).wire()


@bp.get("/<deployment_id>")
@documented("One deployment", tag="deployments", responses={200: DeploymentOut}, errors=(404,))
def get(deployment_id: str) -> ResponseReturnValue:
    return DeploymentOut.of(deps().deployments.get(caller().user_id, _deployment_id(deployment_id))).wire()


@bp.get("/<deployment_id>/events")
@documented(
    "A deployment's step log, oldest first",
    tag="deployments",
    query=DeploymentEventsQuery,
    responses={200: DeploymentEventPageOut},
    errors=(404,),
)
def events(deployment_id: str) -> ResponseReturnValue:
    query = query_args(DeploymentEventsQuery)
    page = deps().deployments.events(
        caller().user_id, _deployment_id(deployment_id), limit=query.limit, cursor=query.cursor
    )
    return DeploymentEventPageOut(
        items=[DeploymentEventOut.of(s) for s in page.items], next_cursor=page.next_cursor
    ).wire()


@bp.delete("/<deployment_id>")
@documented(
    "Destroy a deployment's stack (the record stays as history)",
    tag="deployments",
    responses={202: DeploymentOut},
    errors=(404, 409),
)
def destroy(deployment_id: str) -> ResponseReturnValue:
    deployment = deps().deployments.destroy(caller().user_id, _deployment_id(deployment_id), g.request_id)
    return DeploymentOut.of(deployment).wire(), 202
