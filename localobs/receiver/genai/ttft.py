"""Time to first token/chunk from span events, for libraries that mark the first streamed chunk.

The attribute `gen_ai.response.time_to_first_chunk` (seconds) wins when present; these events are
the fallback: OpenInference adds one "First Token Stream Event", OpenLLMetry one event per chunk
(`gen_ai.content.completion.chunk`, formerly `llm.content.completion.chunk`), so the first one
counts.
"""

from __future__ import annotations

from typing import Any

FIRST_CHUNK_EVENTS = frozenset(
    {
        "First Token Stream Event",
        "gen_ai.content.completion.chunk",
        "llm.content.completion.chunk",
    }
)


def from_events(events: list[dict[str, Any]], start_ns: int, end_ns: int) -> float | None:
    """Milliseconds from span start to the first first-chunk event; None if none or out of span."""
    for event in events:
        if event.get("name") in FIRST_CHUNK_EVENTS:
            at = event.get("time_unix_nano")
            if type(at) is int and start_ns <= at <= end_ns:
                return (at - start_ns) / 1e6
            return None
    return None


def within(ttft_ms: float | None, start_ns: int, end_ns: int) -> float | None:
    """Drop a reported TTFT longer than the span itself: it cannot describe this call."""
    if ttft_ms is None or ttft_ms * 1e6 > end_ns - start_ns:
        return None
    return ttft_ms
