"""Plots: latency and TTFT histograms per model from the store, drawn with textual-plotext on the
components screen (g), legible at 80 columns."""

from __future__ import annotations

from datetime import UTC

from textual_plotext import PlotextPlot

from localobs.store import Store
from localobs.store.stats import LatencyHistogram, latency_histograms
from localobs.tui.app import LocalobsApp
from localobs.tui.screens.components import ComponentsScreen
from localobs.tui.widgets.plots import latency_bars
from tests import tui_data
from tests.query_rows import MS, T0, call, submit
from tests.tui_pilot import wait_until


def test_histograms_count_calls_per_doubling_per_model(store: Store) -> None:
    rows = [
        call(n, n, start_ms=n * 1000, duration_ms=100 * n, model="model-a", ttft_ms=10.0 * n)
        for n in range(1, 5)
    ]
    rows.append(call(5, 5, 5000, 1000, model="model-b"))
    submit(store, rows)
    found = latency_histograms(store.reader(), lambda: T0 + 3_600_000 * MS, None)
    a, b = found
    assert a.model == "model-a"
    # 100 ms in [64, 128); 200 in [128, 256); 300 and 400 in [256, 512).
    assert a.duration_ms == ((128.0, 1), (256.0, 1), (512.0, 2))
    assert a.ttft_ms == ((16.0, 1), (32.0, 2), (64.0, 1))
    assert (b.model, b.duration_ms, b.ttft_ms) == ("model-b", ((1024.0, 1),), ())


def test_bars_share_the_bounds_of_every_model_shown() -> None:
    histograms = [
        LatencyHistogram("a", ((128.0, 1), (256.0, 3)), ()),
        LatencyHistogram("b", ((512.0, 2),), ((16.0, 1),)),
    ]
    labels, series = latency_bars(histograms, "duration_ms")
    assert labels == ["≤128 ms", "≤256 ms", "≤512 ms"]
    assert series == {"a": [1, 3, 0], "b": [0, 0, 2]}
    assert latency_bars(histograms, "ttft_ms") == (["≤16 ms"], {"b": [1]})


async def test_g_shows_the_plots_on_the_components_screen_at_80_columns(store: Store) -> None:
    tui_data.submit(store, tui_data.sample_spans())
    app = LocalobsApp(store, clock=lambda: tui_data.T0 + 600 * 10**9, tz=UTC,
                      totals_window_s=None)  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ComponentsScreen))
        assert not app.screen.query_one("#plots").display
        await pilot.press("h")
        assert app.screen.query_one("#plot-latency", PlotextPlot).display
        # Bars are labelled by their upper bound (≤ ...) once the data is drawn.
        await wait_until(pilot, lambda: "≤" in app.export_screenshot())
        svg = app.export_screenshot()
        for text in ("latency", "TTFT", "calls&#160;(x:", "tokens&#160;(x:", "minutes&#160;ago"):
            assert text in svg, text
        assert not app.screen.query_one("#components").display
        await pilot.press("h")
        assert app.screen.query_one("#components").display
