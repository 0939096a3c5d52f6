"""Model calls sent the way an instrumented app sends them: the real OpenTelemetry SDK and its
OTLP/HTTP exporter (configured by OTEL_EXPORTER_OTLP_ENDPOINT), spans with GenAI attributes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode


@contextmanager
def sdk_tracer(service: str = "sdk-app") -> Iterator[Tracer]:
    """A tracer whose spans are exported (and committed) as each one ends."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    try:
        yield provider.get_tracer("tests.tui")
    finally:
        provider.shutdown()


def _messages(role: str, text: str, finish_reason: str | None = None) -> str:
    message: dict[str, object] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return json.dumps([message])


def chat_call(
    tracer: Tracer,
    prompt: str,
    answer: str,
    *,
    model: str = "llama-3.1-8b",
    input_tokens: int = 40,
    output_tokens: int = 12,
    temperature: float = 0.7,
    error: str | None = None,
    attributes: dict[str, str | int | float] | None = None,
) -> str:
    """One chat span with GenAI semconv attributes (and `attributes`); returns its trace id."""
    with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
                "gen_ai.response.model": model,
                "gen_ai.request.temperature": temperature,
                "gen_ai.request.max_tokens": 200,
                "gen_ai.usage.input_tokens": input_tokens,
                "gen_ai.response.time_to_first_chunk": 0.05,
                "gen_ai.system_instructions": json.dumps(
                    [{"type": "text", "content": "You are a concise assistant."}]
                ),
                "gen_ai.input.messages": _messages("user", prompt),
            }
        )
        span.set_attributes(attributes or {})
        if error:
            span.set_attribute("error.type", error)
            span.set_status(StatusCode.ERROR, error)
        else:
            span.set_attributes(
                {
                    "gen_ai.usage.output_tokens": output_tokens,
                    "gen_ai.response.finish_reasons": ["stop"],
                    "gen_ai.output.messages": _messages("assistant", answer, "stop"),
                }
            )
        return format(span.get_span_context().trace_id, "032x")


def agent_turn(tracer: Tracer, question: str, answer: str) -> str:
    """A root span with a retrieval step and a model call under it; returns the trace id."""
    with tracer.start_as_current_span("agent.turn") as root:
        with tracer.start_as_current_span("retrieve"):
            pass
        chat_call(tracer, question, answer)
        return format(root.get_span_context().trace_id, "032x")
