"""A trace as a waterfall: the span tree indented, each span's bar to scale on a shared timeline.

Spans on the critical path (the chain that decided the trace's duration) get a marker and the
accent colour, errors the error colour, model calls their model and tokens.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

from localobs.store.traces import TraceSpan, TraceTree
from localobs.tui import format as fmt
from localobs.tui.theme import Palette

_WIDE = 120
_MIN_BAR = 10


def timeline_bar(span: TraceSpan, trace_ms: float, width: int) -> str:
    """Spaces up to the span's start, then a block as long as its duration (at least one cell)."""
    if trace_ms <= 0:
        return "█".ljust(width)
    start = min(int(span.start_offset_ms / trace_ms * width), width - 1)
    length = max(round(span.duration_ms / trace_ms * width), 1)
    return (" " * start + "█" * min(length, width - start)).ljust(width)


def span_label(span: TraceSpan) -> str:
    """The span's name, with the model (unless the name says it) and tokens of a model call."""
    if span.call_id is None:
        return span.name
    tokens = fmt.tokens_in_out(span.input_tokens, span.output_tokens)
    if span.model and span.model in span.name:
        return f"{span.name} · {tokens}"
    return f"{span.name} · {span.model or '?'} {tokens}"


class Waterfall(DataTable[Text]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.span_ids: list[str] = []

    def show(self, tree: TraceTree, palette: Palette, focus_span_id: str | None = None) -> None:
        """Draw the tree; the timeline gets the width the other columns leave."""
        cursor_id = self.selected_span_id() or focus_span_id
        width = self.app.size.width
        wide = width >= _WIDE
        name_width = 44 if wide else 30
        bar_width = max(width - name_width - (16 if wide else 0) - 26, _MIN_BAR)
        self.clear(columns=True)
        self.add_column("span", key="span")
        if wide:
            self.add_column("service", key="service")
        self.add_column("dur", key="duration")
        self.add_column("self", key="self")
        self.add_column("timeline", key="timeline")
        self.span_ids = [span.span_id for span in tree.spans]
        for span in tree.spans:
            cells = self._cells(span, tree.duration_ms, name_width, bar_width, palette)
            if not wide:
                del cells[1]
            self.add_row(*cells, key=span.span_id)
        if cursor_id in self.span_ids:
            self.move_cursor(row=self.span_ids.index(cursor_id), animate=False)

    def selected_span_id(self) -> str | None:
        if not self.span_ids or not 0 <= self.cursor_row < len(self.span_ids):
            return None
        return self.span_ids[self.cursor_row]

    def _cells(
        self, span: TraceSpan, trace_ms: float, name_width: int, bar_width: int, palette: Palette
    ) -> list[Text]:
        marker = "✗ " if span.is_error else ("▶ " if span.on_critical_path else "  ")
        indent = "  " * span.depth
        name_style = palette.error if span.is_error else Style()
        if span.on_critical_path:
            name_style += Style(bold=True)
        label = Text(indent)
        label.append(marker, palette.error if span.is_error else palette.accent)
        room = max(name_width - len(indent) - len(marker), 8)
        label.append_text(fmt.cell(span_label(span), room, name_style))
        if span.is_error:
            bar_style = palette.error
        elif span.on_critical_path:
            bar_style = palette.accent
        else:
            bar_style = palette.muted
        return [
            label,
            fmt.cell(span.service_name, 16, palette.muted),
            Text(fmt.duration(span.duration_ms), justify="right"),
            Text(fmt.duration(span.self_time_ms), justify="right"),
            Text(timeline_bar(span, trace_ms, bar_width), style=bar_style),
        ]
