"""The calls table: paging through keyset queries with a bounded window; narrow terminals."""

from __future__ import annotations

from datetime import UTC

from localobs.store import Store
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.calls import CallsScreen
from localobs.tui.widgets.calls_table import CallsTable
from tests import tui_data
from tests.tui_pilot import wait_until

CALLS = 700


def many_calls(count: int) -> list[tui_data.SpanSpec]:
    return [
        tui_data.SpanSpec(
            trace=number,
            span=number,
            name="chat m",
            start_ms=number * 1000,
            duration_ms=100,
            genai=tui_data.chat("m", f"question {number}", f"answer {number}"),
        )
        for number in range(1, count + 1)
    ]


async def test_end_pages_down_old_pages_are_dropped_and_reloaded(store: Store) -> None:
    tui_data.submit(store, many_calls(CALLS))
    app = LocalobsApp(store, clock=lambda: tui_data.T0 + CALLS * 10**9, tz=UTC)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, CallsScreen)
        table = screen.query_one(CallsTable)
        await wait_until(pilot, lambda: table.row_count > 0)
        assert table.row_count == 50  # following: a short top page
        seen = [str(table.get_row_at(0)[-1])]
        while screen.window.more_below:
            rows = table.row_count
            last = table.call_ids[-1]
            await pilot.press("end")
            await wait_until(pilot, lambda last=last: table.call_ids[-1] != last)
            assert table.row_count <= 500, "the table keeps a bounded window"
            assert table.selected_call_id() == last, "the cursor stays on its call"
            seen.append(str(table.get_row_at(table.row_count - 1)[-1]))
            assert table.row_count > rows or screen.window.has_above
        assert seen[0].endswith(f"question {CALLS}") and seen[-1].endswith("question 1")
        assert screen.window.has_above and "scrolled" in str(screen.query_one("#status").render())

        while screen.window.has_above:
            first = table.call_ids[0]
            await pilot.press("ctrl+home")
            await wait_until(pilot, lambda first=first: table.call_ids[0] != first)
            assert table.selected_call_id() == first
        await pilot.press("ctrl+home")
        assert str(table.get_row_at(0)[-1]).endswith(f"question {CALLS}")
        await wait_until(pilot, lambda: "live" in str(screen.query_one("#status").render()))


async def test_a_narrow_terminal_drops_the_minor_columns_and_keeps_the_message(
    store: Store,
) -> None:
    tui_data.submit(store, tui_data.sample_spans())
    app = LocalobsApp(store, clock=lambda: tui_data.T0, tz=UTC)
    async with app.run_test(size=(130, 30)) as pilot:
        table = app.screen.query_one(CallsTable)
        await wait_until(pilot, lambda: table.row_count == 7)
        wide = [column.label.plain for column in table.ordered_columns]
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: len(table.ordered_columns) < len(wide))
        narrow = [column.label.plain for column in table.ordered_columns]
        assert table.row_count == 7
    assert {"op", "ttft", "tok/s"} <= set(wide) - set(narrow)
    assert narrow[-1] == "last user message" and "model" in narrow
