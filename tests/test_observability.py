"""Logs, metrics and one trace per request across the services: the api, codegen and the notifier run in this
process against the embedded AWS, each with its own consumer on its own queue, as in their own processes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies as api_dependencies
from snapinfra_api.codegen.projection import build_handlers as api_handlers
from snapinfra_api.notifications.projection import build_notification_handlers
from snapinfra_api.settings import ApiSettings
from snapinfra_codegen.bootstrap import build_dependencies as codegen_dependencies
from snapinfra_codegen.bootstrap import build_handlers as codegen_handlers
from snapinfra_codegen.settings import CodegenSettings
from snapinfra_notifier.bootstrap import build_delivery_handler
from snapinfra_notifier.bootstrap import build_dependencies as notifier_dependencies
from snapinfra_notifier.bootstrap import build_handlers as notifier_handlers
from snapinfra_notifier.settings import NotifierSettings
from snapinfra_shared import tracing
from snapinfra_shared.aws import AwsClients
from snapinfra_shared.catalog import CodeGenerationRequested
from snapinfra_shared.consumer import Consumer, ConsumerOptions
from snapinfra_shared.events import new_event
from snapinfra_shared.logs import ContextFilter
from snapinfra_shared.provision import verify_email_sender
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import consumer_for, resolve_resources
from snapinfra_shared.spec import ProjectSpec
from tests.system import RunningSystem

ALICE = {"x-dev-user-id": "alice"}
COMMON: dict[str, Any] = {"s3_addressing_style": "path", "startup_timeout_seconds": 5, "wait_time_seconds": 0}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.start(provider)
    try:
        yield exporter
    finally:
        tracing.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append(dict(self.headers.items()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def run_until(consumers: list[Consumer], done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll every consumer in turn, as their processes would, until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the services did not get there in time"
        for consumer in consumers:
            consumer.poll_once()


def consumed(spans: InMemorySpanExporter, service: str) -> list[ReadableSpan]:
    return [
        s
        for s in spans.get_finished_spans()
        if s.kind == SpanKind.CONSUMER and (s.attributes or {}).get("snapinfra.service") == service
    ]


class System:
    """The api (its Flask app and its projection consumer), codegen, and the notifier (its events and its
    deliveries) wired to one provisioned stack, each consumer on its own queue as in their processes."""

    def __init__(self, stack: Any, hook_url: str, received: list[dict[str, str]]):
        self.received = received
        clients = AwsClients(s3_addressing_style="path")
        api_settings = ApiSettings(auth_mode="dev", prefix=stack.prefix, webhook_allowed_hosts=["127.0.0.1"], **COMMON)
        api = api_dependencies(api_settings, clients)
        self.app = create_app(ports=api)  # with tracing on, the Flask instrumentation wraps it
        handlers = api_handlers(api.repository, api.deployments.repository)
        handlers |= build_notification_handlers(api.notifications.read_model)
        self.projection = consumer_for(clients, api_settings, api.resources, handlers)
        codegen_settings = CodegenSettings(prefix=stack.prefix, **COMMON)
        codegen_resources = resolve_resources(clients, codegen_settings, "codegen")
        codegen_deps = codegen_dependencies(codegen_settings, clients, codegen_resources)
        self.codegen = consumer_for(clients, codegen_settings, codegen_resources, codegen_handlers(codegen_deps))
        notifier_settings = NotifierSettings(prefix=stack.prefix, webhook_allowed_hosts=["127.0.0.1"], **COMMON)
        verify_email_sender(clients, notifier_settings.email_sender)
        notifier_resources = resolve_resources(clients, notifier_settings, "notifier")
        work = notifier_settings.topology().work_queues["notifier"]
        delivery_url = clients.sqs.get_queue_url(QueueName=work.name)["QueueUrl"]
        notifier_deps = notifier_dependencies(notifier_settings, clients, notifier_resources, delivery_url)
        self.notifier = consumer_for(clients, notifier_settings, notifier_resources, notifier_handlers(notifier_deps))
        self.deliveries = Consumer(
            clients.sqs,
            queue_url=delivery_url,
            dlq_url=clients.sqs.get_queue_url(QueueName=work.dlq_name)["QueueUrl"],
            handle=build_delivery_handler(notifier_deps),
            options=ConsumerOptions(visibility_timeout=30, max_receive_count=5, wait_time_seconds=0),
            service="notifier",
        )
        self.client = self.app.test_client()
        subscribed = self.client.post(
            "/api/notifications/subscribe/webhook",
            json={"url": hook_url, "statuses": ["started", "completed"]},
            headers=ALICE,
        )
        assert subscribed.status_code == 201, subscribed.json
        handled: list[str] = []  # the notifier has the subscription once it handled SubscriptionRequested
        run_until([], lambda: handled.extend(r.outcome for r in self.notifier.poll_once()) or "ok" in handled)

    def generate(self, request_id: str) -> str:
        """Ask for a code generation and run the services until it is completed and its two webhooks are sent."""
        response = self.client.post(
            "/api/code-gen",
            json={"projectId": "traced", "type": "api", "prompt": "Create a REST API for user management"},
            headers={**ALICE, "X-Request-Id": request_id},
        )
        assert response.status_code == 202, response.json
        job_id = str(response.json["id"])
        sent = len(self.received)
        run_until(
            [self.codegen, self.notifier, self.deliveries, self.projection],
            lambda: len(self.received) >= sent + 2 and self.status(job_id) == "completed",
        )
        return job_id

    def status(self, job_id: str) -> str:
        return str(self.client.get(f"/api/code-gen/{job_id}", headers=ALICE).json["status"])


@pytest.fixture
def system(stack: Any, webhook: tuple[str, list[dict[str, str]]]) -> System:
    return System(stack, *webhook)


def test_a_code_generation_is_one_trace_across_the_api_codegen_and_the_notifier(spans, system):
    spans.clear()
    system.generate("req-traced-1")

    [request] = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER and s.name == "POST /api/code-gen"]
    trace_id = request.context.trace_id
    assert (request.attributes or {})["snapinfra.request_id"] == "req-traced-1"
    generated = [s for s in consumed(spans, "codegen") if s.name == "process CodeGenerationRequested"]
    notified = [s for s in consumed(spans, "notifier") if s.name.startswith("process CodeGeneration")]
    delivered = [s for s in consumed(spans, "notifier") if s.name == "process NotificationDue"]
    projected = [s for s in consumed(spans, "api") if s.name.startswith("process CodeGeneration")]
    assert generated and notified and delivered and projected
    for span in generated + notified + delivered + projected:
        assert span.context.trace_id == trace_id, span.name
        assert (span.attributes or {})["snapinfra.correlation_id"] == "req-traced-1"
        assert span.parent is not None and span.parent.is_remote  # continued from the message's attributes
    # Each hop's AWS calls are spans of the same trace too (the botocore instrumentation): the SNS publish
    # of the request's event is a child of the request's span and the parent of codegen's.
    [publish] = [s for s in spans.get_finished_spans() if s.name.endswith("-api-events send")]
    assert publish.parent is not None and publish.parent.span_id == request.context.span_id
    assert generated[0].parent.span_id == publish.context.span_id  # type: ignore[union-attr]
    # The trace stays inside: a user's webhook receives no traceparent header.
    assert all("traceparent" not in {k.lower() for k in headers} for headers in system.received)


def test_with_tracing_off_a_message_carries_the_envelope_attributes_only(stack):
    assert not tracing.enabled()
    publisher = Publisher(stack.clients.sns, stack.provisioned["topics"]["api"])
    publisher.publish(requested())
    [message] = stack.drain("codegen")
    assert set(message["MessageAttributes"]) == {"type", "source", "user_id", "correlation_id"}


def test_with_tracing_on_a_message_carries_the_trace_within_the_attribute_limit(stack, spans):
    publisher = Publisher(stack.clients.sns, stack.provisioned["topics"]["api"])
    with tracing.tracer().start_as_current_span("request") as span:
        publisher.publish(requested())
    [message] = stack.drain("codegen")
    attributes = message["MessageAttributes"]
    assert attributes["traceparent"]["StringValue"].split("-")[1] == f"{span.get_span_context().trace_id:032x}"
    assert len(attributes) <= 10 - 3  # a DLQ move adds three attributes of its own


def requested():
    spec = ProjectSpec.model_validate({"entities": [{"name": "User", "fields": [{"name": "email", "type": "email"}]}]})
    return new_event(
        "CodeGenerationRequested",
        source="api",
        user_id="alice",
        correlation_id="req-1",
        data=CodeGenerationRequested(
            job_id="j-1", project_id="p", project_type="api", prompt="users", spec=spec, spec_source="given"
        ),
    )


class Records(logging.Handler):
    """Every log record, with the fields the services' handler adds (the log context, the trace id)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter("test"))
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    handler, root = Records(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_request_is_logged_and_counted_in_every_service(system, records):
    queues = {c.queue_name: c for c in (system.projection, system.codegen, system.notifier, system.deliveries)}
    route = {"method": "POST", "route": "/api/code-gen"}
    before = {
        "requests": sample("snapinfra_http_requests_total", **route, status="202"),
        "latencies": sample("snapinfra_http_request_seconds_count", **route),
        "generated": sample("snapinfra_messages_total", queue=system.codegen.queue_name, outcome="ok"),
        "handler": sample("snapinfra_handler_seconds_count", event_type="CodeGenerationRequested"),
        "delivered": sample("snapinfra_deliveries_total", channel="webhook", outcome="succeeded"),
    }
    records.clear()
    system.generate("req-logged-1")

    [access] = [r for r in records if r.name == "snapinfra.access" and vars(r)["route"] == "/api/code-gen"]
    assert (access.method, access.status, access.user_id, access.correlation_id) == (
        "POST",
        202,
        "alice",
        "req-logged-1",
    )
    assert access.ms >= 0 and access.levelno == logging.INFO
    # The request id is on the lines its events cause in every service: each consumer handled one with it.
    handled = [r for r in records if r.getMessage() == "message handled" and r.correlation_id == "req-logged-1"]
    assert {r.queue for r in handled} == set(queues)
    assert all(r.outcome == "ok" and r.handler_ms >= 0 and r.event_type for r in handled)
    # Every line a handler writes has the correlation id of the message it handles.
    assert all(hasattr(r, "correlation_id") for r in records if r.threadName.startswith("handler"))
    delivered = [r for r in records if r.getMessage() == "delivery attempted"]
    assert [(r.channel, r.outcome, r.correlation_id) for r in delivered] == [
        ("webhook", "succeeded", "req-logged-1")
    ] * 2

    assert sample("snapinfra_http_requests_total", **route, status="202") == before["requests"] + 1
    assert sample("snapinfra_http_request_seconds_count", **route) == before["latencies"] + 1
    assert sample("snapinfra_messages_total", queue=system.codegen.queue_name, outcome="ok") == before["generated"] + 1
    requested = [r for r in handled if r.event_type == "CodeGenerationRequested"]  # codegen's, the notifier's
    assert len(requested) == 2
    assert sample("snapinfra_handler_seconds_count", event_type="CodeGenerationRequested") == before["handler"] + 2
    assert sample("snapinfra_deliveries_total", channel="webhook", outcome="succeeded") == before["delivered"] + 2
    exposed = system.client.get("/metrics").text
    assert 'snapinfra_http_requests_total{method="POST",route="/api/code-gen",status="202"}' in exposed
    assert f'snapinfra_messages_total{{outcome="ok",queue="{system.codegen.queue_name}"}}' in exposed
    assert 'snapinfra_deliveries_total{channel="webhook",outcome="succeeded"}' in exposed


def test_an_unmatched_path_and_a_client_error_are_access_logged(system, records):
    records.clear()
    assert system.client.get("/api/nowhere", headers=ALICE).status_code == 404
    assert system.client.post("/api/code-gen", json={}, headers={**ALICE, "X-Request-Id": "req-bad"}).status_code == 422
    lines = [(r.method, r.route, r.status, r.correlation_id) for r in records if r.name == "snapinfra.access"]
    assert lines[0][:3] == ("GET", "unmatched", 404)
    assert lines[1] == ("POST", "/api/code-gen", 422, "req-bad")


class OtlpReceiver:
    """An OTLP/HTTP trace endpoint on 127.0.0.1 (what a collector is to the services): it keeps every span,
    as (service name, span name, trace id, span id, parent span id)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str, str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                for resource_spans in request.resource_spans:
                    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans += [
                            (
                                attributes.get("service.name", ""),
                                s.name,
                                s.trace_id.hex(),
                                s.span_id.hex(),
                                s.parent_span_id.hex(),
                            )
                            for s in scope_spans.spans
                        ]
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.e2e
def test_the_running_system_exports_one_trace_over_otlp_and_logs_text_with_the_request_id(tmp_path):
    receiver = OtlpReceiver()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s rather than 5 s
        "SNAPINFRA_LOG_FORMAT": "text",  # as `make dev` writes them
    }
    try:
        with RunningSystem(tmp_path / "system.log", env=env) as system:
            response = requests.post(
                f"{system.api}/api/code-gen",
                json={"projectId": "traced", "type": "api", "prompt": "Create a REST API for user management"},
                headers={"x-dev-user-id": "test-user", "X-Request-Id": "e2e-trace-1"},
                timeout=30,
            )
            assert response.status_code == 202, response.text

            def one_trace() -> dict[str, set[str]] | None:
                [request] = [s for s in receiver.spans if s[1] == "POST /api/code-gen"] or [None]
                if request is None:
                    return None
                by_service: dict[str, set[str]] = {}
                for service, name, trace_id, _, parent in receiver.spans:
                    if trace_id == request[2] and parent:
                        by_service.setdefault(service, set()).add(name)
                return by_service

            def complete(found: dict[str, set[str]] | None) -> bool:
                return (
                    found is not None
                    and "process CodeGenerationRequested" in found.get("snapinfra-codegen", set())
                    and "process CodeGenerationCompleted" in found.get("snapinfra-notifier", set())
                    and any(name.startswith("process CodeGeneration") for name in found.get("snapinfra-api", set()))
                )

            deadline = time.monotonic() + 90
            while not complete(one_trace()):
                assert time.monotonic() < deadline, f"no complete trace: {one_trace()}\n{system.logs()[-3000:]}"
                time.sleep(0.2)
            trace_id = next(s[2] for s in receiver.spans if s[1] == "POST /api/code-gen")
            logs = system.logs()
            spans = list(receiver.spans)
    finally:
        receiver.close()
    access = [line for line in logs.splitlines() if "snapinfra.access: request method=POST route=/api/code-gen" in line]
    assert len(access) == 1 and "status=202" in access[0] and "user_id=test-user" in access[0]
    assert "correlation_id=e2e-trace-1" in access[0] and f"trace_id={trace_id}" in access[0]
    # Background AWS calls (long polls, heartbeats, the outbox relay) start no trace of their own.
    assert not [s for s in spans if not s[4] and not s[1].startswith(("POST ", "GET ", "DELETE ", "process "))]
    handled = [line for line in logs.splitlines() if "message handled" in line and "correlation_id=e2e-trace-1" in line]
    assert {line.split("|")[0].split()[-1] for line in handled} >= {"api", "codegen", "notifier"}
    assert all(f"trace_id={trace_id}" in line for line in handled)
