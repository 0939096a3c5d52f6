"""A call's time to first token and generation speed, each with where it came from.

Without a prefill/decode split, output tokens over the whole duration is end-to-end throughput
(prompt processing included), not decode speed: a non-streamed local call reads ~20 tok/s while
llama.cpp itself generated at ~60. So a split the producer reports (llama.cpp's perf counters,
sent by the demo as `llama_cpp.*` attributes) wins, a measured first chunk comes next, and a figure
from neither says it is end-to-end.
"""

from __future__ import annotations

from dataclasses import dataclass

TTFT_FIRST_CHUNK = "first chunk"
"""Measured by the producer, stored before the receiver recorded which signal carried it."""
TTFT_PROMPT_EVAL = "llama.cpp prompt eval"
"""The prefill time llama.cpp reported: prompt tokens evaluated over its prompt eval rate."""
SPEED_REPORTED = "llama.cpp timings"
"""The generation rate llama.cpp reported for the decode phase alone."""
SPEED_AFTER_FIRST_TOKEN = "after first token"
"""Output tokens over the duration minus the measured TTFT: decode speed, seen from outside."""
SPEED_END_TO_END = "end-to-end"
"""Output tokens over the whole duration: throughput, with prefill and overheads included."""

_GENERATION_RATE = "llama_cpp.generation_tokens_per_s"
_PROMPT_TOKENS = "llama_cpp.prompt_tokens_evaluated"
_PROMPT_RATE = "llama_cpp.prompt_tokens_per_s"
REPORTED_SPLIT_SQL = ", ".join(
    f"json_extract(attributes, '$.\"{key}\"')"
    for key in (_GENERATION_RATE, _PROMPT_TOKENS, _PROMPT_RATE)
)
"""The reported split, selected after a call's other columns (three values, NULL when absent)."""


@dataclass(frozen=True, slots=True)
class CallSpeed:
    ttft_ms: float | None
    ttft_source: str | None
    tokens_per_s: float | None
    tokens_per_s_source: str | None


def is_decode_speed(source: str | None) -> bool:
    """False for end-to-end throughput (or no figure), which must not be called decode speed."""
    return source in (SPEED_REPORTED, SPEED_AFTER_FIRST_TOKEN)


def _positive(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def call_speed(
    measured_ttft_ms: float | None,
    measured_source: str | None,
    outside_tokens_per_s: float | None,
    generation_rate: object,
    prompt_tokens: object,
    prompt_rate: object,
) -> CallSpeed:
    """`measured_source` is the stored `ttft_source` (the signal the receiver read the TTFT from);
    `outside_tokens_per_s` is TOKENS_PER_S_SQL's figure (after TTFT when one was measured); the
    last three are REPORTED_SPLIT_SQL's values, whatever type the producer sent."""
    if measured_ttft_ms is not None:
        ttft_ms, ttft_source = measured_ttft_ms, measured_source or TTFT_FIRST_CHUNK
    elif (tokens := _positive(prompt_tokens)) and (rate := _positive(prompt_rate)):
        ttft_ms, ttft_source = tokens * 1000.0 / rate, TTFT_PROMPT_EVAL
    else:
        ttft_ms, ttft_source = None, None
    if (reported := _positive(generation_rate)) is not None:
        return CallSpeed(ttft_ms, ttft_source, reported, SPEED_REPORTED)
    if outside_tokens_per_s is None:
        return CallSpeed(ttft_ms, ttft_source, None, None)
    source = SPEED_END_TO_END if measured_ttft_ms is None else SPEED_AFTER_FIRST_TOKEN
    return CallSpeed(ttft_ms, ttft_source, outside_tokens_per_s, source)
