"""The viewer's part in retention: `k` on a trace keeps it (and releases it), and the calls
screen says when the writer is pruning."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from localobs.store import Store
from localobs.store.database import connect
from localobs.store.retention import kept_traces, set_pruning
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.trace import TraceScreen
from localobs.tui.widgets.calls_table import CallsTable
from tests.query_rows import T0, call, span, submit, trace_id
from tests.tui_pilot import wait_until

SIZE = (120, 36)


def kept(store: Store) -> list[str]:
    conn = connect(store.path, readonly=True)
    try:
        return [each.trace_id for each in kept_traces(conn)]
    finally:
        conn.close()


async def test_k_keeps_the_trace_and_k_again_releases_it(store: Store, tmp_path: Path) -> None:
    submit(store, [span(7, 70, "agent", 0, 50), call(7, 71, 10, 30, parent=70)])
    app = LocalobsApp(store, export_dir=tmp_path, clock=lambda: T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count == 1)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TraceScreen))
        await pilot.press("k")
        await wait_until(pilot, lambda: kept(store) == [trace_id(7)])
        await wait_until(pilot, lambda: any("kept" in str(n.message) for n in app._notifications))
        await pilot.press("k")
        await wait_until(pilot, lambda: kept(store) == [])


async def test_the_status_line_says_when_retention_prunes(store: Store, tmp_path: Path) -> None:
    submit(store, [call(1, 1, 0, 30)])
    conn = connect(store.path)
    set_pruning(conn, T0)
    conn.close()
    app = LocalobsApp(store, export_dir=tmp_path, clock=lambda: T0)
    async with app.run_test(size=SIZE) as pilot:

        def status() -> str:
            return str(app.screen.query_one("#status", Static).render())

        await wait_until(pilot, lambda: "pruning" in status())
        conn = connect(store.path)
        set_pruning(conn, None)
        conn.close()
        submit(store, [call(2, 2, 10, 30)])  # a change makes the screen refresh its totals
        await wait_until(pilot, lambda: "pruning" not in status())
