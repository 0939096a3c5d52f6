"""How whimsical a call is: it is replayed N times and the answers are grouped by sameness.

Runs come from a `localobs replay --json-lines` child process (the viewer loads no model and
writes nothing itself) and stream in as they finish; escape cancels the runs in flight.
Answers are model output, shown literally (Content, never markup).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ProgressBar, Static
from textual_plotext import PlotextPlot

from localobs.replay.runs import RunResult
from localobs.replay.spread import Quantiles, Spread, spreads
from localobs.store.replays import replays_of
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.replay_process import ReplayProcess
from localobs.tui.widgets.keys_footer import KeysFooter
from localobs.tui.widgets.plots import show_histogram

RUN_CHOICES = (10, 20, 50, 5)
# `w` sweeps these temperatures, N runs each, shown side by side.
SWEEP = (0.0, 0.7, 1.0)
_PREVIEW = 200
_SWEEP_PREVIEW = 60  # three columns share the width


@dataclass
class ReplayEvent(Message):
    event: dict[str, Any]


@dataclass
class StoredCounted(Message):
    count: int


def _quantiles(label: str, q: Quantiles | None, show: Any) -> Content:
    if q is None:
        return Content.assemble((f"  {label:<15}", "$foreground-muted"), fmt.MISSING)
    return Content.assemble(
        (f"  {label:<15}", "$foreground-muted"),
        f"min {show(q.min)}  p50 {show(q.p50)}  p95 {show(q.p95)}  max {show(q.max)}",
    )


def spread_content(found: list[Spread], preview_chars: int = _PREVIEW) -> Content:
    """Clusters, biggest first with the original's marked, then the figures, per temperature."""
    lines: list[Content] = []
    for item in found:
        temperature = "as captured" if item.temperature is None else f"{item.temperature:g}"
        lines.append(
            Content.assemble(
                (f"temperature {temperature}", "b $text-accent"),
                f" · {item.runs} runs · {item.distinct_answers}",
                (f" · {item.failed} failed", "$text-error") if item.failed else "",
            )
        )
        for cluster in item.clusters:
            text = " ".join(cluster.text.split())
            lines.append(
                Content.assemble(
                    (f"  {cluster.count:>3}x ", "b"),
                    fmt.shown(text, width=preview_chars) if text else "(empty answer)",
                    ("" if cluster.identical else "  ≈", "$foreground-muted"),
                    ("  ◀ original" if cluster.has_original else "", "b $text-success"),
                )
            )
        lines.append(_quantiles("output tokens", item.output_tokens, lambda v: f"{v:.0f}"))
        lines.append(_quantiles("duration", item.duration_ms, fmt.duration))
        lines.append(_quantiles("TTFT", item.ttft_ms, fmt.duration))
        reasons = ", ".join(f"{reason} {count}" for reason, count in item.finish_reasons)
        lines.append(
            Content.assemble((f"  {'finish reasons':<15}", "$foreground-muted"), reasons or "—")
        )
        if item.json_parsed is not None:
            lines.append(
                Content.assemble(
                    (f"  {'parse as JSON':<15}", "$foreground-muted"),
                    f"{item.json_parsed} of {item.runs}",
                )
            )
    return Content("\n").join(lines)


class SpreadScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("p", "again", "Replay again"),
        Binding("n", "more_runs", "Runs"),
        Binding("w", "toggle_sweep", "Sweep 0/0.7/1"),
    ]

    def __init__(self, ctx: ViewerContext, call_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.call_id = call_id
        self.runs = RUN_CHOICES[0]
        self.temperatures: tuple[float, ...] = ()
        """Empty: the call's own temperature."""
        self.results: list[RunResult] = []
        self.backend = ""
        self.original: str | None = None
        self.json_output = False
        self.error: str | None = None
        self.running = False
        self.stored: int | None = None
        """Replays of this call in the database, from every replay so far."""
        self._process: ReplayProcess | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="spread-title")
        yield ProgressBar(id="spread-progress", show_eta=False)
        with VerticalScroll(id="spread-body"):
            yield Static(id="spread-summary")
            yield Horizontal(id="spread-sweep")
            with Horizontal(id="spread-plots"):
                yield PlotextPlot(id="plot-tokens")
                yield PlotextPlot(id="plot-duration")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._start()

    def on_unmount(self) -> None:
        if self._process is not None:
            self._process.cancel()

    def _start(self) -> None:
        self.results, self.error, self.running = [], None, True
        self.query_one(ProgressBar).update(total=self.total_runs, progress=0)
        self._render_all()
        self._run(self.runs, self.temperatures)

    @property
    def total_runs(self) -> int:
        return self.runs * max(1, len(self.temperatures))

    @work(thread=True, exclusive=True)
    def _run(self, runs: int, temperatures: tuple[float, ...]) -> None:
        if self.ctx.db_path is None:
            self.post_message(ReplayEvent({"event": "done", "error": "no database file"}))
            return
        self._process = ReplayProcess(self.ctx.db_path, self.call_id, runs, temperatures)
        for event in self._process.events():
            self.post_message(ReplayEvent(event))

    def on_replay_event(self, message: ReplayEvent) -> None:
        event = message.event
        kind = event.get("event")
        if kind == "start":
            self.backend = str(event.get("backend") or "")
            self.original = event.get("original")
            self.json_output = bool(event.get("json_output"))
            self.query_one(ProgressBar).update(total=event.get("runs") or self.total_runs)
        elif kind == "run":
            self.results.append(RunResult.from_json(event))
            self.query_one(ProgressBar).advance(1)
        elif kind in ("done", "error"):
            self.running = False
            self.error = event.get("error") or event.get("message") or self.error
            self.refresh_bindings()
            self._count_stored()
        self._render_all()

    @work(thread=True, group="count")
    def _count_stored(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                count = len(replays_of(conn, self.call_id))
        except sqlite3.Error:
            return
        self.post_message(StoredCounted(count))

    def on_stored_counted(self, message: StoredCounted) -> None:
        self.stored = message.count
        self._render_all()

    def _render_all(self) -> None:
        state = (
            f"{len(self.results)} of {self.total_runs} runs"
            if self.running
            else f"{len(self.results)} runs done"
        )
        self.query_one("#spread-title", Static).update(
            Content.assemble(
                ("Spread", "b $text-accent"),
                f" of call {self.call_id} · {state}",
                f" · {self.backend}" if self.backend else "",
                f" · {self.stored} replays of this call stored" if self.stored else "",
                ("  " + self.error, "$text-error") if self.error else "",
            )
        )
        found = spreads(self.results, self.original, json_output=self.json_output)
        summary = self.query_one("#spread-summary", Static)
        sweep = self.query_one("#spread-sweep", Horizontal)
        if not found:
            summary.update(Content.styled("waiting for the first run…", "$foreground-muted"))
        if len(found) > 1 or self.temperatures:  # a sweep: one column per temperature
            summary.display, sweep.display = not found, True
            columns = list(sweep.query(Static))
            for index, item in enumerate(found):
                if index >= len(columns):
                    columns.append(Static(classes="sweep-column"))
                    sweep.mount(columns[-1])
                columns[index].update(spread_content([item], _SWEEP_PREVIEW))
            for extra in columns[len(found) :]:
                extra.remove()
        else:
            summary.display, sweep.display = True, False
            if found:
                summary.update(spread_content(found))
        done = [r for r in self.results if r.error is None]
        tokens = [float(r.output_tokens) for r in done if r.output_tokens is not None]
        show_histogram(self.query_one("#plot-tokens", PlotextPlot), tokens, "output tokens", "tok")
        show_histogram(
            self.query_one("#plot-duration", PlotextPlot),
            [r.duration_ms for r in done],
            "duration",
            "ms",
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("again", "more_runs", "toggle_sweep"):
            return None if self.running else True
        return True

    def action_cancel_or_back(self) -> None:
        if self.running and self._process is not None:
            self._process.cancel()
            self.notify("Cancelling: finished runs stay stored.", timeout=3)
        else:
            self.app.pop_screen()

    def action_again(self) -> None:
        self._start()

    def action_toggle_sweep(self) -> None:
        self.temperatures = () if self.temperatures else SWEEP
        what = ", ".join(f"{t:g}" for t in SWEEP) if self.temperatures else "the call's own"
        self.notify(f"Next replay: temperature {what} (p)", timeout=3)

    def action_more_runs(self) -> None:
        self.runs = RUN_CHOICES[(RUN_CHOICES.index(self.runs) + 1) % len(RUN_CHOICES)]
        self.notify(f"Next replay: {self.runs} runs (p)", timeout=3)
