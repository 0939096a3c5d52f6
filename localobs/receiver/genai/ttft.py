"""A call's time to first token/chunk, from whichever signal carries it, with where it came from.

The one home of the rule, for every dialect. Signals, first found wins:

1. attributes in seconds: `gen_ai.response.time_to_first_chunk` (the GenAI conventions); the TTFT
   metric names of both convention generations set as span attributes
   (`gen_ai.client.operation.time_to_first_chunk`, as the AI SDK 7's `@ai-sdk/otel` sets it;
   `gen_ai.client.inference.time_to_first_chunk`; `gen_ai.server.time_to_first_token`, also
   OpenLIT's current name), and OpenLIT's older `gen_ai.server.ttft`;
2. attributes in milliseconds: the Vercel AI SDK's `ai.response.msToFirstChunk`
   (`ai.stream.msToFirstChunk` on its wrapper spans);
3. a timestamp: Langfuse's `langfuse.observation.completion_start_time` (TTFT = it - span start;
   ISO 8601, as sent or JSON-quoted, or a number of s / ms / ns since the epoch);
4. span events that mark the first streamed chunk: OpenInference's "First Token Stream Event",
   OpenLLMetry's first `gen_ai.content.completion.chunk` (formerly `llm.content.completion.chunk`),
   the AI SDK's `ai.stream.firstChunk`.

The source is the attribute or event name (`event ai.stream.firstChunk` for an event).

Not a TTFT: a value longer than the span, and a value within the WHOLE_CALL_TOLERANCE_* of the
whole duration of a call not known to be streamed (OpenLIT, for one, reports the whole duration of a
non-streamed call as its TTFT). A call is known streamed by a stream flag that says so, a
first-chunk event, or the AI SDK's `.doStream` span; a one-chunk stream with no such mark loses a
TTFT that would tell nothing beyond its duration anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from localobs.receiver.genai.record import as_float
from localobs.receiver.genai.vercel_ai import OPERATION_KEY

SECONDS_KEYS = (
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.client.inference.time_to_first_chunk",
    "gen_ai.server.time_to_first_token",
    "gen_ai.server.ttft",
)
MILLISECONDS_KEYS = ("ai.response.msToFirstChunk", "ai.stream.msToFirstChunk")
COMPLETION_START_KEY = "langfuse.observation.completion_start_time"
FIRST_CHUNK_EVENTS = frozenset(
    {
        "First Token Stream Event",
        "gen_ai.content.completion.chunk",
        "llm.content.completion.chunk",
        "ai.stream.firstChunk",
    }
)
# Said streamed by: the AI SDK 7, OpenLIT, OpenLLMetry (current and older names).
_STREAM_FLAGS = (
    "gen_ai.request.stream",
    "gen_ai.request.is_stream",
    "gen_ai.is_streaming",
    "llm.is_streaming",
)

WHOLE_CALL_TOLERANCE_MS = 5.0
WHOLE_CALL_TOLERANCE_SHARE = 0.01
"""A TTFT closer to the whole duration than max(5 ms, 1 % of it) is the whole call, not a first
chunk: exporters round and take their clocks at slightly different points of the same call."""


class Ttft(NamedTuple):
    ms: float | None
    source: str | None


NONE = Ttft(None, None)
# Every attribute source in order, with its factor to milliseconds: one loop on the hot path.
_SCALED_KEYS = tuple((key, 1000.0) for key in SECONDS_KEYS) + tuple(
    (key, 1.0) for key in MILLISECONDS_KEYS
)
_ATTRIBUTE_KEYS = frozenset((*SECONDS_KEYS, *MILLISECONDS_KEYS, COMPLETION_START_KEY))


def first_token(
    a: dict[str, Any], events: list[dict[str, Any]], start_ns: int, end_ns: int
) -> Ttft:
    """The span's TTFT in milliseconds and its source, or NONE (see the module docstring)."""
    if a.keys().isdisjoint(_ATTRIBUTE_KEYS):  # the common case, checked in C
        return _from_events(events, start_ns, end_ns) if events else NONE
    found = from_attributes(a, start_ns)
    if found.ms is None:
        if not events:
            return NONE
        return _from_events(events, start_ns, end_ns)  # within the span, streamed by nature
    duration_ms = (end_ns - start_ns) / 1e6
    if found.ms > duration_ms or (_whole_call(found.ms, duration_ms) and not _streamed(a)):
        return NONE
    return found


def from_attributes(a: dict[str, Any], start_ns: int | None = None) -> Ttft:
    """TTFT from attributes alone (log events have no span times: no timestamp source there)."""
    get = a.get
    for key, scale in _SCALED_KEYS:
        value = get(key)
        if value is not None:
            number = as_float(value)
            if number is not None and number >= 0:
                return Ttft(number * scale, key)
    if start_ns is not None:
        value = get(COMPLETION_START_KEY)
        if value is not None:
            at = _epoch_ns(value)
            if at is not None and at >= start_ns:
                return Ttft((at - start_ns) / 1e6, COMPLETION_START_KEY)
    return NONE


def _from_events(events: list[dict[str, Any]], start_ns: int, end_ns: int) -> Ttft:
    for event in events:
        name = event.get("name")
        if name in FIRST_CHUNK_EVENTS:
            at = event.get("time_unix_nano")
            if type(at) is int and start_ns <= at <= end_ns:
                return Ttft((at - start_ns) / 1e6, f"event {name}")
            return NONE
    return NONE


def _streamed(a: dict[str, Any]) -> bool:
    for key in _STREAM_FLAGS:
        if a.get(key) is True:
            return True
    operation = a.get(OPERATION_KEY)
    return type(operation) is str and operation.endswith(".doStream")


def _whole_call(ttft_ms: float, duration_ms: float) -> bool:
    tolerance = max(WHOLE_CALL_TOLERANCE_MS, duration_ms * WHOLE_CALL_TOLERANCE_SHARE)
    return duration_ms - ttft_ms < tolerance


def _epoch_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch from an ISO 8601 text (JSON-quoted or not) or a number of
    seconds, milliseconds or nanoseconds (told apart by size). A time without a zone is UTC, as
    the SDKs that send it write it; one that lands outside the span is dropped by the caller."""
    if type(value) is str:
        text = value.strip()
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
            text = text[1:-1]
        try:
            value = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                return round(moment.timestamp() * 1e9)
            except (ValueError, OverflowError):  # no date, or one out of range ("0001-01-01+14")
                return None
    number = as_float(value)
    if number is None or number <= 0:
        return None
    if number > 1e17:
        return int(number)
    if number > 1e11:
        return round(number * 1e6)
    return round(number * 1e9)
