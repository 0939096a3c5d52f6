"""`?`: every key, the search syntax, and how to send data here."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from localobs.tui import format as fmt
from localobs.tui.search_syntax import SYNTAX_HELP

KEYS = (
    ("Calls list", ""),
    ("enter", "the selected call: conversation, usage, timings"),
    ("t", "the selected call's trace as a waterfall"),
    ("c", "components: which span, which model is slow"),
    ("g  o", "agent runs; conversations (from every screen)"),
    ("r  v", "the selected call's agent run; its conversation"),
    ("/", "search the calls; escape clears the search"),
    ("m  =", "mark a call; compare the selected one with it"),
    ("p", "pause or resume following; home jumps to newest"),
    ("e", "write the selected call as JSON to a file"),
    ("Call detail", ""),
    ("a", "show or hide the raw attributes"),
    ("e  t  m", "export, trace, mark"),
    ("r  v", "its agent run; its conversation"),
    ("Agents (g) and conversations (o)", ""),
    ("enter", "a run as a tree of steps; a conversation's turns"),
    ("enter", "on a step or a call: open the model call"),
    ("v  r", "a run's conversation; a turn's run"),
    ("Trace", ""),
    ("enter", "open the selected model call"),
    ("Components", ""),
    ("w", "window: 5 min, 1 h, all data"),
    ("Everywhere", ""),
    ("escape", "back"),
    ("ctrl+p", "every action, searchable"),
    ("?  q", "this help; quit (stops the receiver)"),
)


def help_content(
    endpoint_url: str | None, log_path: Path | None = None, grpc_url: str | None = None
) -> Content:
    lines = [Content.styled("localobs: every LLM call, live", "b")]
    for key, text in KEYS:
        if not text:
            lines.append(Content.styled(f"\n{key}", "b $text-accent"))
        else:
            lines.append(Content.assemble((f"  {key:<9}", "b"), text))
    lines.append(Content.styled("\nSearch", "b $text-accent"))
    lines.append(Content(f"  {SYNTAX_HELP}"))
    if endpoint_url:
        lines.append(Content.styled("\nSending data here", "b $text-accent"))
        lines.append(fmt.shown(f"  export OTEL_EXPORTER_OTLP_ENDPOINT={endpoint_url}"))
        lines.append(Content("  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"))
        if grpc_url:
            grpc_line = f"  or, for a gRPC exporter: OTEL_EXPORTER_OTLP_ENDPOINT={grpc_url}"
            lines.append(fmt.shown(grpc_line))
    if log_path:
        lines.append(Content.styled("\nWarnings", "b $text-accent"))
        lines.append(fmt.shown(f"  the receiver's log lines go to {log_path} meanwhile"))
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(
        self, endpoint_url: str | None, log_path: Path | None = None, grpc_url: str | None = None
    ) -> None:
        super().__init__()
        self._endpoint_url = endpoint_url
        self._log_path = log_path
        self._grpc_url = grpc_url

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_content(self._endpoint_url, self._log_path, self._grpc_url))
        yield Footer(compact=True)
