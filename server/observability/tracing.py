"""OpenTelemetry tracing: the process's tracer provider (from settings), the
server interceptor that opens one span per RPC as a child of the caller's
W3C trace context, and the ids of the current span for logs and events."""

from __future__ import annotations

import re

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from server import __version__
from server.config import Settings

#: `version-traceid-parentid-flags`, lower-case hex (W3C Trace Context).
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_INVALID_TRACE = "0" * 32


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting in batches as the settings say; None when off.
    The standard OTEL_* variables (e.g. the sampler) apply."""
    if settings.tracing == "off":
        return None
    exporter: SpanExporter
    if settings.tracing == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    else:
        exporter = ConsoleSpanExporter()
    resource = Resource.create({SERVICE_NAME: "taskplane", SERVICE_VERSION: __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def server_interceptor(provider: trace.TracerProvider) -> grpc.aio.ServerInterceptor:
    """One SERVER span per RPC (health and reflection excluded), parented by
    the `traceparent` of the request metadata. Put it first, so that the span
    is current in every later interceptor and in the handler."""
    untraced = filters.any_of(
        filters.service_prefix("grpc.health."), filters.service_prefix("grpc.reflection.")
    )
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=provider, filter_=filters.negate(untraced)
    )
    return interceptor


def current_traceparent(fallback: str = "") -> str:
    """The W3C `traceparent` of the current span, else `fallback` when it is a
    well-formed one (a caller's trace while this process does not trace)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    return valid_traceparent(fallback)


def valid_traceparent(value: str) -> str:
    """`value` when it is a well-formed `traceparent` of a real trace, else empty."""
    match = _TRACEPARENT.match(value)
    return value if match and match.group(1) != _INVALID_TRACE else ""


def trace_id_of(traceparent: str) -> str:
    """The trace id of a well-formed `traceparent`, else empty."""
    match = _TRACEPARENT.match(traceparent)
    return match.group(1) if match else ""
