"""What each route accepts and answers, declared beside the route, for the OpenAPI document.

`@documented(...)` only records metadata on the view function; it changes nothing at request time.
The OpenAPI generator reads it from every view of the app, and a test fails when an /api route has no
declaration, so a new route cannot slip out of the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__snapinfra_operation__"


@dataclass(frozen=True)
class Body:
    """A response that is not a JSON model: a media type and what it holds (e.g. a ZIP, an event stream)."""

    media_type: str
    description: str


@dataclass(frozen=True)
class EventStream:
    """A `text/event-stream` response: the events it sends, by their `event:` name, each with the model of the
    JSON in its `data:` line. The document declares the schema every event must match."""

    description: str
    events: Mapping[str, type[BaseModel]]


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # status -> the model of a JSON answer, a non-JSON Body, an EventStream, or None for an empty answer (204)
    responses: Mapping[int, type[BaseModel] | Body | EventStream | None] = field(default_factory=dict)
    # the error statuses this route may answer besides the ones every route has (400, 401, 415, 422, 429)
    errors: tuple[int, ...] = ()
    admin: bool = False
    public: bool = False  # no authentication (health, docs)


def documented(
    summary: str,
    *,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: Mapping[int, type[BaseModel] | Body | EventStream | None],
    errors: tuple[int, ...] = (),
    admin: bool = False,
    public: bool = False,
) -> Callable[[F], F]:
    operation = Operation(summary, tag, body, query, dict(responses), errors, admin, public)

    def record(view: F) -> F:
        setattr(view, ATTRIBUTE, operation)
        return view

    return record


def operation_of(view: Callable[..., Any]) -> Operation | None:
    found = getattr(view, ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None
