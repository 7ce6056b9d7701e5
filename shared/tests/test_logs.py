"""The two renderings of a log line: JSON for containers, key=value text for a person; both keep every field."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from snapinfra_shared import tracing
from snapinfra_shared.logs import ContextFilter, formatter, log_context


def line(fmt: str, message: str = "request", exc_info: bool = False, **extra: object) -> str:
    record = logging.LogRecord("snapinfra.access", logging.INFO, __file__, 1, message, None, None)
    if exc_info:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
    record.__dict__.update(extra)
    ContextFilter("api").filter(record)
    return formatter(fmt).format(record)


def test_text_keeps_the_fields_as_key_value_pairs():
    with log_context(correlation_id="req-1"):
        text = line(
            "text", method="POST", route="/api/code-gen", status=202, ms=12.5, user_id="alice", note="two words"
        )
    head, fields = text.split(": request ", 1)
    assert head.endswith(" INFO snapinfra.access")
    assert (
        fields
        == 'method=POST route=/api/code-gen status=202 ms=12.5 user_id=alice note="two words" correlation_id=req-1'
    )


def test_text_quotes_what_would_be_ambiguous_and_puts_a_traceback_below():
    text = line("text", "handler failed", exc_info=True, error='said "no"', empty="", items=["a", "b"])
    first, *rest = text.splitlines()
    assert first.endswith('handler failed error="said \\"no\\"" empty="" items="[\\"a\\", \\"b\\"]"')
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_json_has_the_same_fields_and_the_service():
    with log_context(correlation_id="req-2"):
        document = json.loads(line("json", method="GET", route="/healthz", status=200))
    assert document["message"] == "request" and document["level"] == "INFO"
    assert document["logger"] == "snapinfra.access" and document["service"] == "api"
    assert (document["correlation_id"], document["method"], document["status"]) == ("req-2", "GET", 200)


def test_a_line_written_inside_a_span_has_its_trace_id():
    provider = TracerProvider()
    tracing.start(provider)
    try:
        with tracing.tracer().start_as_current_span("work") as span:
            document = json.loads(line("json"))
        assert document["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    finally:
        tracing.stop()
    assert "trace_id" not in json.loads(line("json"))
