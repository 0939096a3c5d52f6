"""Snapshots of the main screens: fixed data, a fixed clock and UTC, so nothing depends on when
or where the test runs. Update with `pytest tests/test_tui_snapshots.py --snapshot-update` and
look at the SVGs before committing them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path

import pytest
from textual.pilot import Pilot

from localobs.store import Store
from localobs.store.database import connect
from localobs.store.rollups import roll_up_all
from localobs.tui.app import LocalobsApp
from localobs.tui.widgets.calls_table import CallsTable
from tests import tui_data
from tests.tui_pilot import wait_until

SnapCompare = Callable[..., bool]
CLOCK_NS = tui_data.T0 + 300 * 10**9  # five minutes after the first call


@pytest.fixture
def sample_db(tmp_path: Path) -> Path:
    """The sample traces committed by the writer process, rollups folded, writer stopped: the
    database no longer changes while the snapshot is taken."""
    path = tmp_path / "sample.db"
    store = Store(path)
    store.start_writer()
    tui_data.submit(store, tui_data.sample_spans())
    store.close()
    conn = connect(path)
    try:
        roll_up_all(conn)
    finally:
        conn.close()
    return path


def viewer(db: Path, theme: str = "textual-dark") -> LocalobsApp:
    app = LocalobsApp(
        Store(db),
        clock=lambda: CLOCK_NS,
        endpoint_url="http://127.0.0.1:4318",
        tz=UTC,
        export_dir=db.parent,
    )
    app.theme = theme
    return app


async def calls_loaded(pilot: Pilot[object]) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count == 7)
    await wait_until(pilot, lambda: "7 calls" in str(app.screen.query_one("#totals").render()))


def then(*keys: str, ready: str) -> Callable[[Pilot[object]], Awaitable[None]]:
    """Wait for the calls, press `keys`, wait until the widget `ready` has content."""

    async def run(pilot: Pilot[object]) -> None:
        await calls_loaded(pilot)
        await pilot.press(*keys)
        await wait_until(pilot, lambda: pilot.app.screen.query(ready))
        widget = pilot.app.screen.query_one(ready)
        await wait_until(pilot, lambda: getattr(widget, "row_count", 1) > 0)
        await pilot.pause(0.1)

    return run


def test_calls_screen(snap_compare: SnapCompare, sample_db: Path) -> None:
    assert snap_compare(viewer(sample_db), terminal_size=(100, 30), run_before=calls_loaded)


def test_calls_screen_at_80x24_in_a_light_theme(snap_compare: SnapCompare, sample_db: Path) -> None:
    app = viewer(sample_db, theme="textual-light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=calls_loaded)


def test_call_detail_screen(snap_compare: SnapCompare, sample_db: Path) -> None:
    run = then("enter", ready="#transcript")
    assert snap_compare(viewer(sample_db), terminal_size=(100, 30), run_before=run)


def test_trace_screen(snap_compare: SnapCompare, sample_db: Path) -> None:
    run = then("t", ready="#waterfall")
    assert snap_compare(viewer(sample_db), terminal_size=(100, 30), run_before=run)


def test_components_screen(snap_compare: SnapCompare, sample_db: Path) -> None:
    run = then("c", ready="#models")
    assert snap_compare(viewer(sample_db), terminal_size=(100, 30), run_before=run)
