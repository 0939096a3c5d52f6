"""`=`: two calls side by side (parameters, tokens, timings) and a diff of their messages.

This is how a user sees how differently the same prompt was answered twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from localobs.store.calls import CallDetail, get_call
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.conversation import message_diff
from localobs.tui.theme import Palette
from localobs.tui.widgets.keys_footer import KeysFooter

_FIELDS: tuple[tuple[str, Callable[[CallDetail], str]], ...] = (
    ("call", lambda d: str(d.call_id)),
    ("service", lambda d: fmt.name(d.service_name) or fmt.MISSING),
    ("model", lambda d: fmt.name(d.model) or fmt.MISSING),
    ("temperature", lambda d: fmt.MISSING if d.temperature is None else f"{d.temperature:g}"),
    ("top_p", lambda d: fmt.MISSING if d.top_p is None else f"{d.top_p:g}"),
    ("max tokens", lambda d: fmt.count(d.max_tokens)),
    ("input tokens", lambda d: fmt.count(d.input_tokens)),
    ("output tokens", lambda d: fmt.count(d.output_tokens)),
    ("duration", lambda d: fmt.duration(d.duration_ms)),
    ("ttft", lambda d: fmt.duration(d.ttft_ms)),
    ("tok/s", lambda d: fmt.speed(d.output_tokens_per_s, d.is_decode_speed)),
    ("finish", lambda d: fmt.name(", ".join(d.finish_reasons)) or fmt.MISSING),
    ("error", lambda d: fmt.name(d.error_type) or fmt.MISSING),
)


@dataclass
class PairLoaded(Message):
    first: CallDetail | None
    second: CallDetail | None
    error: str | None = None


def diff_content(first: CallDetail, second: CallDetail) -> Content:
    lines = [
        Content.assemble(
            ("Messages ", "b $text-accent"),
            ("- only in A  ", "$text-error"),
            ("+ only in B", "$text-success"),
        )
    ]
    return Content("\n").join([*lines, *message_diff(first, second)])


class CompareScreen(Screen[None]):
    def __init__(self, ctx: ViewerContext, first_call_id: int, second_call_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.call_ids = (first_call_id, second_call_id)

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("loading both calls…", "$foreground-muted"), id="compare-title")
        with VerticalScroll(id="compare-body"):
            yield DataTable(id="compare-fields", cursor_type="none", show_cursor=False)
            yield Static(id="compare-diff")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                first, second = (get_call(conn, call_id) for call_id in self.call_ids)
        except sqlite3.Error as exc:
            self.post_message(PairLoaded(None, None, str(exc)))
            return
        self.post_message(PairLoaded(first, second))

    def on_pair_loaded(self, message: PairLoaded) -> None:
        title = self.query_one("#compare-title", Static)
        first, second = message.first, message.second
        if first is None or second is None:
            title.update(fmt.shown(message.error or "a call was not found", "$text-error"))
            return
        title.update(
            Content.assemble(
                ("Compare ", "b"),
                ("A", "b $text-accent"),
                f" (marked, call {first.call_id}) with ",
                ("B", "b $text-accent"),
                f" (selected, call {second.call_id})",
            )
        )
        palette = Palette.of(self.app)
        table = self.query_one("#compare-fields", DataTable)
        table.add_column("", key="field")
        table.add_column("A", key="first")
        table.add_column("B", key="second")
        for label, value in _FIELDS:
            a, b = value(first), value(second)
            style = palette.warning if a != b else ""
            table.add_row(Text(label, style=palette.muted), Text(a, style), Text(b, style))
        self.query_one("#compare-diff", Static).update(diff_content(first, second))
