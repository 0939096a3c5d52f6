"""Conversations: most recently active first; one conversation's turns in order, each with its
model calls and their context size, and for the selected call what changed since the call before
it (messages added and removed), not the whole prompt again."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from localobs.store.conversations import (
    ContextChange,
    Conversation,
    ConversationSummary,
    Turn,
    TurnCall,
    context_change,
    get_conversation,
    list_conversations,
)
from localobs.store.cost import partial_usd_text, total_cost_text
from localobs.store.messages import Message as ChatMessage
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.conversation import part_text
from localobs.tui.navigation import OpenCall, OpenConversation, OpenRun
from localobs.tui.reloading import ReloadingScreen
from localobs.tui.sent_text import block, one_line
from localobs.tui.theme import Palette
from localobs.tui.widgets.keys_footer import KeysFooter

_LIST_LIMIT = 100  # what bench/query.py times; on its 1 M spans 200 took ~1.5x as long to open
_MESSAGE_CHARS = 600


@dataclass
class ConversationsLoaded(Message):
    conversations: list[ConversationSummary] | None
    error: str | None = None


@dataclass
class ConversationLoaded(Message):
    conversation: Conversation | None
    error: str | None = None


@dataclass
class ChangeLoaded(Message):
    change: ContextChange | None


class ConversationsScreen(ReloadingScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_conversation", "Open", priority=True),
    ]

    def __init__(self, ctx: ViewerContext) -> None:
        super().__init__(ctx)
        self.conversations: list[ConversationSummary] = []
        self._palette: Palette | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Conversations · loading…"), id="conversations-title")
        yield DataTable(id="conversations", cursor_type="row")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#conversations", DataTable)
        for label in (
            "last seen", "conversation", "turns", "calls", "in→out tok", "cost", "first seen"
        ):  # fmt: skip
            table.add_column(label)

    def _show_loading(self) -> None:
        self.query_one("#conversations-title", Static).update(Text("Conversations · loading…"))

    def _query(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                found = list_conversations(conn, limit=_LIST_LIMIT)
            self.post_message(ConversationsLoaded(found))
        except sqlite3.Error as exc:
            self.post_message(ConversationsLoaded(None, str(exc)))

    def on_conversations_loaded(self, message: ConversationsLoaded) -> None:
        self._loaded()
        title = self.query_one("#conversations-title", Static)
        if message.conversations is None:
            title.update(Text(f"Conversations · reading failed: {message.error}", "bold red"))
            return
        palette = Palette.of(self.app)
        if (message.conversations, palette) != (self.conversations, self._palette):
            self._show_conversations(message.conversations, palette)
        count = len(self.conversations)
        hint = "  none yet: spans carry gen_ai.conversation.id or session.id" if not count else ""
        title.update(
            Text.assemble(
                ("Conversations", "bold"), f" · {count}, most recent first", (hint, "dim")
            )
        )
        self.refresh_bindings()

    def _show_conversations(
        self, conversations: list[ConversationSummary], palette: Palette
    ) -> None:
        """Rebuild the table: only when a read found something new (under a flood most reads
        find the same conversations, and each rebuild costs the event loop)."""
        table = self.query_one("#conversations", DataTable)
        row = table.cursor_row
        self.conversations, self._palette = conversations, palette
        table.clear()
        for summary in self.conversations:
            table.add_row(
                Text(fmt.clock_time(summary.last_seen, self.ctx.tz)),
                one_line(summary.conversation_id, 36, palette.accent),
                Text(str(summary.turns), justify="right"),
                Text(str(summary.model_calls), justify="right"),
                Text(
                    fmt.tokens_in_out(summary.input_tokens, summary.output_tokens), justify="right"
                ),
                Text(partial_usd_text(summary.cost_usd, summary.unpriced_calls), justify="right"),
                Text(fmt.clock_time(summary.first_seen, self.ctx.tz), style=palette.muted),
            )
        if 0 <= row < len(self.conversations):
            table.move_cursor(row=row)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.refresh_bindings()

    def selected(self) -> ConversationSummary | None:
        row = self.query_one("#conversations", DataTable).cursor_row
        return self.conversations[row] if 0 <= row < len(self.conversations) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_conversation":
            return True if self.selected() is not None else None
        return True

    def action_open_conversation(self) -> None:
        summary = self.selected()
        if summary is not None:
            self.post_message(OpenConversation(summary.conversation_id))


# Marks a turn or call whose history was compacted (gen_ai.conversation.compacted).
_COMPACTED = "⇣ compacted  "


def _message_text(message: ChatMessage) -> str:
    return "\n".join(part_text(part) for part in message.parts)


def change_text(change: ContextChange | None, call: TurnCall | None) -> Text:
    """The selected call's context: its size, and the messages added and removed since the
    previous call of its run or conversation."""
    if call is None:
        return Text("select a call to see what it added to the context", style="dim")
    head = Text.assemble(
        ("call ", "bold"),
        str(call.call_id),
        f"  context {fmt.count(call.input_tokens)} tokens  answer {fmt.count(call.output_tokens)}",
        ("   enter opens the call", "dim"),
    )
    if change is None:
        return Text.assemble(head, "\n", ("loading…", "dim"))
    removed = change.removed
    if change.previous_call_id is None:
        since = "the first call: everything it was sent is new"
    elif change.compacted:
        since = (
            f"since call {change.previous_call_id} (previous in this {change.scope}):"
            f" {len(change.added)} added, {change.kept} kept; history compacted:"
            f" {len(removed)} earlier messages replaced by a summary (not shown as removed)"
        )
        removed = ()
    else:
        since = (
            f"since call {change.previous_call_id} (previous in this {change.scope}):"
            f" {len(change.added)} added, {len(removed)} removed, {change.kept} kept"
        )
    lines = [head, Text(since, style="dim")]
    if change.compacted and change.previous_call_id is None:
        lines.append(Text("its history is a compacted view of the conversation", style="dim"))
    for sign, messages, style in (("+", change.added, "green"), ("-", removed, "red")):
        for message in messages:
            lines.append(
                Text.assemble(
                    (f"{sign} {message.role}: ", f"bold {style}"),
                    block(_message_text(message), _MESSAGE_CHARS),
                )
            )
    return Text("\n").join(lines)


class ConversationScreen(ReloadingScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open call / run", priority=True),
        Binding("r", "open_run", "Run"),
    ]

    def __init__(self, ctx: ViewerContext, conversation_id: str) -> None:
        super().__init__(ctx)
        self.conversation_id = conversation_id
        self.rows: list[tuple[Turn, TurnCall | None]] = []
        self._changes: dict[int, ContextChange] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text("conversation · loading…"), id="conversation-title")
        yield DataTable(id="turns", cursor_type="row")
        with VerticalScroll(id="change-box"):
            yield Static(id="context-change")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#turns", DataTable)
        for label in ("turn", "start", "step", "duration", "in→out tok", "question / context"):
            table.add_column(label)

    def _query(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                found = get_conversation(conn, self.conversation_id)
            self.post_message(ConversationLoaded(found))
        except sqlite3.Error as exc:
            self.post_message(ConversationLoaded(None, str(exc)))

    def on_conversation_loaded(self, message: ConversationLoaded) -> None:
        self._loaded()
        title = self.query_one("#conversation-title", Static)
        if message.conversation is None:
            text = message.error or f"conversation {self.conversation_id!r} not found"
            title.update(one_line(text, 200, "bold red"))
            return
        palette = Palette.of(self.app)
        summary = message.conversation.summary
        title.update(
            Text.assemble(
                ("conversation ", "dim"),
                one_line(summary.conversation_id, 60, "bold"),
                f"\n{summary.turns} turns  {summary.model_calls} model calls  ",
                f"{fmt.tokens_in_out(summary.input_tokens, summary.output_tokens)} tokens  ",
                "cost "
                + total_cost_text(summary.cost_usd, summary.unpriced_calls, summary.model_calls),
            )
        )
        table = self.query_one("#turns", DataTable)
        row = table.cursor_row
        table.clear()
        self.rows = []
        for turn in message.conversation.turns:
            self.rows.append((turn, None))
            table.add_row(
                Text(str(turn.number), style="bold"),
                Text(fmt.clock_time(turn.start_time_unix_nano, self.ctx.tz)),
                one_line(f"{turn.kind}: {turn.name}", 32, palette.accent),
                Text(fmt.duration(turn.duration_ms), justify="right"),
                Text(fmt.tokens_in_out(turn.input_tokens, turn.output_tokens), justify="right"),
                Text.assemble(
                    (_COMPACTED if turn.compacted else "", palette.muted),
                    one_line(turn.question, 60),
                ),
            )
            for call in turn.calls:
                self.rows.append((turn, call))
                table.add_row(
                    Text(""),
                    Text(""),
                    one_line(f"  call {call.call_id} {call.model or ''}", 32, palette.muted),
                    Text(fmt.duration(call.duration_ms), justify="right"),
                    Text(fmt.tokens_in_out(call.input_tokens, call.output_tokens), justify="right"),
                    Text(
                        f"context {fmt.count(call.input_tokens)}"
                        + (f" {_COMPACTED.strip()}" if call.compacted else "")
                        + (f"  ✗ {call.error}" if call.error else ""),
                        style=palette.error if call.error else palette.muted,
                    ),
                )
        if 0 <= row < len(self.rows):
            table.move_cursor(row=row)
        self._show_selected()

    def selected(self) -> tuple[Turn, TurnCall | None] | None:
        row = self.query_one("#turns", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    @on(DataTable.RowHighlighted, "#turns")
    def _show_selected(self) -> None:
        selected = self.selected()
        call = selected[1] if selected else None
        change = self._changes.get(call.call_id) if call else None
        self.query_one("#context-change", Static).update(change_text(change, call))
        if call is not None and change is None:
            self._load_change(call.call_id)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="change")
    def _load_change(self, call_id: int) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                self.post_message(ChangeLoaded(context_change(conn, call_id)))
        except sqlite3.Error:
            self.post_message(ChangeLoaded(None))

    def on_change_loaded(self, message: ChangeLoaded) -> None:
        if message.change is None:
            return
        self._changes[message.change.call_id] = message.change
        selected = self.selected()
        if selected and selected[1] and selected[1].call_id == message.change.call_id:
            self.query_one("#context-change", Static).update(
                change_text(message.change, selected[1])
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        selected = self.selected()
        if action == "open":
            return True if selected and (selected[1] or selected[0].run_id) else None
        if action == "open_run":
            return True if selected and selected[0].run_id else None
        return True

    def action_open(self) -> None:
        selected = self.selected()
        if selected is None:
            return
        turn, call = selected
        if call is not None:
            self.post_message(OpenCall(call.call_id))
        elif turn.run_id:
            self.post_message(OpenRun(turn.run_id))

    def action_open_run(self) -> None:
        selected = self.selected()
        if selected and selected[0].run_id:
            self.post_message(OpenRun(selected[0].run_id))
