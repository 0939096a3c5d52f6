"""The ingest benchmarks' load: OTLP trace bodies of GenAI-sized chat spans (~1 KB each).

Every span gets fresh ids, so nothing is deduplicated away and every row is really inserted.
Start times grow from body to body, as telemetry of a running app does.
"""

from __future__ import annotations

import itertools
import json
import os
import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

SPANS_PER_REQUEST = 512
_body_starts = itertools.count(1_760_000_000_000_000_000, step=1_000_000_000)
_QUESTIONS = [
    "Which sessions should I attend about service meshes and zero-trust networking?",
    "I run Kubernetes on bare metal; what talks cover cluster autoscaling and cost?",
    "Recommend beginner sessions about observability with OpenTelemetry and eBPF.",
    "What is on the programme about platform engineering and internal developer portals?",
]


def _kv(key: str, value: str | int | float) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def chat_span_attributes(rng: random.Random) -> list[KeyValue]:
    question = rng.choice(_QUESTIONS)
    answer = " ".join(rng.choice(_QUESTIONS).split()[::-1]) + " " + "x" * rng.randint(100, 300)
    system = "You are a helpful conference assistant. Answer briefly and cite sessions by title."
    return [
        _kv("gen_ai.operation.name", "chat"),
        _kv("gen_ai.provider.name", "llama.cpp"),
        _kv("gen_ai.request.model", "SmolLM2-135M-Instruct"),
        _kv("gen_ai.response.model", "SmolLM2-135M-Instruct"),
        _kv("gen_ai.request.temperature", 0.2),
        _kv("gen_ai.request.max_tokens", 256),
        _kv("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(64):016x}"),
        _kv("gen_ai.response.finish_reasons", "stop"),
        _kv("gen_ai.usage.input_tokens", rng.randint(50, 400)),
        _kv("gen_ai.usage.output_tokens", rng.randint(20, 200)),
        _kv("gen_ai.response.time_to_first_chunk", rng.uniform(0.05, 0.5)),
        _kv(
            "gen_ai.system_instructions",
            json.dumps([{"type": "text", "content": system}]),
        ),
        _kv(
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": question}]}]),
        ),
        _kv(
            "gen_ai.output.messages",
            json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": answer}],
                        "finish_reason": "stop",
                    }
                ]
            ),
        ),
    ]


def trace_body(rng: random.Random, spans: int = SPANS_PER_REQUEST) -> bytes:
    """One ExportTraceServiceRequest of `spans` chat spans, serialized."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [_kv("service.name", "session-bot"), _kv("telemetry.sdk.language", "python")]
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "bench"
    start = next(_body_starts)
    trace_id = os.urandom(16)
    for index in range(spans):
        if index % 8 == 0:
            trace_id = os.urandom(16)
        span = scope_spans.spans.add()
        span.trace_id = trace_id
        span.span_id = os.urandom(8)
        span.name = "chat SmolLM2-135M-Instruct"
        span.kind = Span.SPAN_KIND_CLIENT
        span.start_time_unix_nano = start + index * 1000
        span.end_time_unix_nano = span.start_time_unix_nano + rng.randint(10**8, 3 * 10**9)
        span.attributes.extend(chat_span_attributes(rng))
    return request.SerializeToString()


_TOOLS = [
    {
        "type": "function",
        "name": name,
        "description": f"{description} Returns JSON; call it once per question.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for, in plain words."},
                "limit": {"type": "integer", "description": "How many results at most."},
            },
            "required": ["query"],
        },
    }
    for name, description in (
        ("search_sessions", "Search the conference programme for sessions matching a query."),
        ("get_session", "Details of one session: abstract, speakers, room and time."),
        ("list_rooms", "The rooms of the venue with their capacity and floor."),
        ("find_speaker", "A speaker's sessions and biography."),
        ("book_seat", "Reserve a seat in a session for the current attendee."),
    )
]
_SYSTEM_PROMPT = (
    "You are the assistant of a developer conference. Answer in at most three sentences, cite "
    "sessions by their exact title and room, and use the tools to look things up instead of "
    "guessing. "
) * 5  # about 1 KB, sent with every call


def conversation_bodies(
    conversations: int, turns: int = 20, *, marker: str = "turn"
) -> list[tuple[bytes, list[str]]]:
    """OTLP bodies of `conversations` chats of `turns` calls each, one call a body: each call
    re-sends the whole history, a 1 KB system prompt and 5 tool definitions, as chat clients do.
    With each body, the unique words of its new user message (`{marker}c<i>t<n>`), so a search
    can check that every message is found."""
    found: list[tuple[bytes, list[str]]] = []
    rng = random.Random(11)
    for conversation in range(conversations):
        trace_id = os.urandom(16)
        history: list[dict[str, object]] = []
        start = next(_body_starts)
        for turn in range(turns):
            word = f"{marker}c{conversation}t{turn}"
            question = f"{word}: {rng.choice(_QUESTIONS)}"
            history.append({"role": "user", "parts": [{"type": "text", "content": question}]})
            answer = " ".join(rng.choice(_QUESTIONS).split()[::-1]) + f" (answer {turn})"
            output = [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": answer}],
                    "finish_reason": "stop",
                }
            ]
            request = ExportTraceServiceRequest()
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.append(_kv("service.name", "conference-chat"))
            span = resource_spans.scope_spans.add().spans.add()
            span.trace_id, span.span_id = trace_id, os.urandom(8)
            span.name = "chat SmolLM2-135M-Instruct"
            span.kind = Span.SPAN_KIND_CLIENT
            span.start_time_unix_nano = start + turn * 2_000_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + 900_000_000
            span.status.SetInParent()  # an unset status, as SDKs send it
            span.attributes.extend(
                [
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", "llama.cpp"),
                    _kv("gen_ai.request.model", "SmolLM2-135M-Instruct"),
                    _kv("gen_ai.usage.input_tokens", 200 + 40 * turn),
                    _kv("gen_ai.usage.output_tokens", rng.randint(20, 60)),
                    _kv(
                        "gen_ai.system_instructions",
                        json.dumps([{"type": "text", "content": _SYSTEM_PROMPT}]),
                    ),
                    _kv("gen_ai.tool.definitions", json.dumps(_TOOLS)),
                    _kv("gen_ai.input.messages", json.dumps(history)),
                    _kv("gen_ai.output.messages", json.dumps(output)),
                ]
            )
            found.append((request.SerializeToString(), [word]))
            history.append(output[0])
    return found
