"""One call: the conversation as a transcript, then parameters, usage, timings and outcome."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from localobs.replay.availability import missing_model_hint
from localobs.replay.request import REPLAYABLE_OPERATIONS
from localobs.store.calls import CallDetail, get_call
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.conversation import conversation
from localobs.tui.export import export_call
from localobs.tui.widgets.transcript import Transcript


@dataclass
class ReplayRequested(Message):
    """`r`: replay this call N times and show the spread (the app opens the spread view)."""

    call_id: int


@dataclass
class DetailLoaded(Message):
    detail: CallDetail | None
    error: str | None = None


def _row(label: str, value: str) -> Content:
    return Content.assemble((f"{label:<18}", "$foreground-muted"), value)


def _value(value: object) -> str:
    if value is None or value == "" or value == []:
        return fmt.MISSING
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def facts_content(detail: CallDetail, ctx: ViewerContext) -> Content:
    """Parameters, usage, timings and outcome, as aligned label/value lines."""
    errored = detail.status_code == 2 or detail.error_type is not None
    lines = [
        Content.styled("Parameters", "b $text-accent"),
        _row("request model", _value(detail.request_model)),
        _row("response model", _value(detail.response_model)),
        _row("provider", _value(detail.provider)),
        _row("temperature", _value(detail.temperature)),
        _row("top_p", _value(detail.top_p)),
        _row("max tokens", _value(detail.max_tokens)),
        Content.styled("Usage", "b $text-accent"),
        _row("input tokens", _value(detail.input_tokens)),
        _row("output tokens", _value(detail.output_tokens)),
        Content.styled("Timings", "b $text-accent"),
        _row("start", fmt.timestamp(detail.start_time_unix_nano, ctx.tz)),
        _row("duration", fmt.duration(detail.duration_ms)),
        _row("time to first tok", fmt.duration(detail.ttft_ms)),
        _row("decode speed", f"{fmt.rate(detail.output_tokens_per_s)} tok/s"),
    ]
    for name, value in sorted(detail.extra_timings.items()):
        lines.append(_row(name.replace("_", " "), _value(value)))
    lines += [
        Content.styled("Outcome", "b $text-accent"),
        _row("finish reason", ", ".join(detail.finish_reasons) or fmt.MISSING),
        Content.assemble(
            (f"{'status':<18}", "$foreground-muted"),
            ("error", "b $text-error") if errored else "ok",
        ),
    ]
    if detail.error_type:
        lines.append(
            Content.assemble(
                (f"{'error':<18}", "$foreground-muted"), (detail.error_type, "$text-error")
            )
        )
    lines += [
        Content.styled("Identity", "b $text-accent"),
        _row("service", _value(detail.service_name)),
        _row("operation", _value(detail.operation)),
        _row("span", f"{detail.name} ({detail.span_id})"),
        _row("trace", detail.trace_id),
        _row("format", _value(detail.dialect)),
    ]
    return Content("\n").join(lines)


def raw_content(detail: CallDetail) -> Content:
    raw = {
        "attributes": detail.attributes,
        "events": detail.events,
        "resource": detail.resource_attributes,
    }
    return Content.assemble(
        ("Raw attributes", "b $text-accent"),
        "\n",
        Content(orjson.dumps(raw, option=orjson.OPT_INDENT_2, default=str).decode()),
    )


def start_export(
    screen: Screen[Any], ctx: ViewerContext, call_id: int, detail: CallDetail | None = None
) -> None:
    """Write the call (read first, on the worker, when not given) and say where it went."""

    def write() -> None:
        try:
            found = detail
            if found is None:
                with ctx.readers.connection() as conn:
                    found = get_call(conn, call_id)
            if found is None:
                raise LookupError(f"call {call_id} is not in the database")
            path = export_call(found, ctx.export_dir)
        except (OSError, LookupError, sqlite3.Error) as exc:
            screen.app.call_from_thread(screen.notify, f"Export failed: {exc}", severity="error")
            return
        screen.app.call_from_thread(screen.notify, f"Wrote {path}", title="Exported", timeout=8)

    screen.run_worker(write, thread=True, group="export")


class CallDetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "open_trace", "Trace"),
        Binding("a", "toggle_raw", "Raw attrs"),
        Binding("e", "export", "Export"),
        Binding("m", "mark", "Mark"),
        Binding("r", "replay", "Replay x10"),
    ]

    def __init__(self, ctx: ViewerContext, call_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.call_id = call_id
        self.detail: CallDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("loading call…", "$foreground-muted"), id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static(id="facts")
            yield Static(id="raw")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#raw").display = False
        self._load(self.call_id)

    @work(thread=True, exclusive=True)
    def _load(self, call_id: int) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                self.post_message(DetailLoaded(get_call(conn, call_id)))
        except sqlite3.Error as exc:
            self.post_message(DetailLoaded(None, str(exc)))

    async def on_detail_loaded(self, message: DetailLoaded) -> None:
        title = self.query_one("#detail-title", Static)
        detail = message.detail
        if detail is None:
            title.update(
                Content.styled(message.error or f"call {self.call_id} not found", "$text-error")
            )
            return
        self.detail = detail
        errored = detail.status_code == 2 or detail.error_type is not None
        title.update(
            Content.assemble(
                (detail.model or "unknown model", "b $text-accent"),
                f" · {detail.operation or '?'} · {detail.service_name or '?'} · ",
                fmt.timestamp(detail.start_time_unix_nano, self.ctx.tz),
                f" · {fmt.duration(detail.duration_ms)}",
                f" · {fmt.tokens_in_out(detail.input_tokens, detail.output_tokens)} tok",
                ("  ERROR" if errored else "", "b $text-error"),
            )
        )
        body = self.query_one("#detail-body", VerticalScroll)
        await body.mount(Transcript(conversation(detail), id="transcript"), before=0)
        self.query_one("#facts", Static).update(facts_content(detail, self.ctx))
        self.query_one("#raw", Static).update(raw_content(detail))
        body.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "replay":
            replayable = self.detail is not None and self.detail.operation in REPLAYABLE_OPERATIONS
            return True if replayable else None
        if action in {"open_trace", "toggle_raw", "export", "mark"}:
            return True if self.detail is not None else None
        return True

    def action_toggle_raw(self) -> None:
        raw = self.query_one("#raw", Static)
        raw.display = not raw.display
        if raw.display:
            self.query_one("#detail-body", VerticalScroll).scroll_to_widget(raw)

    def action_export(self) -> None:
        if self.detail is not None:
            start_export(self, self.ctx, self.call_id, self.detail)

    def action_open_trace(self) -> None:
        from localobs.tui.screens.trace import TraceScreen

        if self.detail is not None:
            self.app.push_screen(
                TraceScreen(self.ctx, self.detail.trace_id, focus_span_id=self.detail.span_id)
            )

    def action_replay(self) -> None:
        hint = missing_model_hint()
        if hint is not None:
            self.notify(
                hint, title="No model to replay on", severity="warning", timeout=12, markup=False
            )
        elif self.detail is not None:
            self.post_message(ReplayRequested(self.call_id))

    def action_mark(self) -> None:
        self.ctx.marked_call_id = None if self.ctx.marked_call_id == self.call_id else self.call_id
        state = "Marked" if self.ctx.marked_call_id else "Unmarked"
        self.notify(f"{state} this call (compare with = on the calls list).", timeout=3)
