"""Replay runs into the store the way all telemetry gets there: as OTLP, through the receiver's
decode path (so normalization makes each run a model call), then the store's writer.

Each run is one `chat` span in a trace of its own, with a span link to the original call and
`localobs.replay.*` attributes naming it, its batch and its run number. A run is committed
whole before it is reported; a failed or cancelled run stores nothing.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from localobs.receiver.bodies import Format
from localobs.receiver.pipeline import decode_body
from localobs.replay.request import ReplayRequest
from localobs.replay.runner import FinishedRun
from localobs.store import Store, StoreUnavailable
from localobs.store.replays import (
    BATCH,
    OF_CALL_ID,
    OF_SPAN_ID,
    OF_TRACE_ID,
    REPLAY_SERVICE,
    RUN,
    call_id_of,
)
from localobs.store.writer_client import WriterClient
from localobs.transfer.rebuild import any_value

SCOPE = "localobs.replay"


def _semconv_messages(request: ReplayRequest) -> tuple[str, str | None]:
    """`gen_ai.input.messages` and `gen_ai.system_instructions` of what was sent."""
    messages: list[dict[str, Any]] = []
    system: list[dict[str, Any]] = []
    for message in request.messages:
        text = {"type": "text", "content": message.get("content") or ""}
        if message["role"] == "system":
            system.append(text)
            continue
        parts: list[dict[str, Any]] = []
        if message["role"] == "tool":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": message.get("tool_call_id"),
                    "response": message.get("content"),
                }
            )
        elif message.get("content"):
            parts.append(text)
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
        messages.append({"role": message["role"], "parts": parts})
    return (
        orjson.dumps(messages).decode(),
        orjson.dumps(system).decode() if system else None,
    )


def run_span_request(run: FinishedRun) -> tuple[ExportTraceServiceRequest, str, str]:
    """The OTLP request holding one run's span; returns it with the new trace and span ids."""
    original, request, result, batch, model, provider = run
    trace_id, span_id = os.urandom(16), os.urandom(8)
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    service = resource_spans.resource.attributes.add()
    service.key = "service.name"
    any_value(REPLAY_SERVICE, service.value)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = SCOPE
    span = scope_spans.spans.add()
    span.trace_id, span.span_id = trace_id, span_id
    span.name = f"chat {model}"
    span.kind = Span.SPAN_KIND_CLIENT
    span.start_time_unix_nano = result.start_unix_nano
    span.end_time_unix_nano = result.start_unix_nano + round(result.duration_ms * 1e6)
    inputs, system = _semconv_messages(request)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": request.max_tokens,
        "gen_ai.request.temperature": float(request.temperature),
        "gen_ai.output.type": "json" if request.json_output else "text",
        "gen_ai.input.messages": inputs,
        "gen_ai.output.messages": orjson.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": result.text}],
                    "finish_reason": result.finish_reason or "unknown",
                }
            ]
        ).decode(),
        "gen_ai.response.finish_reasons": [result.finish_reason or "unknown"],
        OF_CALL_ID: original.call_id,
        OF_TRACE_ID: original.trace_id,
        OF_SPAN_ID: original.span_id,
        RUN: result.run,
        BATCH: batch,
    }
    if system is not None:
        attributes["gen_ai.system_instructions"] = system
    if request.top_p is not None:
        attributes["gen_ai.request.top_p"] = float(request.top_p)
    if result.response_model:
        attributes["gen_ai.response.model"] = result.response_model
    if result.input_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = result.input_tokens
    if result.output_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = result.output_tokens
    if result.ttft_ms is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = result.ttft_ms / 1000.0
    for key, value in attributes.items():
        pair = span.attributes.add()
        pair.key = key
        any_value(value, pair.value)
    link = span.links.add()
    link.trace_id = bytes.fromhex(original.trace_id)
    link.span_id = bytes.fromhex(original.span_id)
    kind = link.attributes.add()
    kind.key = "localobs.link"
    any_value("replay_of", kind.value)
    return message, trace_id.hex(), span_id.hex()


class ReplayStore:
    """Writes runs through a store writer of this process's own and finds their call ids.

    Its own `WriterClient`, not `Store.start_writer`: that would take over the status file of a
    `localobs up` running on the same database (and delete it on close).
    """

    def __init__(self, store: Store) -> None:
        self._writer = WriterClient(store.path)
        self._reader = store.reader()

    def save(self, run: FinishedRun) -> int:
        """Commit one run; returns its call id."""
        message, trace_id, span_id = run_span_request(run)
        decoded, _rejections = decode_body("traces", message.SerializeToString(), Format.PROTOBUF)
        self._writer.submit(decoded).result()
        call_id = call_id_of(self._reader, trace_id, span_id)
        if call_id is None:
            raise StoreUnavailable("the replay was committed but is not a model call")
        return call_id

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
