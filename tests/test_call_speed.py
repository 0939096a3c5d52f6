"""TTFT and tokens per second say where they came from, and end-to-end throughput is never
called decode speed: a non-streamed llama.cpp call generating at ~59 tok/s must not read 20."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC
from pathlib import Path

import orjson
import pytest

from localobs.store import Store
from localobs.store.call_speed import (
    SPEED_AFTER_FIRST_TOKEN,
    SPEED_END_TO_END,
    SPEED_REPORTED,
    TTFT_FIRST_CHUNK,
    TTFT_PROMPT_EVAL,
)
from localobs.store.calls import CallDetail, get_call, list_calls
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.refresh import ReaderPool
from localobs.tui.screens.call_detail import facts_content
from tests import query_rows

# What the demo's llama.cpp model sends (demo_bot/llm.py): its perf counters for the call.
DEMO_TIMINGS = {
    "llama_cpp.usage_source": "llama.cpp",
    "llama_cpp.prompt_tokens_evaluated": 120,
    "llama_cpp.prompt_tokens_per_s": 800.0,
    "llama_cpp.generation_tokens_per_s": 58.5928,
    "llama_cpp.context_used": 160,
    "llama_cpp.context_size": 2048,
}


@pytest.fixture
def calls(store: Store) -> dict[str, CallDetail]:
    """Four 2 s calls with 40 output tokens: with and without a measured TTFT, with and without
    llama.cpp's prefill/decode split."""
    rows = {
        "demo": query_rows.call(1, 1, 0, 2000, output_tokens=40, attributes=DEMO_TIMINGS),
        "demo streamed": query_rows.call(
            2, 2, 10, 2000, output_tokens=40, ttft_ms=300.0, attributes=DEMO_TIMINGS
        ),
        "plain": query_rows.call(3, 3, 20, 2000, output_tokens=40),
        "plain streamed": query_rows.call(4, 4, 30, 2000, output_tokens=40, ttft_ms=400.0),
    }
    query_rows.submit(store, list(rows.values()))
    conn = store.reader()
    try:
        by_span = {call.span_id: call for call in list_calls(conn)}
        found = {}
        for label, number in zip(rows, (1, 2, 3, 4), strict=True):
            summary = by_span[query_rows.span_id(number)]
            detail = get_call(conn, summary.call_id)
            assert detail is not None
            # The list and the detail agree on every figure.
            assert (summary.ttft_ms, summary.output_tokens_per_s) == (
                detail.ttft_ms,
                detail.output_tokens_per_s,
            )
            found[label] = detail
    finally:
        conn.close()
    return found


def test_a_reported_split_gives_ttft_and_decode_speed(calls: dict[str, CallDetail]) -> None:
    demo = calls["demo"]
    assert demo.output_tokens_per_s == pytest.approx(58.5928)  # not 40 tokens / 2 s = 20
    assert demo.output_tokens_per_s_source == SPEED_REPORTED and demo.is_decode_speed
    assert demo.ttft_ms == pytest.approx(150.0)  # 120 prompt tokens at 800 tok/s
    assert demo.ttft_source == TTFT_PROMPT_EVAL

    streamed = calls["demo streamed"]
    assert (streamed.ttft_ms, streamed.ttft_source) == (300.0, TTFT_FIRST_CHUNK)
    assert streamed.output_tokens_per_s == pytest.approx(58.5928)
    assert streamed.output_tokens_per_s_source == SPEED_REPORTED


def test_without_a_split_the_figure_is_after_first_token_or_end_to_end(
    calls: dict[str, CallDetail],
) -> None:
    plain = calls["plain"]
    assert plain.output_tokens_per_s == pytest.approx(20.0)
    assert plain.output_tokens_per_s_source == SPEED_END_TO_END and not plain.is_decode_speed
    assert (plain.ttft_ms, plain.ttft_source) == (None, None)

    streamed = calls["plain streamed"]
    assert streamed.output_tokens_per_s == pytest.approx(40 / 1.6)
    assert streamed.output_tokens_per_s_source == SPEED_AFTER_FIRST_TOKEN
    assert streamed.is_decode_speed and streamed.ttft_source == TTFT_FIRST_CHUNK


def facts(detail: CallDetail, tmp_path: Path, store: Store) -> list[str]:
    ctx = ViewerContext(ReaderPool(store.reader), lambda: 0, UTC, None, tmp_path, None)
    try:
        return facts_content(detail, ctx).plain.splitlines()
    finally:
        ctx.readers.close()


def test_the_call_detail_labels_each_figure_with_its_source_and_unit(
    calls: dict[str, CallDetail], tmp_path: Path, store: Store
) -> None:
    lines = facts(calls["demo"], tmp_path, store)
    assert "time to first tok 150 ms  (llama.cpp prompt eval)" in lines
    assert "decode speed      58.6 tok/s  (llama.cpp timings)" in lines
    # The extra timings: words, a value with its unit, then the attribute they came from.
    assert "generation        58.6 tok/s  (llama_cpp.generation_tokens_per_s)" in lines
    assert "prompt            800 tok/s  (llama_cpp.prompt_tokens_per_s)" in lines
    assert not any("58.5928" in line for line in lines)

    lines = facts(calls["plain"], tmp_path, store)
    assert "throughput        20.0 tok/s  (end-to-end)" in lines
    assert "time to first tok —" in lines
    assert not any(line.startswith("decode speed") for line in lines)

    lines = facts(calls["plain streamed"], tmp_path, store)
    assert "decode speed      25.0 tok/s  (after first token)" in lines
    assert "time to first tok 400 ms  (first chunk)" in lines


def test_the_calls_table_marks_end_to_end_throughput(calls: dict[str, CallDetail]) -> None:
    shown = {
        label: fmt.speed(call.output_tokens_per_s, call.is_decode_speed)
        for label, call in calls.items()
    }
    assert shown == {
        "demo": "58.6",
        "demo streamed": "58.6",
        "plain": "~20.0",
        "plain streamed": "25.0",
    }


def test_cli_json_says_where_each_figure_came_from(
    calls: dict[str, CallDetail], store: Store
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "localobs", "calls", "--json", "--db", str(store.path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    by_span = {call["span_id"]: call for call in orjson.loads(out)}
    demo = by_span[calls["demo"].span_id]
    assert demo["output_tokens_per_s"] == pytest.approx(58.5928)
    assert demo["output_tokens_per_s_source"] == "llama.cpp timings"
    assert demo["ttft_ms"] == pytest.approx(150.0)
    assert demo["ttft_source"] == "llama.cpp prompt eval"
    plain = by_span[calls["plain"].span_id]
    assert plain["output_tokens_per_s_source"] == "end-to-end"
    assert plain["ttft_source"] is None
