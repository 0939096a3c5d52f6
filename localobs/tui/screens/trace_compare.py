"""`=` on a trace: the marked run (A) and this one (B), step by step, then the message diff of
each pair of aligned model calls. Steps only in B are inserted (+), only in A missing (-).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from localobs.store.calls import CallDetail, get_call
from localobs.store.cost import usd_delta_text, usd_text
from localobs.store.trace_compare import (
    AlignedStep,
    TraceComparison,
    compare_traces,
    cost_change_text,
)
from localobs.store.traces import TraceSpan
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.conversation import message_diff
from localobs.tui.theme import Palette
from localobs.tui.widgets.keys_footer import KeysFooter

_MARKS = {"same": " ", "inserted": "+", "missing": "-"}
_COLUMNS = ("", "step", "A", "B", "Δ dur", "A tok", "B tok", "Δ tok", "A $", "B $", "Δ $")


@dataclass
class ComparisonLoaded(Message):
    comparison: TraceComparison | None
    calls: list[tuple[AlignedStep, CallDetail, CallDetail]]
    error: str | None = None


def _delta_ms(value: float | None) -> str:
    if value is None:
        return ""
    sign = "+" if value >= 0 else "-"
    return f"{sign}{fmt.duration(abs(value))}"


def _delta(value: int | None) -> str:
    return "" if value is None else f"{value:+d}"


def _tokens(span: TraceSpan | None) -> str:
    return "" if span is None else fmt.tokens_in_out(span.input_tokens, span.output_tokens)


def _cost(span: TraceSpan | None) -> str:
    return "" if span is None or span.call_id is None else usd_text(span.cost_usd)


def calls_diff(calls: list[tuple[AlignedStep, CallDetail, CallDetail]]) -> Content:
    lines: list[Content] = []
    for step, a, b in calls:
        lines.append(
            Content.assemble(
                fmt.shown(step.name, "b $text-accent"),
                f"  A call {a.call_id} · B call {b.call_id}  ",
                ("- only in A  ", "$text-error"),
                ("+ only in B", "$text-success"),
            )
        )
        lines.extend(message_diff(a, b))
        lines.append(Content(""))
    return Content("\n").join(lines)


class TraceCompareScreen(Screen[None]):
    def __init__(self, ctx: ViewerContext, trace_a: str, trace_b: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.traces = (trace_a, trace_b)

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("aligning both runs…", "$foreground-muted"), id="tc-title")
        with VerticalScroll(id="tc-body"):
            yield DataTable(id="tc-steps", cursor_type="row")
            yield Static(id="tc-diff")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                found = compare_traces(conn, *self.traces)
                calls = []
                for step in found.steps if found else ():
                    if step.a is None or step.b is None:
                        continue
                    if step.a.call_id is None or step.b.call_id is None:
                        continue
                    a, b = get_call(conn, step.a.call_id), get_call(conn, step.b.call_id)
                    if a is not None and b is not None:
                        calls.append((step, a, b))
        except sqlite3.Error as exc:
            self.post_message(ComparisonLoaded(None, [], str(exc)))
            return
        self.post_message(ComparisonLoaded(found, calls))

    def on_comparison_loaded(self, message: ComparisonLoaded) -> None:
        title = self.query_one("#tc-title", Static)
        found = message.comparison
        if found is None:
            title.update(Content.styled(message.error or "a trace was not found", "$text-error"))
            return
        counts = {kind: sum(s.kind == kind for s in found.steps) for kind in _MARKS}
        title.update(
            Content.assemble(
                ("Compare runs ", "b"),
                ("A", "b $text-accent"),
                f" {found.a.trace_id[:12]}… (marked) with ",
                ("B", "b $text-accent"),
                f" {found.b.trace_id[:12]}…  ·  {fmt.duration(found.a.duration_ms)} → "
                f"{fmt.duration(found.b.duration_ms)} ({_delta_ms(found.duration_delta_ms)})",
                f"  ·  {counts['same']} aligned, ",
                (f"{counts['inserted']} inserted", "$text-success"),
                ", ",
                (f"{counts['missing']} missing", "$text-error"),
                f"  ·  {cost_change_text(found)}",
            )
        )
        palette = Palette.of(self.app)
        table = self.query_one("#tc-steps", DataTable)
        table.clear(columns=True)
        for label in (
            "",
            "step",
            "A",
            "B",
            "Δ dur",
            "A tok",
            "B tok",
            "Δ tok",
            "A $",
            "B $",
            "Δ $",
        ):
            table.add_column(label)
        kind_style: dict[str, str | Style] = {
            "same": "",
            "inserted": palette.success,
            "missing": palette.error,
        }
        for step in found.steps:
            a, b = step.a, step.b
            style = kind_style[step.kind]
            table.add_row(
                Text(_MARKS[step.kind], style=style),
                Text("  " * step.depth, style=style) + fmt.cell(step.name, 60, style),
                fmt.duration(a.duration_ms) if a else "",
                fmt.duration(b.duration_ms) if b else "",
                _delta_ms(step.duration_delta_ms),
                _tokens(a),
                _tokens(b),
                _delta(step.tokens_delta),
                _cost(a),
                _cost(b),
                usd_delta_text(step.cost_delta_usd),
            )
        self.query_one("#tc-diff", Static).update(calls_diff(message.calls))
