"""`?`: every key, the search syntax, and how to send data here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from localobs.tui import format as fmt
from localobs.tui.search_syntax import SYNTAX_HELP
from localobs.tui.widgets.keys_footer import KeysFooter

# A screen's title and the bindings it has (the app collects them: no screen imports another).
KeySection = tuple[str, Sequence[BindingType]]


def _key_lines(sections: Sequence[KeySection]) -> list[Content]:
    """Every binding with a description, by screen: the list can never drift from the keys."""
    lines: list[Content] = []
    for title, bindings in sections:
        keys: dict[str, list[str]] = {}  # description -> keys, so aliases share a line
        for binding in bindings:
            if isinstance(binding, Binding) and binding.description:
                keys.setdefault(binding.description, []).append(format_key(binding.key))
        if keys:
            lines.append(Content.styled(f"\n{title}", "b $text-accent"))
            lines.extend(
                Content.assemble((f"  {'  '.join(shown):<9} ", "b"), description)
                for description, shown in keys.items()
            )
    return lines


def help_content(
    sections: Sequence[KeySection],
    endpoint_url: str | None,
    log_path: Path | None = None,
    grpc_url: str | None = None,
) -> Content:
    lines = [Content.styled("localobs: every LLM call, live", "b"), *_key_lines(sections)]
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
        self,
        sections: Sequence[KeySection],
        endpoint_url: str | None,
        log_path: Path | None = None,
        grpc_url: str | None = None,
    ) -> None:
        super().__init__()
        self._sections = sections
        self._endpoint_url = endpoint_url
        self._log_path = log_path
        self._grpc_url = grpc_url

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            content = help_content(
                self._sections, self._endpoint_url, self._log_path, self._grpc_url
            )
            yield Static(content)
        yield KeysFooter()
