"""The OpenAPI 3.1 document, generated from the app's url_map, each view's `@documented` declaration,
and the pydantic models it names (their JSON schemas go to `components/schemas`, referenced by `$ref`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from snapinfra_api.http.contract import Body, EventStream, Operation, operation_of
from snapinfra_api.http.limits import IDEMPOTENCY_HEADER, IDEMPOTENT, RATE_LIMITED

REF = "#/components/schemas/{model}"
PATH_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
COMMON_ERRORS = (400, 401, 415, 422, 429)
REASONS = {
    400: "The query, a header or the body is malformed (or nests JSON deeper than SNAPINFRA_MAX_JSON_DEPTH)",
    401: "No valid credentials",
    403: "The caller lacks admin rights",
    404: "No such resource of the caller's",
    409: "The resource is not in a state that allows this, or exists already (or the same Idempotency-Key is "
    "still in progress)",
    410: "Gone: the confirmation code expired or used up its attempts (ask for a new one), or a completed "
    "job's artifact is no longer stored",
    413: "The body is larger than SNAPINFRA_MAX_BODY_BYTES",
    415: "The body is not JSON",
    422: "A field is invalid (named in `fields`), or an Idempotency-Key was reused with another body",
    429: "Over the caller's rate limit; retry after `Retry-After` seconds",
    503: "Not ready, or a dependency (the token issuer's keys) is unavailable; retry later",
}


class FieldErrorOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    message: str


class ErrorDetailOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    fields: list[FieldErrorOut]


class ErrorOut(BaseModel):
    """Every error the API answers."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetailOut


def _operations(app: Flask) -> list[tuple[str, str, list[str], Any, Operation]]:
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        operation = operation_of(view) if view else None
        if operation is None:
            continue
        path = PATH_ARGUMENT.sub(lambda m: "{" + m.group(1) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower(), sorted(rule.arguments), view, operation))
    return found


def _media_schema(body: Body) -> dict[str, Any]:
    if body.media_type.endswith("json"):
        return {"type": "object"}
    if body.media_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "contentMediaType": body.media_type}


def _event_stream_schema(stream: EventStream, refs: dict[Any, Any]) -> dict[str, Any]:
    """The schema of one event of the stream, as an SSE parser reads it ({event, data, id?, retry?}): before
    OpenAPI 3.2 (`itemSchema`), a `text/event-stream` media type's `schema` describes each event. `data` is JSON
    of the event's model (`contentSchema`); `id` is the last id sent, which an event without one inherits."""
    return {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "event": {"const": name},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": refs[(model, "serialization")],
                    },
                    "id": {"type": "string"},
                    "retry": {"type": "integer", "minimum": 0},
                },
                "required": ["event", "data"],
                "additionalProperties": False,
            }
            for name, model in sorted(stream.events.items())
        ]
    }


def _header(description: str, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "integer"}}


def _close_answers(roots: list[dict[str, Any]], schemas: dict[str, Any]) -> None:
    """Answers hold exactly their declared fields: every object an answer reaches refuses undeclared ones."""
    pending, seen = list(roots), set()
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending += node
        elif isinstance(node, dict):
            if "properties" in node:
                node.setdefault("additionalProperties", False)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                pending.append(schemas[ref.rsplit("/", 1)[-1]])
            pending += [v for k, v in node.items() if k != "$ref"]


def build_document(app: Flask, *, auth_mode: Literal["dev", "jwt"], title: str = "Snapinfra API") -> dict[str, Any]:
    operations = _operations(app)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorOut, "serialization")]
    for *_, operation in operations:
        if operation.body is not None:
            wanted.append((operation.body, "validation"))
        if operation.query is not None:
            wanted.append((operation.query, "validation"))
        wanted += [(m, "serialization") for m in operation.responses.values() if isinstance(m, type)]
        for answer in operation.responses.values():
            if isinstance(answer, EventStream):
                wanted += [(m, "serialization") for m in answer.events.values()]
    refs, definitions = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    _close_answers([refs[w] for w in wanted if w[1] == "serialization"], schemas)
    error = {"application/json": {"schema": refs[(ErrorOut, "serialization")]}}
    scheme = "bearer" if auth_mode == "jwt" else "devUser"

    paths: dict[str, dict[str, Any]] = {}
    for path, method, arguments, view, operation in operations:
        rate_limited, idempotent = hasattr(view, RATE_LIMITED), hasattr(view, IDEMPOTENT)
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in arguments
        ]
        if operation.query is not None:
            query = _query_schema(operation.query, schemas)
            parameters += [
                {"name": name, "in": "query", "required": name in query.get("required", []), "schema": schema}
                for name, schema in query.get("properties", {}).items()
            ]
        if idempotent:
            parameters.append(
                {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "the same key with the same body answers the first answer again, once",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                }
            )
        rate_headers = (
            {
                "X-RateLimit-Limit": _header("the bucket's size"),
                "X-RateLimit-Remaining": _header("tokens left"),
                "X-RateLimit-Reset": _header("seconds until the bucket is full again"),
            }
            if rate_limited
            else {}
        )
        responses: dict[str, Any] = {}
        for status, answer in sorted(operation.responses.items()):
            entry: dict[str, Any] = {"description": operation.summary if status < 300 else REASONS.get(status, "")}
            if isinstance(answer, Body):
                entry["description"] = answer.description
                entry["content"] = {answer.media_type: {"schema": _media_schema(answer)}}
            elif isinstance(answer, EventStream):
                entry["description"] = answer.description
                entry["content"] = {"text/event-stream": {"schema": _event_stream_schema(answer, refs)}}
            elif answer is not None:
                entry["content"] = {"application/json": {"schema": refs[(answer, "serialization")]}}
            if rate_headers and status < 300:
                entry["headers"] = rate_headers
            responses[str(status)] = entry
        errors = set(operation.errors)
        if not operation.public:
            errors |= set(COMMON_ERRORS) | ({503} if auth_mode == "jwt" else set())
        errors |= ({403} if operation.admin else set()) | ({409} if idempotent else set())
        errors |= {400} if operation.query is not None else set()  # public routes validate their input too
        errors |= {400, 413, 415, 422} if operation.body is not None else set()
        for status in sorted(errors - {int(s) for s in responses}):
            entry = {"description": REASONS.get(status, "Error"), "content": error}
            if status == 429:
                entry["headers"] = {**rate_headers, "Retry-After": _header("seconds to wait", required=True)}
            responses[str(status)] = entry
        document: dict[str, Any] = {
            "operationId": f"{view.__module__.removesuffix('.routes').rsplit('.', 1)[-1]}_{view.__name__}_{method}",
            "summary": operation.summary,
            "tags": [operation.tag],
            "parameters": parameters,
            "responses": responses,
            "security": [] if operation.public else [{scheme: []}],
        }
        if operation.body is not None:
            document["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(operation.body, "validation")]}},
            }
        paths.setdefault(path, {})[method] = document

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "Send a prompt, get a generated project; deploy it; be told as it moves. Errors are "
            '`{"error": {"code", "message", "fields"}}`. Authentication: '
            + ("a Bearer JWT." if auth_mode == "jwt" else "dev mode, the `x-dev-user-id` header names the caller."),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "devUser": {"type": "apiKey", "in": "header", "name": "x-dev-user-id"},
            },
        },
    }


def _query_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """A query model's own schema (its properties become parameters); anything it refers to goes to components."""
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    return schema
