"""OpenTelemetry traces: one trace per request, carried from service to service in the W3C `traceparent`
(and `tracestate`, `baggage` when set) message attribute of every event and delivery task.

Off unless the standard OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set: then no
provider, no instrumentation, no span and no network; a message is sent with the envelope's own attributes only.
On, spans go over OTLP/HTTP (the standard OTEL_* variables: headers, protocol, sampler, service name) to a
collector, e.g. the ADOT sidecar of the CDK app, which sends them to AWS X-Ray.

What makes spans: the Flask instrumentation (the api's requests), the botocore instrumentation (every AWS call,
SNS Publish included), and the consumer (one span per message handled, a child of the producer's context).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# The envelope sets four message attributes; SNS and SQS allow ten, and a DLQ move adds three of its own.
PROPAGATED = ("traceparent", "tracestate", "baggage")

_lock = threading.Lock()
_provider: TracerProvider | None = None
_botocore: Any = None  # the BotocoreInstrumentor while it is on


def requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces to be exported."""
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def configure_tracing(service: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Turn tracing on when the environment asks for it (OTLP over HTTP); returns whether it is on."""
    if not requested(environ) or enabled():
        return enabled()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # OTEL_TRACES_SAMPLER, when set, is the SDK's to apply; by default a trace starts only at work.
    sampler = None if environ.get("OTEL_TRACES_SAMPLER") else ParentBased(root=WorkRoots())
    provider = TracerProvider(resource=_resource(service, environ), sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    start(provider)
    log.info("tracing on", extra={"otlp_endpoint": next(environ[n] for n in ENDPOINT_VARIABLES if environ.get(n))})
    return True


class WorkRoots(Sampler):
    """A trace starts at a request (SERVER) or a message handled (CONSUMER), never at a background AWS call: a
    long poll, a heartbeat, the outbox relay's look every few seconds would each be a trace of its own."""

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        chosen = ALWAYS_ON if kind in (SpanKind.SERVER, SpanKind.CONSUMER) else ALWAYS_OFF
        return chosen.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "WorkRoots"


def _resource(service: str, environ: Mapping[str, str]) -> Resource:
    name = environ.get("OTEL_SERVICE_NAME") or f"snapinfra-{service}"
    return Resource.create({"service.name": name, "service.namespace": "snapinfra"})


def start(provider: TracerProvider) -> None:
    """Trace with this provider (OTLP in a service, an in-memory exporter in a test): our own spans, and every
    AWS call through the botocore instrumentation."""
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

    global _provider, _botocore
    with _lock:
        _provider = provider
        if _botocore is None:
            _botocore = BotocoreInstrumentor()  # type: ignore[no-untyped-call]
            _botocore.instrument(tracer_provider=provider)


def stop() -> None:
    """Tracing off again (a test's teardown): spans in hand are exported, the instrumentation removed."""
    global _provider, _botocore
    with _lock:
        provider, _provider = _provider, None
        if _botocore is not None:
            _botocore.uninstrument()
            _botocore = None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _provider is not None


def provider() -> TracerProvider | None:
    return _provider


def tracer() -> trace.Tracer:
    return _provider.get_tracer("snapinfra") if _provider is not None else trace.NoOpTracer()


def inject(attributes: dict[str, Any]) -> dict[str, Any]:
    """Message attributes with the current trace context added (as String attributes); unchanged when off."""
    if _provider is None:
        return attributes
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {**attributes, **{k: {"DataType": "String", "StringValue": v} for k, v in carrier.items()}}


def extracted(message: Mapping[str, Any]) -> context.Context | None:
    """The trace context an SQS message carries in its attributes (raw delivery: SNS's arrive as SQS's)."""
    attributes = message.get("MessageAttributes") or {}
    carrier = {k: str(v.get("StringValue", "")) for k, v in attributes.items() if k in PROPAGATED}
    return propagate.extract(carrier) if carrier else None


@contextlib.contextmanager
def consuming(message: Mapping[str, Any], name: str, attributes: Mapping[str, Any]) -> Iterator[trace.Span | None]:
    """A CONSUMER span around handling one message, a child of the context it carries; nothing when off."""
    if _provider is None:
        yield None
        return
    with tracer().start_as_current_span(
        name,
        context=extracted(message),
        kind=trace.SpanKind.CONSUMER,
        attributes=dict(attributes),
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span
