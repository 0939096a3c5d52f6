"""Deterministic model-call traces for the TUI tests, written through the store's real write path.

Rows are full SPAN_COLUMNS tuples handed to `Store.submit` (the writer process commits them, as
for received data), with GenAI columns set the way the receiver's normalization sets them. Used
where a test needs fixed timestamps (snapshots); behaviour tests use the real SDK instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from localobs.store import Batch, Store
from localobs.store.schema import SPAN_COLUMNS

T0 = 1_780_000_000 * 10**9
"""A fixed instant (2026-05-28 20:26:40 UTC); snapshot clocks return T0 + a few minutes."""
MS = 1_000_000


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


@dataclass
class SpanSpec:
    trace: int
    span: int
    name: str
    start_ms: float
    duration_ms: float
    parent: int | None = None
    service: str = "support-bot"
    error: bool = False
    genai: dict[str, Any] = field(default_factory=dict)

    def row(self) -> tuple[Any, ...]:
        values: dict[str, Any] = dict.fromkeys(SPAN_COLUMNS)
        start = T0 + int(self.start_ms * MS)
        values.update(
            trace_id=f"{self.trace:032x}",
            span_id=f"{self.span:016x}",
            parent_span_id=None if self.parent is None else f"{self.parent:016x}",
            flags=1,
            name=self.name,
            kind=3 if self.genai else 1,
            service_name=self.service,
            scope_name="tests",
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(self.duration_ms * MS),
            status_code=2 if self.error else 0,
            attributes=_json({"test.attr": self.name}),
            dropped_attributes_count=0,
            dropped_events_count=0,
            dropped_links_count=0,
        )
        values.update(self.genai)
        return tuple(values[name] for name in SPAN_COLUMNS)


def chat(
    model: str,
    prompt: str,
    answer: str,
    *,
    system: str | None = "You are a concise assistant.",
    input_tokens: int = 42,
    output_tokens: int = 17,
    ttft_ms: float | None = 120.0,
    temperature: float | None = 0.7,
    error_type: str | None = None,
    finish: str = "stop",
) -> dict[str, Any]:
    """The GenAI columns of one chat call, messages in the GenAI semconv JSON shape."""
    output = (
        []
        if error_type
        else [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": answer}],
                "finish_reason": finish,
            }
        ]
    )
    return {
        "span_role": "llm",
        "operation": "chat",
        "provider": "openai",
        "request_model": model,
        "response_model": model,
        "ttft_ms": ttft_ms,
        "input_tokens": input_tokens,
        "output_tokens": None if error_type else output_tokens,
        "temperature": temperature,
        "max_tokens": 256,
        "finish_reasons": None if error_type else _json([finish]),
        "error_type": error_type,
        "input_messages": _json([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]),
        "output_messages": _json(output),
        "system_instructions": _json([{"type": "text", "content": system}] if system else None),
        "dialect": "semconv",
    }


def agent_trace(trace: int, start_ms: float, *, question: str, answer: str) -> list[SpanSpec]:
    """An agent turn: retrieval, then two model calls (the second slower), inside one root."""
    base = trace * 100
    return [
        SpanSpec(trace, base + 1, "agent.turn", start_ms, 2400),
        SpanSpec(trace, base + 2, "retrieve", start_ms + 10, 180, parent=base + 1),
        SpanSpec(trace, base + 3, "embed", start_ms + 15, 60, parent=base + 2),
        SpanSpec(
            trace,
            base + 4,
            "chat gpt-4o-mini",
            start_ms + 200,
            650,
            parent=base + 1,
            genai=chat("gpt-4o-mini", f"Plan an answer: {question}", "Look up the schedule."),
        ),
        SpanSpec(
            trace,
            base + 5,
            "chat llama-3.1-8b",
            start_ms + 870,
            1500,
            parent=base + 1,
            genai=chat(
                "llama-3.1-8b",
                question,
                answer,
                input_tokens=310,
                output_tokens=96,
                ttft_ms=240.0,
            ),
        ),
    ]


def failed_call(trace: int, start_ms: float) -> list[SpanSpec]:
    return [
        SpanSpec(
            trace,
            trace * 100 + 1,
            "chat gpt-4o-mini",
            start_ms,
            30_000,
            error=True,
            service="summarizer",
            genai=chat(
                "gpt-4o-mini",
                "Summarize the incident report",
                "",
                error_type="APITimeoutError",
                ttft_ms=None,
            ),
        )
    ]


def submit(store: Store, spans: list[SpanSpec]) -> None:
    """Commit the spans through the writer process; returns once they are on disk."""
    rows = [span.row() for span in spans]
    digest = hashlib.sha256(orjson.dumps(rows)).hexdigest()
    store.submit(Batch("traces", digest, rows, [], [])).result(timeout=30)


def sample_spans() -> list[SpanSpec]:
    """The fixed data set of the snapshots: three agent turns and one failed call."""
    return [
        *agent_trace(
            1,
            0,
            question="Which talks cover tracing?",
            answer="Two talks: 'Tracing LLM apps' (room B, 10:00) and 'OTel in practice'.",
        ),
        *agent_trace(
            2, 60_000, question="When is the keynote?", answer="The keynote is at 9:00 in hall A."
        ),
        *failed_call(3, 90_000),
        *agent_trace(
            4,
            120_000,
            question="Where can I get coffee?",
            answer="Coffee is served in the foyer between sessions.",
        ),
    ]
