"""The viewer's pure parts: search syntax, the paging window, the refresh gate, formats, diffs."""

from __future__ import annotations

import pytest

from localobs.store.calls import CallFilter, CallSummary, Part
from localobs.tui import format as fmt
from localobs.tui.call_window import CallWindow
from localobs.tui.conversation import diff_lines, part_text
from localobs.tui.refresh import RefreshGate
from localobs.tui.search_syntax import SearchSyntaxError, parse_search

NOW = 1_780_000_000 * 10**9


def clock() -> int:
    return NOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", CallFilter()),
        ("model:gpt-4o", CallFilter(model="gpt-4o")),
        ("service:bot op:chat", CallFilter(service="bot", operation="chat")),
        ("error slow>2s", CallFilter(errors_only=True, min_duration_ms=2000.0)),
        ("slow>250ms", CallFilter(min_duration_ms=250.0)),
        ("since:10m", CallFilter(since_unix_nano=NOW - 600 * 10**9)),
        ('"refund policy" please', CallFilter(text="refund policy please")),
        ("Model:X tea", CallFilter(model="X", text="tea")),
        ("unknown:key", CallFilter(text="unknown:key")),
    ],
)
def test_search_terms_become_a_filter(text: str, expected: CallFilter) -> None:
    assert parse_search(text, clock) == expected


@pytest.mark.parametrize("text", ["slow>fast", "model:", "since:soon"])
def test_a_malformed_term_says_how_to_write_it(text: str) -> None:
    with pytest.raises(SearchSyntaxError):
        parse_search(text, clock)


def call(call_id: int, start: int) -> CallSummary:
    return CallSummary(
        call_id=call_id,
        trace_id="0" * 32,
        span_id=f"{call_id:016x}",
        service_name="svc",
        operation="chat",
        provider=None,
        request_model="m",
        response_model="m",
        start_time_unix_nano=start,
        duration_ms=1.0,
        ttft_ms=None,
        ttft_source=None,
        output_tokens_per_s=None,
        output_tokens_per_s_source=None,
        input_tokens=None,
        output_tokens=None,
        status_code=0,
        error_type=None,
        preview="",
        agent_name=None,
        tool_calls="",
        cost_usd=None,
        cost_source=None,
        input_tokens_estimate=None,
        output_tokens_estimate=None,
        token_estimate_method=None,
    )


def newest_first(first: int, count: int) -> list[CallSummary]:
    """Calls numbered first, first-1, ... with start times in the same order."""
    return [call(i, i * 1000) for i in range(first, first - count, -1)]


def test_the_window_pages_down_drops_pages_above_and_reloads_them() -> None:
    window = CallWindow(top_size=10, page_size=10, max_rows=30)
    window.reset(newest_first(100, 10))
    assert window.more_below and not window.has_above
    for first in (90, 80):
        assert window.below_cursor() == ((first + 1) * 1000, first + 1)
        added, dropped = window.add_below(newest_first(first, 10))
        assert [c.call_id for c in added] == list(range(first, first - 10, -1))
        assert dropped == []
    added, dropped = window.add_below(newest_first(70, 10))
    # 40 rows were loaded; the first page was dropped to keep 30.
    assert dropped == list(range(100, 90, -1))
    assert len(window.rows) == 30 and window.rows[0].call_id == 90
    assert window.has_above
    # The keyset cursor of the dropped page includes its first row (call 100).
    assert window.above_cursor() == (100 * 1000, 101)
    window.add_above(newest_first(100, 20))  # the query may run into rows already shown
    assert [c.call_id for c in window.rows[:11]] == list(range(100, 89, -1))
    assert len(window.rows) == 30 and not window.has_above and window.more_below


def test_the_window_ends_where_the_data_ends() -> None:
    window = CallWindow(top_size=10, page_size=10, max_rows=30)
    window.reset(newest_first(5, 5))
    assert not window.more_below and window.below_cursor() is None


def test_new_calls_merge_into_the_short_top_page_once() -> None:
    window = CallWindow(top_size=5, page_size=10, max_rows=20)
    window.reset(newest_first(10, 5))
    late = call(11, 9500)  # arrived last, but started before call 10
    assert window.add_newest([call(12, 12_000), late, call(12, 12_000)]) == 2
    assert [c.call_id for c in window.rows] == [12, 10, 11, 9, 8]
    assert window.more_below
    assert window.add_newest([call(12, 12_000)]) == 0


def test_the_gate_runs_one_query_at_a_time_and_one_more_for_changes_meanwhile() -> None:
    now = [0.0]
    gate = RefreshGate(min_interval_s=1.0, monotonic=lambda: now[0])
    assert gate.request()
    assert not gate.request() and not gate.request()  # in flight: remembered, not started
    assert not gate.finished()  # too soon after the last start
    now[0] = 1.5
    assert gate.pump()
    assert not gate.finished()  # nothing changed meanwhile
    assert gate.request(skip_interval=True)


def test_the_gate_spaces_out_a_query_that_grew_slow() -> None:
    now = [0.0]
    gate = RefreshGate(min_interval_s=1.0, max_share=0.25, monotonic=lambda: now[0])
    assert gate.request()
    now[0] = 0.5
    gate.finished(took_s=0.5)  # half a second of work: wait two before the next
    now[0] = 1.5
    assert not gate.request()
    now[0] = 2.0
    assert gate.pump()


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, "—"), (0.5, "0.50 ms"), (12.4, "12 ms"), (1234, "1.23 s"), (125_000, "2m05s")],
)
def test_durations_read_at_a_glance(ms: float | None, text: str) -> None:
    assert fmt.duration(ms) == text


def test_counts_and_missing_tokens() -> None:
    assert fmt.tokens_in_out(1234, None) == "1.2k→—"
    assert fmt.count(2_500_000) == "2.50M"
    assert fmt.bar(0.5, 4) == "██  "


def test_diff_keeps_every_line_and_marks_the_changes() -> None:
    old = ["[user]", "hi", "[assistant]", "teal"]
    new = ["[user]", "hi", "[assistant]", "red"]
    assert diff_lines(old, new) == [
        (" ", "[user]"),
        (" ", "hi"),
        (" ", "[assistant]"),
        ("-", "teal"),
        ("+", "red"),
    ]


def test_tool_calls_and_results_read_as_text() -> None:
    call = Part("tool_call", name="get_weather", id="call_1", arguments='{"city": "Paris"}')
    result = Part("tool_call_response", '{"temp": 21}', id="call_1")
    assert part_text(call) == '→ tool call get_weather [call_1]\n{"city": "Paris"}'
    assert part_text(result) == '← tool result [call_1]\n{"temp": 21}'
    assert part_text(Part("text", "plain")) == "plain"


def test_the_empty_state_and_help_name_both_endpoints_when_grpc_listens() -> None:
    from localobs.tui.screens.help import help_content
    from localobs.tui.widgets.empty_state import empty_content

    http, grpc = "http://127.0.0.1:4318", "http://127.0.0.1:4317"
    for content in (empty_content(http, "", grpc), help_content([], http, None, grpc)):
        text = content.plain
        assert f"OTEL_EXPORTER_OTLP_ENDPOINT={http}" in text
        assert f"OTEL_EXPORTER_OTLP_ENDPOINT={grpc}" in text
    assert grpc not in empty_content(http, "").plain
