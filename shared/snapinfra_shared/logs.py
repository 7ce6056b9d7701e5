"""Structured logs with the correlation id of the request or event being handled (the api's request id, which
every event a request causes carries on as its `correlation_id`), and the trace id when tracing is on.

Two renderings of the same fields: JSON (containers: one object a line, for CloudWatch Logs Insights and the
stack's metric filters) and text (`make dev`: `time LEVEL logger: message key=value ...`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.core import BaseJsonFormatter
from pythonjsonlogger.json import JsonFormatter

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("snapinfra_log_context", default=None)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (correlation_id, event_id, job_id, ...) to every log line written inside."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind_context(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Like log_context, for code that cannot wrap a block (a request's before/teardown hooks)."""
    return _context.set({**(_context.get() or {}), **fields})


def reset_context(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        span = trace.get_current_span().get_span_context()
        if span.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = trace.format_trace_id(span.trace_id)
        return True


# The fields every line has, in this order; the rest follow as key=value.
_HEAD = ("time", "level", "logger", "message")
_PLAIN = re.compile(r"^[^\s\"=]+$")


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if _PLAIN.match(text) else json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(BaseJsonFormatter):
    """The JSON formatter's fields (python-json-logger picks them from the record) rendered for a person:
    `2026-12-01 07:03:12,345 INFO snapinfra.access: request method=POST route=/api/code-gen status=202 ...`;
    a value with spaces or quotes is quoted, a traceback follows on its own lines."""

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        head = f"{log_data.get('time')} {log_data.get('level')} {log_data.get('logger')}: {log_data.get('message')}"
        error = log_data.get("exc_info")
        fields = " ".join(
            f"{key}={_text_value(value)}"
            for key, value in log_data.items()
            if key not in _HEAD and key not in ("exc_info", "service") and value is not None
        )
        return head + (f" {fields}" if fields else "") + (f"\n{error}" if error else "")


def formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter of a log format: `json` (one object a line) or `text` (key=value fields)."""
    kind = JsonFormatter if fmt == "json" else KeyValueFormatter
    return kind(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(ContextFilter(service))
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
