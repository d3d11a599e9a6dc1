"""Tracing with OpenTelemetry: off unless the standard `OTEL_*` variables turn it on.

One trace per job: the edge's `relayline.submit` span (over HTTP, a child of the web
framework's span of the request) writes its context into the job's envelope
(`JobEnvelope.trace`, W3C trace context); the worker that runs the job continues that trace
with one `relayline.attempt` span per attempt and its children
`relayline.queue_wait` (submit to the first attempt's start), `relayline.start`,
`relayline.engine` and `relayline.end`. Without an SDK configured every span is
OpenTelemetry's no-op, and the envelope carries nothing.

`configure(service)` installs the SDK when `OTEL_TRACES_EXPORTER` (`otlp` or `console`) or
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and
`OTEL_SDK_DISABLED` is not `true`; `OTEL_SERVICE_NAME` names the process (default
`relayline-edge` or `relayline-worker`), and the exporter reads its own `OTEL_EXPORTER_OTLP_*`
settings (endpoint, headers, timeout).
"""

import contextlib
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind
from opentelemetry.util.types import Attributes

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

TRACER = trace.get_tracer("relayline")
EXPORTERS = ("otlp", "console")
_on = False
"""Whether a tracer provider was installed (`install`): off, no span is even begun (the API's
no-op spans still cost a context switch each, a fifth of a no-op job's CPU in the worker)."""


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the `OTEL_*` variables ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter) or any(environ.get(name) for name in endpoints)


def configure(service: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Install the SDK's tracer provider if the `OTEL_*` variables ask for traces: whether it
    did. An exporter it does not know is a `ValueError` (at start-up, not at the first job)."""
    if not enabled(environ):
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    names = [
        name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
    ]
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER: {unknown[0]!r} is not one of {', '.join(EXPORTERS)}"
        )
    resource = Resource.create({SERVICE_NAME: environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    for name in names:
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def install(provider: "TracerProvider") -> None:
    """Make `provider` the process's (once per process) and turn the spans on."""
    global _on
    trace.set_tracer_provider(provider)
    _on = True


def installed() -> trace.TracerProvider | None:
    """The tracer provider `install` made the process's, or None while tracing is off."""
    return trace.get_tracer_provider() if _on else None


def span(
    name: str,
    *,
    context: Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes = None,
) -> AbstractContextManager[Span]:
    """A span, current while the `with` block runs; a no-op one while tracing is off."""
    if not _on:
        return contextlib.nullcontext(INVALID_SPAN)
    return TRACER.start_as_current_span(name, context=context, kind=kind, attributes=attributes)


def past_span(name: str, start: float, end: float) -> None:
    """A span that already happened, from `start` to `end` (unix seconds)."""
    if _on:
        TRACER.start_span(name, start_time=nanoseconds(start)).end(end_time=nanoseconds(end))


def carrier() -> dict[str, str]:
    """The current span's context, to carry in a job's envelope (empty when not tracing)."""
    carried: dict[str, str] = {}
    if _on:
        propagate.inject(carried)
    return carried


def context_of(carried: Mapping[str, str]) -> Context:
    """The context a carrier (an envelope's `trace`, or request headers) holds."""
    return propagate.extract(carried)


def nanoseconds(seconds: float) -> int:
    """Unix seconds as a span's time."""
    return int(seconds * 1e9)
