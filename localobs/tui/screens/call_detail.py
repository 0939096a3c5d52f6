"""One call: the conversation as a transcript, then parameters, usage, timings and outcome."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from localobs.literal import json_text
from localobs.replay.availability import missing_model_hint
from localobs.replay.request import REPLAYABLE_OPERATIONS
from localobs.store.calls import TIMING_UNITS, CallDetail, get_call
from localobs.store.conversations import CallScope, ContextChange, call_scope, context_change
from localobs.store.cost import cost_text
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.conversation import conversation
from localobs.tui.export import export_call
from localobs.tui.navigation import OpenConversation, OpenRun
from localobs.tui.sent_text import one_line
from localobs.tui.widgets.keys_footer import KeysFooter
from localobs.tui.widgets.transcript import Transcript


@dataclass
class ReplayRequested(Message):
    """`p`: replay this call N times and show the spread (the app opens the spread view)."""

    call_id: int


@dataclass
class DetailLoaded(Message):
    detail: CallDetail | None
    error: str | None = None


_LABEL_WIDTH = 18


@dataclass
class ScopeLoaded(Message):
    scope: CallScope | None
    change: ContextChange | None = None


def scope_text(scope: CallScope, change: ContextChange | None = None) -> Text:
    """The agent run and the conversation the call belongs to, the keys that open them, and
    how its context changed since the previous call of either."""
    parts: list[Text | str | tuple[str, str]] = []
    if scope.run_id is not None:
        parts += [("agent run ", "dim"), one_line(scope.agent_name, 40, "bold")]
        parts += [f" ({scope.run_id})", ("  r opens it   ", "dim")]
    if scope.conversation_id is not None:
        parts += [("conversation ", "dim"), one_line(scope.conversation_id, 40, "bold")]
        parts += [("  v opens it", "dim")]
    if change is not None and change.previous_call_id is not None:
        parts.append(
            f"\nsince call {change.previous_call_id} (the previous in its {change.scope}):"
            f" {len(change.added)} messages added, {len(change.removed)} removed,"
            f" {change.kept} kept"
        )
    return Text.assemble(*parts)


def _row(label: str | Content, value: str | Content) -> Content:
    label = Content(label) if isinstance(label, str) else label
    return Content.assemble(label.pad_right(_LABEL_WIDTH - label.cell_length), value).stylize(
        "$foreground-muted", 0, max(label.cell_length, _LABEL_WIDTH)
    )


def _value(value: object) -> Content:
    if value is None or value == "" or value == []:
        return Content(fmt.MISSING)
    if isinstance(value, float):
        return Content(f"{value:g}")
    return fmt.shown(str(value))


def _tokens(reported: int | None, estimate: int | None, detail: CallDetail) -> Content:
    """A reported count as is; else "not reported", with the estimate and its method if any."""
    if reported is not None:
        return _value(reported)
    if estimate is None:
        return Content.styled("not reported", "$foreground-muted")
    return Content.assemble(
        ("not reported", "$foreground-muted"),
        f"  ~{estimate:,} estimated",
        _source(detail.token_estimate_method),
    )


def _tokens_in_out(detail: CallDetail) -> str:
    return fmt.tokens_in_out(
        detail.input_tokens, detail.output_tokens,
        detail.input_tokens_estimate, detail.output_tokens_estimate,
    )  # fmt: skip


def _source(text: str | None) -> Content:
    return Content.styled(f"  ({text})" if text else "", "$foreground-muted")


def usage_detail_rows(value: object, label: str) -> list[Content]:
    """A usage detail only where the call reports it: cache counts are part of the input
    tokens above them and reasoning part of the output tokens (the GenAI conventions' rule), so
    they are indented under them, not added."""
    return [] if value is None else [_row(label, _value(value))]


def speed_rows(detail: CallDetail) -> list[Content]:
    """TTFT and tokens per second, each saying where it came from; a figure over the whole
    duration is called throughput, never decode speed."""
    rate = (
        Content(fmt.MISSING)
        if detail.output_tokens_per_s is None
        else Content(f"{fmt.rate(detail.output_tokens_per_s)} tok/s")
    )
    return [
        _row(
            "time to first tok",
            Content.assemble(fmt.duration(detail.ttft_ms), _source(detail.ttft_source)),
        ),
        _row(
            "decode speed" if detail.is_decode_speed else "throughput",
            Content.assemble(rate, _source(detail.output_tokens_per_s_source)),
        ),
    ]


def timing_row(key: str, value: float) -> Content:
    """An extra timing attribute: its name in words, its value with its unit, then the key."""
    suffix, unit = next((each for each in TIMING_UNITS if key.endswith(each[0])), ("", ""))
    words = key.removesuffix(suffix).rsplit(".", 1)[-1].replace("_", " ")
    if unit == "ms":
        shown = fmt.duration(value)
    elif unit == "s/tok":
        shown = f"{fmt.duration(value * 1000)}/tok"
    else:
        shown = f"{fmt.rate(value)} {unit}"
    label = fmt.shown(words, width=_LABEL_WIDTH - 1)
    return _row(label, Content.assemble(shown, _source(fmt.name(key))))


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
        *usage_detail_rows(detail.reasoning_level, "reasoning level"),
        Content.styled("Usage", "b $text-accent"),
        _row("input tokens", _tokens(detail.input_tokens, detail.input_tokens_estimate, detail)),
        *usage_detail_rows(detail.cache_read_tokens, "  cache read"),
        *usage_detail_rows(detail.cache_write_tokens, "  cache write"),
        _row("output tokens", _tokens(detail.output_tokens, detail.output_tokens_estimate, detail)),
        *usage_detail_rows(detail.reasoning_tokens, "  reasoning"),
        _row("cost", cost_text(detail.cost_usd, detail.cost_source, detail.model)),
        Content.styled("Timings", "b $text-accent"),
        _row("start", fmt.timestamp(detail.start_time_unix_nano, ctx.tz)),
        _row("duration", fmt.duration(detail.duration_ms)),
        *speed_rows(detail),
    ]
    for key, value in sorted(detail.extra_timings.items()):
        lines.append(timing_row(key, value))
    lines += [
        Content.styled("Outcome", "b $text-accent"),
        _row("finish reason", fmt.shown(", ".join(detail.finish_reasons) or fmt.MISSING)),
        _row("status", Content.styled("error", "b $text-error") if errored else "ok"),
    ]
    if detail.error_type:
        lines.append(_row("error", fmt.shown(detail.error_type, "$text-error")))
    lines += evaluation_rows(detail)
    lines += [
        Content.styled("Identity", "b $text-accent"),
        _row("service", _value(detail.service_name)),
        _row("operation", _value(detail.operation)),
        _row("span", Content.assemble(fmt.shown(detail.name), f" ({fmt.name(detail.span_id)})")),
        _row("trace", fmt.shown(detail.trace_id)),
        _row("format", _value(detail.dialect)),
    ]
    return Content("\n").join(lines)


def evaluation_rows(detail: CallDetail) -> list[Content]:
    """Each evaluator's verdict on the call: its metric, score and label, then its explanation."""
    if not detail.evaluations:
        return []
    lines = [Content.styled("Evaluations", "b $text-accent")]
    for found in detail.evaluations:
        score = [] if found.score_value is None else [f"{found.score_value:g}"]
        verdict = "  ".join([*score, *([found.score_label] if found.score_label else [])])
        lines.append(
            _row(
                fmt.shown(found.name or "(unnamed)", width=_LABEL_WIDTH - 1),
                fmt.shown(verdict or fmt.MISSING),
            )
        )
        if found.explanation:
            lines.append(_row("", fmt.shown(found.explanation, "$foreground-muted", newlines=True)))
    return lines


def raw_content(detail: CallDetail) -> Content:
    """The span's attributes, events and resource as JSON, whose escaping keeps controls out."""
    raw = {
        "attributes": detail.attributes,
        "events": detail.events,
        "resource": detail.resource_attributes,
    }
    return Content.assemble(
        ("Raw attributes", "b $text-accent"),
        "\n",
        fmt.shown(json_text(raw, default=str), newlines=True),
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
            message = f"Export failed: {fmt.name(str(exc))}"
            screen.app.call_from_thread(screen.notify, message, severity="error", markup=False)
            return
        screen.app.call_from_thread(
            screen.notify, f"Wrote {fmt.name(str(path))}", title="Exported", timeout=8, markup=False
        )

    screen.run_worker(write, thread=True, group="export")


class CallDetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "open_trace", "Trace"),
        Binding("a", "toggle_raw", "Raw attrs"),
        Binding("e", "export", "Export"),
        Binding("m", "mark", "Mark"),
        Binding("r", "open_run", "Run"),
        Binding("v", "open_conversation", "Conversation"),
        Binding("p", "replay", "Replay"),
    ]

    def __init__(self, ctx: ViewerContext, call_id: int) -> None:
        super().__init__()
        self.ctx = ctx
        self.call_id = call_id
        self.detail: CallDetail | None = None
        self.scope: CallScope | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("loading call…", "$foreground-muted"), id="detail-title")
        yield Static(id="call-scope")
        with VerticalScroll(id="detail-body"):
            yield Static(id="facts")
            yield Static(id="raw")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#raw").display = False
        self.query_one("#call-scope").display = False
        self._load(self.call_id)
        self._load_scope(self.call_id)

    @work(thread=True, exclusive=True)
    def _load(self, call_id: int) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                self.post_message(DetailLoaded(get_call(conn, call_id)))
        except sqlite3.Error as exc:
            self.post_message(DetailLoaded(None, str(exc)))

    @work(thread=True, exclusive=True, group="scope")
    def _load_scope(self, call_id: int) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                scope = call_scope(conn, call_id)
                has_one = scope is not None and (scope.run_id or scope.conversation_id)
                change = context_change(conn, call_id) if has_one else None
                self.post_message(ScopeLoaded(scope, change))
        except sqlite3.Error:
            self.post_message(ScopeLoaded(None))

    def on_scope_loaded(self, message: ScopeLoaded) -> None:
        self.scope = scope = message.scope
        shown = self.query_one("#call-scope", Static)
        shown.display = scope is not None and (scope.run_id or scope.conversation_id) is not None
        if scope is not None and shown.display:
            shown.update(scope_text(scope, message.change))
        self.refresh_bindings()

    async def on_detail_loaded(self, message: DetailLoaded) -> None:
        title = self.query_one("#detail-title", Static)
        detail = message.detail
        if detail is None:
            title.update(
                fmt.shown(message.error or f"call {self.call_id} not found", "$text-error")
            )
            return
        self.detail = detail
        errored = detail.status_code == 2 or detail.error_type is not None
        title.update(
            Content.assemble(
                fmt.shown(detail.model or "unknown model", "b $text-accent"),
                " · ",
                fmt.shown(detail.operation or "?"),
                " · ",
                fmt.shown(detail.service_name or "?"),
                " · ",
                fmt.timestamp(detail.start_time_unix_nano, self.ctx.tz),
                f" · {fmt.duration(detail.duration_ms)}",
                f" · {_tokens_in_out(detail)} tok",
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
        if action == "open_run":
            return True if self.scope is not None and self.scope.run_id else None
        if action == "open_conversation":
            return True if self.scope is not None and self.scope.conversation_id else None
        return True

    def action_open_run(self) -> None:
        if self.scope is not None and self.scope.run_id:
            self.post_message(OpenRun(self.scope.run_id))

    def action_open_conversation(self) -> None:
        if self.scope is not None and self.scope.conversation_id:
            self.post_message(OpenConversation(self.scope.conversation_id))

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
