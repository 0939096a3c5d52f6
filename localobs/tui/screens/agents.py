"""Agents: the runs, newest first; one run as a tree of steps with per-tool figures and loops.

Runs keep arriving while the screen is shown, so both screens re-read (at most about once a
second) when the store changes; queries run on worker threads with pooled readers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Static

from localobs.store.agents import AgentRun, RunDetail, RunStep, get_run, list_runs
from localobs.store.cost import partial_usd_text, total_cost_text
from localobs.tui import format as fmt
from localobs.tui.context import ViewerContext
from localobs.tui.navigation import OpenCall, OpenConversation, OpenRun
from localobs.tui.reloading import ReloadingScreen
from localobs.tui.sent_text import block, one_line
from localobs.tui.theme import Palette
from localobs.tui.widgets.keys_footer import KeysFooter

_LIST_LIMIT = 100  # newest runs: what bench/query.py times (list_runs' default)
_TEXT = 400  # characters of an argument or result shown in the step detail


@dataclass
class RunsLoaded(Message):
    runs: list[AgentRun] | None
    error: str | None = None


@dataclass
class RunLoaded(Message):
    detail: RunDetail | None
    error: str | None = None


def run_name(run: AgentRun) -> str | None:
    """The run's agent, and the agents it ran (a workflow such as the Agents SDK's)."""
    if not run.sub_agents:
        return run.agent_name
    return f"{run.agent_name or '?'} → {', '.join(run.sub_agents)}"


def _errors(run: AgentRun) -> str:
    if run.error:
        return f"✗ {run.error}"
    return f"{run.errors} ✗" if run.errors else ""


class AgentsScreen(ReloadingScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_run", "Open run", priority=True),
        Binding("v", "open_conversation", "Conversation"),
    ]

    def __init__(self, ctx: ViewerContext) -> None:
        super().__init__(ctx)
        self.runs: list[AgentRun] = []
        self._palette: Palette | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Agents · loading…"), id="agents-title")
        yield DataTable(id="runs", cursor_type="row")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        for label, key in (
            ("start", "start"),
            ("agent", "agent"),
            ("conversation", "conversation"),
            ("calls", "calls"),
            ("tools", "tools"),
            ("in→out tok", "tokens"),
            ("cost", "cost"),
            ("duration", "duration"),
            ("errors", "errors"),
        ):
            table.add_column(label, key=key)

    def _show_loading(self) -> None:
        self.query_one("#agents-title", Static).update(Text("Agents · loading…"))

    def _query(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                self.post_message(RunsLoaded(list_runs(conn, limit=_LIST_LIMIT)))
        except sqlite3.Error as exc:
            self.post_message(RunsLoaded(None, str(exc)))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self._loaded()
        title = self.query_one("#agents-title", Static)
        if message.runs is None:
            title.update(Text(f"Agents · reading failed: {message.error}", style="bold red"))
            return
        palette = Palette.of(self.app)
        if (message.runs, palette) != (self.runs, self._palette):
            self._show_runs(message.runs, palette)
        runs = len(self.runs)
        empty = (
            "  no agent runs yet: spans with invoke_agent, AGENT or agent kinds" if not runs else ""
        )
        title.update(
            Text.assemble(("Agents", "bold"), f" · {runs} runs, newest first", (empty, "dim"))
        )
        self.refresh_bindings()

    def _show_runs(self, runs: list[AgentRun], palette: Palette) -> None:
        """Rebuild the table: only when a read found something new (under a flood most reads
        find the same runs, and 100 rows cost the event loop ~10 ms, more under a flood)."""
        table = self.query_one("#runs", DataTable)
        selected = self.selected_run()
        self.runs, self._palette = runs, palette
        table.clear()
        for run in self.runs:
            table.add_row(
                Text(fmt.clock_time(run.start_time_unix_nano, self.ctx.tz)),
                one_line(run_name(run), 28, palette.accent),
                one_line(run.conversation_id, 20, palette.muted),
                Text(str(run.model_calls), justify="right"),
                Text(str(run.tool_calls), justify="right"),
                Text(fmt.tokens_in_out(run.input_tokens, run.output_tokens), justify="right"),
                Text(partial_usd_text(run.cost_usd, run.unpriced_calls), justify="right"),
                Text(fmt.duration(run.duration_ms), justify="right"),
                Text(_errors(run), style=palette.error if run.errors else palette.muted),
                key=run.run_id,
            )
        if selected is not None and selected.run_id in {run.run_id for run in self.runs}:
            table.move_cursor(row=table.get_row_index(selected.run_id))

    def selected_run(self) -> AgentRun | None:
        table = self.query_one("#runs", DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        run = self.selected_run()
        if action == "open_run":
            return True if run is not None else None
        if action == "open_conversation":
            return True if run is not None and run.conversation_id else None
        return True

    def action_open_run(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.post_message(OpenRun(run.run_id))

    def action_open_conversation(self) -> None:
        run = self.selected_run()
        if run is not None and run.conversation_id:
            self.post_message(OpenConversation(run.conversation_id))


def step_label(step: RunStep) -> str:
    name = step.tool_name if step.kind == "tool" and step.tool_name else step.name
    if step.kind in ("agent", "sub-agent") and step.agent_name:
        name = step.agent_name
    return f"{step.kind}: {name}"


def step_detail(step: RunStep, detail: RunDetail) -> Text:
    """What the selected step did: a tool's arguments, result and outcome; a model call's tool
    calls and the tool results it was sent, each with the execution it belongs to."""
    names = {s.span_id: s for s in detail.steps}
    lines = [
        Text.assemble(
            (step.kind + " ", "bold"),
            one_line(step.tool_name or step.agent_name or step.name, 60),
            f"   {fmt.duration(step.duration_ms)}  self {fmt.duration(step.self_time_ms)}",
            (f"   ✗ {step.error}" if step.error else "", "bold red"),
        )
    ]
    if step.call_id is not None:
        lines.append(
            Text.assemble(
                f"{step.model or fmt.MISSING}  ",
                fmt.tokens_in_out(step.input_tokens, step.output_tokens),
                " tokens",
                ("   enter opens the call", "dim"),
            )
        )
    if step.arguments is not None or step.kind == "tool":
        lines.append(Text.assemble(("arguments ", "dim"), block(step.arguments, _TEXT)))
    if step.result is not None or step.kind == "tool":
        lines.append(Text.assemble(("result    ", "dim"), block(step.result, _TEXT)))
    if step.decision:
        lines.append(Text.assemble(("decision  ", "dim"), one_line(step.decision, 60)))
    for link in step.tool_calls:
        executed = names.get(link.step_span_id or "")
        lines.append(
            Text.assemble(
                ("→ tool call ", "dim"),
                one_line(link.name, 40),
                "(",
                one_line(link.text, 80),
                ")",
                (
                    f"  ran in {fmt.duration(executed.duration_ms)}" if executed else "",
                    "dim",
                ),
            )
        )
    for link in step.tool_responses:
        lines.append(
            Text.assemble(
                ("← tool result ", "dim"),
                one_line(link.text, 100),
                (f"  [{link.tool_call_id}]" if link.tool_call_id else "", "dim"),
            )
        )
    return Text("\n").join(lines)


class RunScreen(ReloadingScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_call", "Open call", priority=True),
        Binding("v", "open_conversation", "Conversation"),
    ]

    def __init__(self, ctx: ViewerContext, run_id: str) -> None:
        super().__init__(ctx)
        self.run_id = run_id
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("run · loading…"), id="run-title")
        yield DataTable(id="steps", cursor_type="row")
        yield Static(id="step-detail")
        yield DataTable(id="tool-stats", cursor_type="none")
        yield DataTable(id="transitions", cursor_type="none")
        yield KeysFooter()

    def on_mount(self) -> None:
        columns = {
            "#steps": ("step", "offset", "duration", "self", "in→out tok", "tools / result"),
            "#tool-stats": ("tool", "count", "p50", "p95", "errors"),
            "#transitions": ("from tool", "to tool", "count", ""),
        }
        for selector, labels in columns.items():
            table = self.query_one(selector, DataTable)
            for label in labels:
                table.add_column(label)

    def _query(self) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                self.post_message(RunLoaded(get_run(conn, self.run_id)))
        except sqlite3.Error as exc:
            self.post_message(RunLoaded(None, str(exc)))

    def on_run_loaded(self, message: RunLoaded) -> None:
        self._loaded()
        title = self.query_one("#run-title", Static)
        if message.detail is None:
            error = message.error or f"agent run {self.run_id} not found"
            title.update(Text(error, style="bold red"))
            return
        palette = Palette.of(self.app)
        self.detail = detail = message.detail
        run = detail.run
        title.update(
            Text.assemble(
                ("agent ", "dim"),
                one_line(run_name(run), 60, "bold"),
                f"  run {run.run_id}  ",
                ("conversation ", "dim"),
                one_line(run.conversation_id, 30),
                f"\n{run.model_calls} model calls  {run.tool_calls} tool calls  ",
                f"{fmt.tokens_in_out(run.input_tokens, run.output_tokens)} tokens  ",
                f"cost {total_cost_text(run.cost_usd, run.unpriced_calls, run.model_calls)}  ",
                fmt.duration(run.duration_ms),
                (f"  {run.errors} errors ✗" if run.errors else "", "bold red"),
            )
        )
        steps = self.query_one("#steps", DataTable)
        row = steps.cursor_row
        steps.clear()
        for step in detail.steps:
            summary = ""
            if step.tool_calls:
                summary = "→ " + ", ".join(link.name or "?" for link in step.tool_calls)
            elif step.result is not None:
                summary = step.result
            steps.add_row(
                one_line(
                    "  " * step.depth + step_label(step), 48, palette.error if step.error else ""
                ),
                Text(fmt.duration(step.start_offset_ms), justify="right"),
                Text(fmt.duration(step.duration_ms), justify="right"),
                Text(fmt.duration(step.self_time_ms), justify="right"),
                Text(
                    fmt.tokens_in_out(step.input_tokens, step.output_tokens)
                    if step.call_id is not None
                    else "",
                    justify="right",
                ),
                one_line(summary, 50, palette.muted),
            )
        if 0 <= row < len(detail.steps):
            steps.move_cursor(row=row)
        stats = self.query_one("#tool-stats", DataTable)
        stats.clear()
        for stat in detail.tools:
            stats.add_row(
                one_line(stat.tool_name, 40, palette.accent),
                Text(str(stat.count), justify="right"),
                Text(fmt.duration(stat.p50_ms), justify="right"),
                Text(fmt.duration(stat.p95_ms), justify="right"),
                Text(
                    fmt.percent(stat.error_rate),
                    justify="right",
                    style=palette.error if stat.errors else palette.muted,
                ),
            )
        transitions = self.query_one("#transitions", DataTable)
        transitions.clear()
        for transition in detail.transitions:
            style = palette.error if transition.is_loop else ""
            transitions.add_row(
                one_line(transition.from_tool, 40, style),
                one_line(transition.to_tool, 40, style),
                Text(str(transition.count), justify="right", style=style),
                Text("⟲ loop" if transition.is_loop else "", style=style),
            )
        self._show_selected()

    @on(DataTable.RowHighlighted, "#steps")
    def _show_selected(self) -> None:
        step = self.selected_step()
        shown = step_detail(step, self.detail) if step and self.detail else Text("")
        self.query_one("#step-detail", Static).update(shown)
        self.refresh_bindings()

    def selected_step(self) -> RunStep | None:
        if self.detail is None:
            return None
        row = self.query_one("#steps", DataTable).cursor_row
        return self.detail.steps[row] if 0 <= row < len(self.detail.steps) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_call":
            step = self.selected_step()
            return True if step is not None and step.call_id is not None else None
        if action == "open_conversation":
            run = self.detail.run if self.detail else None
            return True if run is not None and run.conversation_id else None
        return True

    def action_open_call(self) -> None:
        step = self.selected_step()
        if step is not None and step.call_id is not None:
            self.post_message(OpenCall(step.call_id))

    def action_open_conversation(self) -> None:
        if self.detail is not None and self.detail.run.conversation_id:
            self.post_message(OpenConversation(self.detail.run.conversation_id))
