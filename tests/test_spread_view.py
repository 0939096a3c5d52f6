"""The spread view's text and the replay key's hint, without a model."""

from __future__ import annotations

from datetime import UTC

import pytest

from localobs.replay import availability
from localobs.replay.runs import RunResult
from localobs.replay.spread import spreads
from localobs.store import Store
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.call_detail import CallDetailScreen
from localobs.tui.screens.spread import SpreadScreen, spread_content
from localobs.tui.widgets.calls_table import CallsTable
from tests import tui_data
from tests.tui_pilot import wait_until


def run(number: int, text: str) -> RunResult:
    return RunResult(number, 0.7, text, "stop", 10, 5, 100.0 * number, 10.0, number)


def test_answers_show_literally_biggest_cluster_first_with_the_original_marked() -> None:
    results = [run(1, "[b]bold?[/b] no"), run(2, "Other."), run(3, "[b]bold?[/b]  NO")]
    shown = spread_content(spreads(results, original="other.")).plain
    lines = shown.splitlines()
    assert lines[0] == "temperature 0.7 · 3 runs · 2 distinct answers"
    assert lines[1].strip() == "2x [b]bold?[/b] no"
    assert lines[2].strip() == "1x Other.  ◀ original"
    assert "output tokens  min 5  p50 5  p95 5  max 5" in shown
    assert "finish reasons stop 3" in shown


async def test_without_a_model_r_says_how_to_get_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fault this test environment cannot cause for real: the demo extra is installed here.
    monkeypatch.setattr(availability, "bundled_model_available", lambda: False)
    monkeypatch.delenv(availability.ENDPOINT_ENV, raising=False)
    tui_data.submit(store, tui_data.sample_spans())
    app = LocalobsApp(store, clock=lambda: tui_data.T0, tz=UTC, totals_window_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count > 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CallDetailScreen))
        await wait_until(pilot, lambda: app.screen.query("#transcript"))
        await pilot.press("p")
        await wait_until(pilot, lambda: len(app._notifications) > 0)
        (shown,) = [n.message for n in app._notifications]
        assert "pip install 'localobs[demo]'" in shown and "--endpoint URL --model NAME" in shown
        assert isinstance(app.screen, CallDetailScreen)  # no spread view opened


@pytest.mark.slow
async def test_w_sweeps_three_temperatures_side_by_side(store: Store) -> None:
    tui_data.submit(store, tui_data.sample_spans())
    app = LocalobsApp(store, clock=lambda: tui_data.T0, tz=UTC, totals_window_s=None)
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count > 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.query("#transcript"))
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, SpreadScreen))
        screen = app.screen
        assert isinstance(screen, SpreadScreen)
        await pilot.press("escape")  # cancel the first replay at once
        await wait_until(pilot, lambda: not screen.running, 60)
        await pilot.press("n", "n", "n", "w", "p")  # 5 runs, temperatures 0, 0.7 and 1
        await wait_until(pilot, lambda: not screen.running and len(screen.results) == 15, 240)
        assert screen.error is None
        # Every replay of the call in the store: these 15 and what the cancelled one kept.
        await wait_until(pilot, lambda: screen.stored is not None and screen.stored >= 15)
        assert [r.temperature for r in screen.results] == [0.0] * 5 + [0.7] * 5 + [1.0] * 5
        columns = screen.query(".sweep-column")
        assert len(columns) == 3
        texts = [str(column.render()) for column in columns]
        assert [text.splitlines()[0].split(" · ")[0] for text in texts] == [
            "temperature 0",
            "temperature 0.7",
            "temperature 1",
        ]
        # Greedy decoding gives one answer five times.
        assert "5x " in texts[0] and "1 distinct answer\n" in texts[0]


async def test_the_command_palette_saves_an_svg_beside_the_database(store: Store) -> None:
    tui_data.submit(store, tui_data.sample_spans())
    app = LocalobsApp(store, clock=lambda: tui_data.T0, tz=UTC, totals_window_s=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count > 0)
        await pilot.press("ctrl+p", *"screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: list(store.path.parent.glob("localobs-calls-*.svg")))
        (saved,) = store.path.parent.glob("localobs-calls-*.svg")
        assert "Where&#160;can&#160;I&#160;get&#160;coffee?" in saved.read_text()
        await wait_until(pilot, lambda: len(app._notifications) > 0)
        assert any(str(saved) in str(n.message) for n in app._notifications)
