"""Which component is slow: per span name and per model, over a chosen window, with activity.

Aggregates are the most expensive reads the viewer makes, so they are refreshed at most every two
seconds however fast data arrives.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static
from textual_plotext import PlotextPlot

from localobs.store.calls import CallFilter
from localobs.store.components import ComponentStats, component_stats
from localobs.store.stats import (
    TTFT_FROM_CALLS,
    Activity,
    LatencyHistogram,
    Totals,
    activity,
    latency_histograms,
    totals,
)
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.refresh import RefreshGate, StoreChanged
from localobs.tui.theme import Palette
from localobs.tui.widgets.keys_footer import KeysFooter
from localobs.tui.widgets.plots import latency_bars, show_bars, show_series

WINDOWS: tuple[tuple[str, float | None], ...] = (("5 min", 300), ("1 h", 3600), ("all", None))
_RELOAD_INTERVAL_S = 2.0
_GROUP = "components"
_BUCKETS = 60
_SHARE_BAR = 10


def _ttft(value_ms: float | None, source: str | None, muted: Style) -> Text:
    """A per-model TTFT; one read from a TTFT metric (no call of the model carried one) says so."""
    text = Text(fmt.duration(value_ms), justify="right")
    if source not in (None, TTFT_FROM_CALLS):
        text.append(" metric", style=muted)
    return text


def _share(share: float, style: Style) -> Text:
    return Text(f"{fmt.bar(share, _SHARE_BAR)} {fmt.percent(share):>4}", style=style)


def _time_unit(longest_s: float) -> tuple[str, float]:
    """The unit that keeps a time axis' labels short."""
    for unit, seconds in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if longest_s >= 3 * seconds:
            return unit, seconds
    return "seconds", 1.0


@dataclass
class ComponentsLoaded(Message):
    window_index: int
    started: float  # time.monotonic() when the query started
    took_s: float
    components: tuple[ComponentStats, ...]
    totals: Totals
    activity: Activity
    histograms: tuple[LatencyHistogram, ...] = ()
    """Only read while the plots are shown."""


@dataclass
class ComponentsFailed(Message):
    error: str


class ComponentsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "next_window", "Window"),
        Binding("h", "toggle_plots", "Plots"),
    ]

    def __init__(self, ctx: ViewerContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.window_index = ctx.components_window
        self._gate = RefreshGate(min_interval_s=_RELOAD_INTERVAL_S, max_share=0.1)

    @property
    def window(self) -> tuple[str, float | None]:
        return WINDOWS[self.window_index]

    def compose(self) -> ComposeResult:
        yield Static(id="components-title")
        yield DataTable(id="components", cursor_type="row")
        yield DataTable(id="models", cursor_type="row")
        with Vertical(id="activity"):
            with Horizontal(classes="spark-row"):
                yield Static("calls", classes="spark-label")
                yield Sparkline([], id="calls-spark")
            with Horizontal(classes="spark-row"):
                yield Static("tokens", classes="spark-label")
                yield Sparkline([], id="tokens-spark")
        with Vertical(id="plots"):
            with Horizontal(classes="plot-row"):
                yield PlotextPlot(id="plot-latency")
                yield PlotextPlot(id="plot-ttft")
            with Horizontal(classes="plot-row"):
                yield PlotextPlot(id="plot-calls")
                yield PlotextPlot(id="plot-tokens")
        yield KeysFooter()

    def on_mount(self) -> None:
        components = self.query_one("#components", DataTable)
        for label, key in (
            ("span name", "name"),
            ("count", "count"),
            ("p50", "p50"),
            ("p95", "p95"),
            ("share of total", "share"),
            ("share of self", "self"),
        ):
            components.add_column(label, key=key)
        models = self.query_one("#models", DataTable)
        for label, key in (
            ("model", "model"),
            ("calls", "calls"),
            ("err", "errors"),
            ("in→out tok", "tokens"),
            ("ttft p50", "ttft50"),
            ("ttft p95", "ttft95"),
            ("p50", "p50"),
            ("tok/s", "rate"),
        ):
            models.add_column(label, key=key)
        self._show_plots(self.ctx.components_plots)
        self.set_interval(_RELOAD_INTERVAL_S, self._pump)

    def on_screen_resume(self) -> None:
        """Shown (pushed, or again: the app keeps this screen): changes are only reported to the
        screen in front, so catch up now."""
        self._show_window()

    def on_screen_suspend(self) -> None:
        """Hidden: its aggregates, the slowest reads (most of a second under an ingest flood),
        are for nobody now; the reader pool interrupts a cancelled worker's statement."""
        if self._gate.running:
            self.workers.cancel_group(self, _GROUP)
            self._gate.abandon()

    def _show_plots(self, shown: bool) -> None:
        """Plots take the place of the span table and the sparklines (same data, drawn)."""
        self.query_one("#plots").display = shown
        self.query_one("#components").display = not shown
        self.query_one("#activity").display = not shown

    def _show_window(self) -> None:
        """What was seen of this window lately shows at once (reopening the screen runs no
        query); a fresh query follows when the last one is old enough."""
        seen = self.ctx.components_seen.get(self.window_index)
        if seen is None:
            self._show_title(loading=True)
            self._request(skip_interval=True)
            return
        started, loaded = seen
        self._gate = RefreshGate(
            min_interval_s=_RELOAD_INTERVAL_S, max_share=0.1, last_start=started
        )
        self._show(loaded)
        self._request()

    def _show_title(self, loading: bool = False) -> None:
        label, _ = self.window
        self.query_one("#components-title", Static).update(
            Content.assemble(
                ("Components", "b"),
                f" · {'all data' if label == 'all' else 'last ' + label}",
                ("  (w: 5 min / 1 h / all)", "$foreground-muted"),
                ("  loading…" if loading else "", "$foreground-muted"),
            )
        )

    def _request(self, *, skip_interval: bool = False) -> None:
        if self._gate.request(skip_interval=skip_interval):
            self._load(self.window_index)

    def _pump(self) -> None:
        if self.is_active and self._gate.pump():
            self._load(self.window_index)

    def on_store_changed(self, _: StoreChanged) -> None:
        self._request()

    @work(thread=True, exclusive=True, group=_GROUP)
    def _load(self, window_index: int) -> None:
        clock = self.ctx.clock
        window_s = WINDOWS[window_index][1]
        started, started_at = time.perf_counter(), time.monotonic()
        try:
            with self.ctx.readers.connection() as conn:
                found = ComponentsLoaded(
                    window_index,
                    started_at,
                    0.0,
                    component_stats(conn, clock, window_s),
                    totals(conn, clock, window_s, CallFilter()),
                    activity(conn, clock, window_s, _BUCKETS),
                    latency_histograms(conn, clock, window_s) if self.ctx.components_plots else (),
                )
        except sqlite3.Error as exc:
            self.post_message(ComponentsFailed(str(exc)))
            return
        found.took_s = time.perf_counter() - started
        self.post_message(found)

    def on_components_failed(self, message: ComponentsFailed) -> None:
        self._finished()
        self.notify(
            f"reading components failed: {fmt.name(message.error)}", severity="error", markup=False
        )

    def _finished(self, took_s: float = 0.0) -> None:
        if self._gate.finished(took_s):
            self._load(self.window_index)

    def on_components_loaded(self, message: ComponentsLoaded) -> None:
        self.ctx.components_seen[message.window_index] = (message.started, message)
        if message.window_index != self.window_index:  # the user changed the window meanwhile
            self._gate.request(skip_interval=True)
            self._finished()
            return
        self._finished(message.took_s)
        self._show(message)

    def _show(self, message: ComponentsLoaded) -> None:
        self._show_title()
        palette = Palette.of(self.app)
        components = self.query_one("#components", DataTable)
        components.clear()
        for stats in message.components:
            components.add_row(
                fmt.cell(stats.name, 40),
                Text(fmt.count(stats.count), justify="right"),
                Text(fmt.duration(stats.p50_ms), justify="right"),
                Text(fmt.duration(stats.p95_ms), justify="right"),
                _share(stats.share_of_total, palette.muted),
                _share(stats.share_of_self, palette.accent),
            )
        models = self.query_one("#models", DataTable)
        models.clear()
        for model in sorted(message.totals.per_model, key=lambda m: m.calls, reverse=True):
            models.add_row(
                fmt.cell(model.model, 28, palette.accent),
                Text(str(model.calls), justify="right"),
                Text(str(model.errors), style=palette.error if model.errors else palette.muted),
                Text(fmt.tokens_in_out(model.input_tokens, model.output_tokens), justify="right"),
                _ttft(model.ttft_p50_ms, model.ttft_source, palette.muted),
                _ttft(model.ttft_p95_ms, model.ttft_source, palette.muted),
                Text(fmt.duration(model.duration_p50_ms), justify="right"),
                Text(fmt.rate(model.tokens_per_s_p50), justify="right"),
            )
        self.query_one("#calls-spark", Sparkline).data = list(message.activity.calls)
        self.query_one("#tokens-spark", Sparkline).data = list(message.activity.tokens)
        if self.ctx.components_plots:
            self._draw_plots(message)

    def _draw_plots(self, message: ComponentsLoaded) -> None:
        for selector, measure, title in (
            ("#plot-latency", "duration_ms", "latency"),
            ("#plot-ttft", "ttft_ms", "TTFT"),
        ):
            labels, series = latency_bars(message.histograms, measure)
            show_bars(self.query_one(selector, PlotextPlot), labels, series, title)
        found = message.activity
        ago_s = [
            (self.ctx.clock() - found.start_unix_nano) / 1e9 - (i + 0.5) * found.bucket_s
            for i in range(len(found.calls))
        ]
        unit, scale = _time_unit(max(ago_s, default=0.0))
        xs = [-ago / scale for ago in ago_s]
        for selector, label, values in (
            ("#plot-calls", "calls", found.calls),
            ("#plot-tokens", "tokens", found.tokens),
        ):
            plot = self.query_one(selector, PlotextPlot)
            show_series(plot, xs, {label: values}, f"{label} (x: {unit} ago)")

    def action_toggle_plots(self) -> None:
        self.ctx.components_plots = not self.ctx.components_plots
        self._show_plots(self.ctx.components_plots)
        self._request(skip_interval=True)

    def action_next_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.ctx.components_window = self.window_index
        if self._gate.running:
            self._show_title(loading=True)
            self._request(skip_interval=True)  # runs when the query in flight is done
        else:
            self._show_window()
