"""Server-Sent Events: a resource's status, sent as it changes, until it is final.

A stream reads the api's read model (the status every api instance sees, whichever one projected the
event) every `sse_poll_seconds`, sends an event when the status moved, a comment line as a heartbeat
when nothing did, and ends at a final status, when the resource is gone, or after `sse_max_seconds`
(the client reconnects). Each open stream holds one of gunicorn's threads, so at most
`sse_max_streams` are served at once; one more gets 503 with Retry-After.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response

from snapinfra_api.http.errors import ApiError

EXTENSION = "snapinfra_streams"
# The events a stream sends (the `event:` line); a route declares each one's data model (contract.EventStream).
STATUS_EVENT = "status"  # the resource as GET answers it, at once and at each change; `id:` is the status
DELETED_EVENT = "deleted"  # the resource is gone (data `{}`); the stream ends

# Reads the resource: its status and its JSON form, or None once it is gone.
Read = Callable[[], tuple[str, dict[str, Any]] | None]


@dataclass(frozen=True)
class StreamOptions:
    poll_seconds: float
    heartbeat_seconds: float
    max_seconds: float


def format_event(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    lines = [f"event: {event}"] + ([f"id: {event_id}"] if event_id else [])
    return "\n".join([*lines, f"data: {json.dumps(data, separators=(',', ':'))}", "", ""])


def status_events(
    read: Read,
    first: tuple[str, dict[str, Any]],
    final: frozenset[str],
    options: StreamOptions,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """The stream's text: `status` events as the status moves, `: heartbeat` comments between them."""
    yield "retry: 2000\n\n"
    started = last_sent = clock()
    current: tuple[str, dict[str, Any]] | None = first
    last_status = None
    while True:
        now = clock()
        if current is None:
            yield format_event(DELETED_EVENT, {})
            return
        status, document = current
        if status != last_status:
            yield format_event(STATUS_EVENT, document, event_id=status)
            last_status, last_sent = status, now
            if status in final:
                return
        if now - started >= options.max_seconds:
            yield ": time limit of this stream reached; reconnect to follow on\n\n"
            return
        if now - last_sent >= options.heartbeat_seconds:
            yield ": heartbeat\n\n"
            last_sent = now
        sleep(options.poll_seconds)
        current = read()


class StreamSlots:
    """A bounded number of streams at once, across the threads of the process."""

    def __init__(self, size: int):
        self._slots = threading.BoundedSemaphore(size)

    def acquire(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise ApiError(
                503,
                "too_many_streams",
                "too many event streams are open on this server; try again shortly, or poll the resource",
                headers={"Retry-After": "5"},
            )

    def release(self) -> None:
        self._slots.release()


def slots_of(app: Flask, size: int) -> StreamSlots:
    found: StreamSlots = app.extensions.setdefault(EXTENSION, StreamSlots(size))
    return found


def event_stream(slots: StreamSlots, events: Iterator[str]) -> Response:
    """The response of a stream that holds a slot until it is closed (finished, or the client left)."""
    slots.acquire()
    response = Response(
        events,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # proxies must not buffer
    )
    response.call_on_close(slots.release)
    return response
