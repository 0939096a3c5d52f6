"""GenAI semantic-convention helpers: message JSON shapes, metric instruments, error marking.

Kept apart from the model wrappers so that the chat and embeddings calls record the same
attribute names, metric attributes and error conventions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.trace import Status, StatusCode

PROVIDER = "llama.cpp"

Message = Mapping[str, str]


def _text_parts(content: str) -> list[dict[str, str]]:
    return [{"type": "text", "content": content}]


def system_instructions_json(messages: Sequence[Message]) -> str | None:
    """`gen_ai.system_instructions`: the system prompt, kept out of the chat history."""
    parts = [p for m in messages if m["role"] == "system" for p in _text_parts(m["content"])]
    return json.dumps(parts, ensure_ascii=False) if parts else None


def input_messages_json(messages: Sequence[Message]) -> str:
    """`gen_ai.input.messages` in the current semconv shape, without the system prompt."""
    return json.dumps(
        [
            {"role": m["role"], "parts": _text_parts(m["content"])}
            for m in messages
            if m["role"] != "system"
        ],
        ensure_ascii=False,
    )


def output_messages_json(text: str, finish_reason: str) -> str:
    """`gen_ai.output.messages`: one assistant message with its finish reason."""
    return json.dumps(
        [{"role": "assistant", "parts": _text_parts(text), "finish_reason": finish_reason}],
        ensure_ascii=False,
    )


def mark_error(span: trace.Span, exc: BaseException) -> str:
    """Set ERROR status and `error.type`; the message is left out as it may quote content."""
    error_type = type(exc).__qualname__
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))
    return error_type


@dataclass(frozen=True, slots=True)
class CallMeasurements:
    """What one model call measured; None means the runtime did not report it."""

    operation: str
    request_model: str
    response_model: str | None
    duration_s: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    time_to_first_chunk_s: float | None = None
    time_per_output_token_s: float | None = None
    error_type: str | None = None
    provider: str = PROVIDER


class GenAIMetrics:
    """The four GenAI histograms; bucket boundaries come from the Views in telemetry.py."""

    def __init__(self, meter: metrics.Meter) -> None:
        self._token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )
        self._ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed response.",
        )
        self._tpot = meter.create_histogram(
            "gen_ai.server.time_per_output_token",
            unit="s",
            description="Time per output token generated after the first token.",
        )

    def record(self, m: CallMeasurements) -> None:
        attributes: dict[str, str] = {
            "gen_ai.operation.name": m.operation,
            "gen_ai.provider.name": m.provider,
            "gen_ai.request.model": m.request_model,
        }
        if m.response_model:
            attributes["gen_ai.response.model"] = m.response_model
        if m.error_type:
            attributes["error.type"] = m.error_type
        self._duration.record(m.duration_s, attributes)
        if m.error_type:
            return
        if m.input_tokens is not None:
            self._token_usage.record(m.input_tokens, {**attributes, "gen_ai.token.type": "input"})
        if m.output_tokens is not None:
            self._token_usage.record(m.output_tokens, {**attributes, "gen_ai.token.type": "output"})
        if m.time_to_first_chunk_s is not None:
            self._ttfc.record(m.time_to_first_chunk_s, attributes)
        if m.time_per_output_token_s is not None:
            self._tpot.record(m.time_per_output_token_s, attributes)
