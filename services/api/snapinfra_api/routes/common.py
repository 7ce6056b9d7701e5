"""Helpers every blueprint uses: the wired dependencies, the caller, the parsed JSON body."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from flask import current_app, g, request
from pydantic import BaseModel, ValidationError

from snapinfra_api.auth import Principal
from snapinfra_api.errors import ApiError, field_errors

if TYPE_CHECKING:
    from snapinfra_api.bootstrap import ApiDependencies

M = TypeVar("M", bound=BaseModel)


def deps() -> ApiDependencies:
    return current_app.extensions["snapinfra"]  # type: ignore[no-any-return]


def authenticate() -> None:
    g.principal = deps().authenticator.authenticate(request)


def caller() -> Principal:
    return g.principal  # type: ignore[no-any-return]


def json_body(model: type[M]) -> M:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    document = request.get_json(silent=True)
    if document is None:
        raise ApiError(400, "invalid_json", "the body is not valid JSON")
    if not isinstance(document, dict):
        raise ApiError(
            422,
            "validation_error",
            "the body must be a JSON object",
            [{"field": "body", "message": "expected an object"}],
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "the request has invalid fields", field_errors(exc)) from exc


def query_args(model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, "invalid_query", "the query string has invalid parameters", field_errors(exc)) from exc


def require_admin() -> None:
    """After `authenticate`: a caller without admin rights gets 403 (not 404: the route is no secret)."""
    if not caller().is_admin:
        raise ApiError(403, "forbidden", "this route needs admin rights")


def authenticate_admin() -> None:
    authenticate()
    require_admin()
