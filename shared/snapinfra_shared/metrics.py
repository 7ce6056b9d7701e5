"""The Prometheus metrics every service exposes (the api at /metrics, a worker on SNAPINFRA_METRICS_PORT), in one
place so that a name is defined once. Labels are bounded sets: a route template (never a path with ids), a status,
a queue name, an event type, a channel, an outcome.

On AWS the same facts reach CloudWatch through the JSON log lines they are counted beside (the access log, the
consumer's "message handled" and the notifier's "delivery attempted"), by the stack's metric filters.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds: an api answer is milliseconds; a handler may run for minutes (a code generation, a deployment).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HANDLER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

HTTP_REQUESTS = Counter(
    "snapinfra_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "snapinfra_http_request_seconds",
    "Time to answer an HTTP request (to its first byte for a stream), by method and route template",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)
MESSAGES = Counter(
    "snapinfra_messages",
    "Messages settled by a consumer, by queue and outcome (ok, retried, dead_lettered, released)",
    ["queue", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "snapinfra_handler_seconds",
    "Time spent in message handlers, by event type",
    ["event_type"],
    buckets=HANDLER_BUCKETS,
)
DELIVERIES = Counter(
    "snapinfra_deliveries",
    "Notification delivery attempts, by channel and outcome (succeeded, retrying, failed, refused)",
    ["channel", "outcome"],
)
