"""A whole trace as a waterfall, with the selected span's details below it.

Spans of a trace can still be arriving while it is shown, so the trace is re-read (at most about
once a second) when the store changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from localobs.store.traces import TraceSpan, TraceTree, get_trace
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.refresh import RefreshGate, StoreChanged
from localobs.tui.theme import Palette
from localobs.tui.widgets.keys_footer import KeysFooter
from localobs.tui.widgets.waterfall import Waterfall

_RELOAD_INTERVAL_S = 1.0


@dataclass
class TraceCompareRequested(Message):
    """`=`: compare run `trace_b` with the marked `trace_a` (the app opens the comparison)."""

    trace_a: str
    trace_b: str


@dataclass
class TraceLoaded(Message):
    tree: TraceTree | None
    error: str | None = None


def span_detail(span: TraceSpan) -> Content:
    status = Content.styled("error", "b $text-error") if span.is_error else Content("ok")
    lines = [
        Content.assemble(fmt.shown(span.name, "b"), "  (", fmt.shown(span.span_id), ")"),
        Content.assemble(
            "service ",
            fmt.shown(span.service_name or fmt.MISSING),
            f"   start +{fmt.duration(span.start_offset_ms)}",
            f"   duration {fmt.duration(span.duration_ms)}",
            f"   self {fmt.duration(span.self_time_ms)}",
            "   status ",
            status,
            ("   on the critical path" if span.on_critical_path else "", "$text-accent"),
        ),
    ]
    if span.call_id is not None:
        lines.append(
            Content.assemble(
                ("model call ", "$text-accent b"),
                fmt.shown(span.operation or "?"),
                " ",
                fmt.shown(span.model or "?"),
                " ",
                f"{fmt.tokens_in_out(span.input_tokens, span.output_tokens)} tokens",
                ("   enter opens the call", "$foreground-muted"),
            )
        )
    return Content("\n").join(lines)


class TraceScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_call", "Open call", priority=True),
        Binding("m", "mark_trace", "Mark run"),
        Binding("equals_sign", "compare_traces", "Compare runs"),
        Binding("k", "keep", "Keep"),
    ]

    def __init__(self, ctx: ViewerContext, trace_id: str, focus_span_id: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.trace_id = trace_id
        self.focus_span_id = focus_span_id
        self.trace: TraceTree | None = None
        self._gate = RefreshGate(min_interval_s=_RELOAD_INTERVAL_S)

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("loading trace…", "$foreground-muted"), id="trace-title")
        yield Waterfall(id="waterfall")
        yield Static(id="span-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._gate.request()
        self._load()
        self.set_interval(_RELOAD_INTERVAL_S, self._pump)

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                self.post_message(TraceLoaded(get_trace(conn, self.trace_id)))
        except sqlite3.Error as exc:
            self.post_message(TraceLoaded(None, str(exc)))

    def on_store_changed(self, _: StoreChanged) -> None:
        if self._gate.request():
            self._load()

    def _pump(self) -> None:
        if self._gate.pump():
            self._load()

    def on_trace_loaded(self, message: TraceLoaded) -> None:
        if self._gate.finished():
            self._load()
        title = self.query_one("#trace-title", Static)
        tree = message.tree
        if tree is None:
            title.update(
                fmt.shown(message.error or f"trace {self.trace_id} not found", "$text-error")
            )
            return
        self.trace = tree
        errors = sum(span.is_error for span in tree.spans)
        calls = sum(span.call_id is not None for span in tree.spans)
        title.update(
            Content.assemble(
                ("trace ", "$foreground-muted"),
                fmt.shown(tree.trace_id, "b"),
                f"  {len(tree.spans)} spans  {calls} model calls  {fmt.duration(tree.duration_ms)}",
                (f"  {errors} errors ✗" if errors else "", "b $text-error"),
                ("   ▶ critical path", "$text-accent"),
            )
        )
        waterfall = self.query_one(Waterfall)
        waterfall.show(tree, Palette.of(self.app), self.focus_span_id)
        self._show_selected()

    @on(DataTable.RowHighlighted)
    def _show_selected(self) -> None:
        span = self.selected_span()
        self.query_one("#span-detail", Static).update(span_detail(span) if span else "")
        self.refresh_bindings()

    def selected_span(self) -> TraceSpan | None:
        span_id = self.query_one(Waterfall).selected_span_id()
        if self.trace is None or span_id is None:
            return None
        return next((span for span in self.trace.spans if span.span_id == span_id), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_call":
            span = self.selected_span()
            return True if span is not None and span.call_id is not None else None
        if action == "compare_traces":
            marked = self.ctx.marked_trace_id
            return True if marked is not None and marked != self.trace_id else None
        return True

    def action_mark_trace(self) -> None:
        marked = None if self.ctx.marked_trace_id == self.trace_id else self.trace_id
        self.ctx.marked_trace_id = marked
        state = "Marked" if marked else "Unmarked"
        self.notify(f"{state} this run (open another trace and press = to compare).", timeout=4)
        self.refresh_bindings()

    def action_compare_traces(self) -> None:
        if self.ctx.marked_trace_id is not None and self.ctx.marked_trace_id != self.trace_id:
            self.post_message(TraceCompareRequested(self.ctx.marked_trace_id, self.trace_id))

    def action_keep(self) -> None:
        """Exempt this trace from retention (traces a presenter will show), or release it."""
        if self.ctx.toggle_kept is None:
            self.notify("this view is read-only: use `localobs keep TRACE_ID`", severity="warning")
            return
        self._toggle_kept(self.ctx.toggle_kept)

    @work(thread=True, group="trace-keep")
    def _toggle_kept(self, toggle: Callable[[str], bool]) -> None:
        try:
            kept = toggle(self.trace_id)
        except sqlite3.Error as exc:
            self.app.call_from_thread(self.notify, f"could not keep it: {exc}", severity="error")
            return
        note = (
            "kept: retention will not delete this trace (k again releases it)"
            if kept
            else "released: retention may delete this trace again"
        )
        self.app.call_from_thread(self.notify, note)

    def action_open_call(self) -> None:
        from localobs.tui.screens.call_detail import CallDetailScreen

        span = self.selected_span()
        if span is not None and span.call_id is not None:
            self.app.push_screen(CallDetailScreen(self.ctx, span.call_id))
