"""Every error the API returns is JSON: {"error": {"code", "message", "fields": [{"field", "message"}]}}."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or []
        self.headers = headers or {}


def field_errors(exc: ValidationError, location: str = "") -> list[dict[str, str]]:
    fields = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or location or "body"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        fields.append({"field": path, "message": message})
    return fields


def error_document(code: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "fields": fields or []}}


def error_response(status: int, code: str, message: str, fields: list[dict[str, str]] | None = None) -> Response:
    response = jsonify(error_document(code, message, fields))
    response.status_code = status
    return response


def api_error_response(exc: ApiError) -> Response:
    response = error_response(exc.status, exc.code, exc.message, exc.fields)
    response.headers.update(exc.headers)
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, api_error_response)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}
        message = exc.description or exc.name
        if status == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
            message = f"the request body is larger than the limit of {current_app.config['MAX_CONTENT_LENGTH']} bytes"
        response = error_response(status, codes.get(status, "http_error"), message)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
