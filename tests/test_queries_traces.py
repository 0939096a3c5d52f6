"""A trace as a tree: depth-first order, self time and the critical path, on a known trace."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from localobs.store.span_time import Timing, covered_ns, critical_path
from localobs.store.traces import get_trace
from tests.conftest import RunningReceiver
from tests.tui_sdk import sdk_tracer

T0 = 1_780_000_000 * 10**9
MS = 1_000_000


@pytest.fixture(autouse=True)
def endpoint(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)


def _send_known_trace() -> str:
    """root 0-100 ms; A 10-40 with C 15-25 under it; B 30-70 (a model call, overlapping A);
    D 80-95; and an orphan 2-5 ms whose parent was never received."""
    with sdk_tracer("shop") as tracer:
        root = tracer.start_span("root", start_time=T0)
        inside = trace.set_span_in_context(root)
        a = tracer.start_span("A", context=inside, start_time=T0 + 10 * MS)
        c = tracer.start_span("C", context=trace.set_span_in_context(a), start_time=T0 + 15 * MS)
        c.end(end_time=T0 + 25 * MS)
        a.end(end_time=T0 + 40 * MS)
        b = tracer.start_span(
            "chat m", context=inside, kind=SpanKind.CLIENT, start_time=T0 + 30 * MS
        )
        b.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "m",
                "gen_ai.usage.input_tokens": 7,
                "gen_ai.usage.output_tokens": 3,
            }
        )
        b.set_status(StatusCode.ERROR)
        b.end(end_time=T0 + 70 * MS)
        d = tracer.start_span("D", context=inside, start_time=T0 + 80 * MS)
        d.end(end_time=T0 + 95 * MS)
        missing = NonRecordingSpan(
            SpanContext(
                root.get_span_context().trace_id,
                0xDEADBEEF,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        )
        orphan = tracer.start_span(
            "orphan", context=trace.set_span_in_context(missing), start_time=T0 + 2 * MS
        )
        orphan.end(end_time=T0 + 5 * MS)
        root.end(end_time=T0 + 100 * MS)
        return format(root.get_span_context().trace_id, "032x")


def test_a_known_trace_has_its_tree_self_times_and_critical_path(
    receiver: RunningReceiver,
) -> None:
    trace_id = _send_known_trace()
    tree = get_trace(receiver.store.reader(), trace_id.upper())
    assert tree is not None
    assert tree.trace_id == trace_id
    assert tree.start_unix_nano == T0 and tree.duration_ms == 100
    rows = [
        (s.name, s.depth, s.start_offset_ms, s.duration_ms, s.self_time_ms, s.on_critical_path)
        for s in tree.spans
    ]
    assert rows == [
        ("root", 0, 0, 100, 100 - 60 - 15, True),  # children cover 10-70 and 80-95
        ("A", 1, 10, 30, 20, False),  # B is still running when A ends: A is not critical
        ("C", 2, 15, 10, 10, False),
        ("chat m", 1, 30, 40, 40, True),
        ("D", 1, 80, 15, 15, True),
        ("orphan", 0, 2, 3, 3, False),
    ]
    chat = tree.spans[3]
    assert chat.call_id is not None and chat.model == "m" and chat.operation == "chat"
    assert (chat.input_tokens, chat.output_tokens, chat.is_error) == (7, 3, True)
    assert all(s.call_id is None and not s.is_error for s in tree.spans if s is not chat)
    assert tree.spans[5].parent_span_id == f"{0xDEADBEEF:016x}"


def test_an_unknown_trace_is_none(receiver: RunningReceiver) -> None:
    assert get_trace(receiver.store.reader(), "0" * 31 + "1") is None


def test_covered_time_is_the_union_of_overlapping_children_clipped_to_the_parent() -> None:
    assert covered_ns(0, 100, [(10, 40), (30, 70), (80, 120), (-5, 2)]) == 2 + 60 + 20
    assert covered_ns(0, 100, []) == 0
    assert covered_ns(0, 100, [(100, 200), (50, 50)]) == 0


def test_critical_path_follows_sequential_children_backwards_from_the_end() -> None:
    # root 0-100: step1 0-40, step2 40-90 (sequential); step2 has parallel x 40-60 and y 45-85.
    spans = [
        Timing(1, "root", None, 0, 100),
        Timing(2, "step1", "root", 0, 40),
        Timing(3, "step2", "root", 40, 90),
        Timing(4, "x", "step2", 40, 60),
        Timing(5, "y", "step2", 45, 85),
        Timing(6, "loop", "loop", 0, 1),  # its own parent: kept at the top, no endless walk
    ]
    assert critical_path(spans) == {1, 2, 3, 5}
