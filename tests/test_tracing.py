"""One trace per request across the services: the api, codegen and the notifier run in this process against the
embedded AWS, each with its own consumer on its own queue, and an in-memory exporter collects their spans."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from snapinfra_api.app import create_app
from snapinfra_api.bootstrap import build_dependencies as api_dependencies
from snapinfra_api.handlers import build_handlers as api_handlers
from snapinfra_api.notification_handlers import build_notification_handlers
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
from snapinfra_shared.provision import verify_email_sender
from snapinfra_shared.publisher import Publisher
from snapinfra_shared.runtime import consumer_for, resolve_resources
from snapinfra_shared.spec import ProjectSpec

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


def test_a_code_generation_is_one_trace_across_the_api_codegen_and_the_notifier(stack, spans, webhook):
    url, received = webhook
    clients = AwsClients(s3_addressing_style="path")
    api_settings = ApiSettings(auth_mode="dev", prefix=stack.prefix, webhook_allowed_hosts=["127.0.0.1"], **COMMON)
    api = api_dependencies(api_settings, clients)
    app = create_app(dependencies=api)  # tracing is on: the Flask instrumentation wraps it
    projection = consumer_for(
        clients,
        api_settings,
        api.resources,
        {
            **api_handlers(api.repository, api.deployments.repository),
            **build_notification_handlers(api.notifications.read_model),
        },
    )
    codegen_settings = CodegenSettings(prefix=stack.prefix, **COMMON)
    codegen_resources = resolve_resources(clients, codegen_settings, "codegen")
    codegen = consumer_for(
        clients,
        codegen_settings,
        codegen_resources,
        codegen_handlers(codegen_dependencies(codegen_settings, clients, codegen_resources)),
    )
    notifier_settings = NotifierSettings(prefix=stack.prefix, webhook_allowed_hosts=["127.0.0.1"], **COMMON)
    verify_email_sender(clients, notifier_settings.email_sender)
    notifier_resources = resolve_resources(clients, notifier_settings, "notifier")
    work = notifier_settings.topology().work_queues["notifier"]
    delivery_url = clients.sqs.get_queue_url(QueueName=work.name)["QueueUrl"]
    notifier_deps = notifier_dependencies(notifier_settings, clients, notifier_resources, delivery_url)
    notifier = consumer_for(clients, notifier_settings, notifier_resources, notifier_handlers(notifier_deps))
    deliveries = Consumer(
        clients.sqs,
        queue_url=delivery_url,
        dlq_url=clients.sqs.get_queue_url(QueueName=work.dlq_name)["QueueUrl"],
        handle=build_delivery_handler(notifier_deps),
        options=ConsumerOptions(visibility_timeout=30, max_receive_count=5, wait_time_seconds=0),
        service="notifier",
    )
    client = app.test_client()
    alice = {"x-dev-user-id": "alice"}

    subscribed = client.post("/api/notifications/subscribe/webhook", json={"url": url}, headers=alice)
    assert subscribed.status_code == 201, subscribed.json
    run_until([notifier], lambda: any(s.name == "process SubscriptionRequested" for s in consumed(spans, "notifier")))
    spans.clear()

    response = client.post(
        "/api/code-gen",
        json={"projectId": "traced", "type": "api", "prompt": "Create a REST API for user management"},
        headers={**alice, "X-Request-Id": "req-traced-1"},
    )
    assert response.status_code == 202, response.json
    job_id = response.json["id"]
    run_until(
        [codegen, notifier, deliveries, projection],
        lambda: (
            len(received) >= 2 and client.get(f"/api/code-gen/{job_id}", headers=alice).json["status"] == "completed"
        ),
    )

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
    assert all("traceparent" not in {k.lower() for k in headers} for headers in received)


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


def test_without_an_otlp_endpoint_tracing_stays_off():
    assert tracing.configure_tracing("api", environ={}) is False
    assert not tracing.enabled()
    assert tracing.inject({"type": {"DataType": "String", "StringValue": "x"}}) == {
        "type": {"DataType": "String", "StringValue": "x"}
    }


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
