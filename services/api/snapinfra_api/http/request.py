"""Helpers every blueprint uses: the wired dependencies, the caller, the parsed JSON body."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ValidationError

from snapinfra_api.http.auth import Principal
from snapinfra_api.http.errors import ApiError, field_errors

if TYPE_CHECKING:
    from snapinfra_api.bootstrap import ApiDependencies

M = TypeVar("M", bound=BaseModel)


def deps() -> ApiDependencies:
    return current_app.extensions["snapinfra"]  # type: ignore[no-any-return]


def authenticate() -> None:
    g.principal = deps().authenticator.authenticate(request)


def caller() -> Principal:
    return g.principal  # type: ignore[no-any-return]


_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # an escaped character (inside a string)
_STRING = re.compile(rb'"[^"]*"?')  # a string, once its escapes are gone (or an unterminated one)
_SAME_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit` (brackets inside strings do not count),
    found in linear passes at C speed before any recursive parser sees it: the text is cut down to its
    brackets, then each pass removes the innermost pairs, one level of nesting."""
    if text.count("[") + text.count("{") <= limit:
        return False
    raw = text.encode("utf-8", "surrogatepass")
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", raw)).translate(_SAME_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        reduced = brackets.replace(b"[]", b"")
        if reduced == brackets:
            break
        brackets = reduced
    # A pair left after `limit` passes is nested deeper; so is a run of more than `limit` unclosed openers.
    return b"[]" in brackets or len(brackets) - len(brackets.rstrip(b"[")) > limit


class JsonBodies(DefaultJSONProvider):
    """The app's JSON: every body it parses (request.get_json, the Idempotency-Key fingerprint) is refused
    with 400 when it nests deeper than `max_depth`, before Python's parser would recurse into it (a body
    of 10,000 '[' would otherwise end in RecursionError, a 500)."""

    def __init__(self, app: Flask, max_depth: int):
        super().__init__(app)
        self.max_depth = max_depth

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        text = s.decode(json.detect_encoding(s)) if isinstance(s, bytes) else s  # as json.loads decodes bytes
        if nesting_exceeds(text, self.max_depth):
            raise ApiError(
                400,
                "json_too_deep",
                f"the body nests arrays and objects deeper than {self.max_depth} levels",
                [{"field": "body", "message": f"nested deeper than {self.max_depth} levels"}],
            )
        return super().loads(text, **kwargs)


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
