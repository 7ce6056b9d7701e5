"""Tracing's own rules: off without an endpoint, and a trace starts only at work (a request, a message)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import SpanKind

from snapinfra_shared import tracing


def test_without_an_endpoint_nothing_is_set_up():
    assert tracing.requested({}) is False
    assert tracing.configure_tracing("codegen", environ={}) is False
    assert not tracing.enabled() and tracing.provider() is None
    attributes = {"type": {"DataType": "String", "StringValue": "X"}}
    assert tracing.inject(attributes) is attributes
    assert tracing.requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}) is True


def test_a_trace_starts_at_a_request_or_a_message_never_at_a_background_aws_call():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(root=tracing.WorkRoots()))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("SQS.ReceiveMessage", kind=SpanKind.CLIENT):
        pass
    with (
        tracer.start_as_current_span("process CodeGenerationRequested", kind=SpanKind.CONSUMER),
        tracer.start_as_current_span("S3.PutObject", kind=SpanKind.CLIENT),
    ):
        pass
    with tracer.start_as_current_span("POST /api/code-gen", kind=SpanKind.SERVER):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == [
        "S3.PutObject",
        "process CodeGenerationRequested",
        "POST /api/code-gen",
    ]
