"""The calls list: one row per model call, newest first, drawn from a CallWindow."""

from __future__ import annotations

from datetime import tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from localobs.store.calls import CallSummary
from localobs.tui import format as fmt
from localobs.tui.theme import Palette

# (label, key, shown in narrow terminals): below _WIDE columns, the preview keeps its room.
_COLUMNS = (
    (" time", "time", True),
    ("service", "service", True),
    ("agent", "agent", False),
    ("op", "operation", False),
    ("model", "model", True),
    ("status", "status", True),
    ("dur", "duration", True),
    ("ttft", "ttft", False),
    ("in→out", "tokens", True),
    ("tok/s", "rate", False),
    ("last user message", "preview", True),
)
_WIDE = 120
MARK = "●"


class _TimeCell(Text):
    """The time cell also carries its row's order (start, call id), which DataTable.sort reads."""

    sort_key: tuple[int, int] = (0, 0)


class CallsTable(DataTable[Text]):
    """Rows are rebuilt from the window on each change (a page at most), never the whole store."""

    # Rows, not columns, are what End moves through here; reaching the end loads the next page.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end", "scroll_bottom", "Last row", show=False)
    ]

    class Scrolled(Message):
        """The view moved: the screen decides about following and paging."""

    def __init__(self, *, tz: tzinfo | None = None, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._tz = tz
        self._wide: bool | None = None
        self._calls: list[CallSummary] = []
        self._marked: int | None = None
        self._palette: Palette | None = None
        self.call_ids: list[int] = []

    def on_mount(self) -> None:
        self._set_columns(self.app.size.width >= _WIDE)

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= _WIDE
        if wide != self._wide and self._palette is not None:
            self._set_columns(wide)
            self.show(
                self._calls,
                cursor_call_id=self.selected_call_id(),
                marked_call_id=self._marked,
                palette=self._palette,
            )

    def _set_columns(self, wide: bool) -> None:
        self._wide = wide
        self.clear(columns=True)
        for label, key, narrow in _COLUMNS:
            if wide or narrow:
                self.add_column(label, key=key)

    def show(
        self,
        calls: list[CallSummary],
        *,
        cursor_call_id: int | None,
        marked_call_id: int | None,
        palette: Palette,
    ) -> None:
        """Replace the rows, keeping the cursor on the same call when it is still shown."""
        self._calls, self._marked, self._palette = calls, marked_call_id, palette
        self.clear()
        self.call_ids = []
        self._add(calls)
        self._restore_cursor(cursor_call_id)

    def extend(self, calls: list[CallSummary], dropped: list[int]) -> None:
        """Add calls at the bottom and drop rows above: paging down redraws no other row."""
        cursor_call_id = self.selected_call_id()
        gone = set(dropped)
        for call_id in dropped:
            self.remove_row(str(call_id))
        self.call_ids = [call_id for call_id in self.call_ids if call_id not in gone]
        self._calls = [call for call in self._calls if call.call_id not in gone] + calls
        self._add(calls)
        self._restore_cursor(cursor_call_id)

    def follow(self, calls: list[CallSummary]) -> None:
        """Show the new top page, redrawing only the rows that changed (most, in a flood)."""
        new_ids = [call.call_id for call in calls]
        kept = set(new_ids) & set(self.call_ids)
        if len(kept) < len(new_ids) / 2:
            assert self._palette is not None
            self.show(
                calls, cursor_call_id=None, marked_call_id=self._marked, palette=self._palette
            )
            return
        for call_id in set(self.call_ids) - kept:
            self.remove_row(str(call_id))
        self._add([call for call in calls if call.call_id not in kept])
        self.sort("time", key=lambda cell: cell.sort_key, reverse=True)
        self.call_ids, self._calls = new_ids, calls
        self.move_cursor(row=0, animate=False)

    def _add(self, calls: list[CallSummary]) -> None:
        assert self._palette is not None
        for call in calls:
            cells = self._cells(call, call.call_id == self._marked, self._palette)
            self.add_row(*cells, key=str(call.call_id))
            self.call_ids.append(call.call_id)

    def set_marked(self, call_id: int | None) -> None:
        """Move the mark: two cells change, nothing is redrawn."""
        assert self._palette is not None
        previous, self._marked = self._marked, call_id
        by_id = {call.call_id: call for call in self._calls}
        for each in {previous, call_id} - {None}:
            if each in by_id:
                cells = self._cells(by_id[each], each == call_id, self._palette)
                self.update_cell(str(each), "time", cells[0])

    def _restore_cursor(self, call_id: int | None) -> None:
        if call_id is not None and call_id in self.call_ids:
            self.move_cursor(row=self.call_ids.index(call_id), animate=False)

    def selected_call_id(self) -> int | None:
        if not self.call_ids or not 0 <= self.cursor_row < len(self.call_ids):
            return None
        return self.call_ids[self.cursor_row]

    def _cells(self, call: CallSummary, marked: bool, palette: Palette) -> list[Text]:
        error = call.status_code == 2 or call.error_type is not None
        time = _TimeCell(MARK if marked else " ", style=palette.accent)
        time.sort_key = (call.start_time_unix_nano, call.call_id)
        time.append(fmt.clock_time(call.start_time_unix_nano, self._tz), style=palette.muted)
        preview = Text()
        if call.error_type:
            preview.append_text(fmt.cell(call.error_type, 40, palette.error))
            preview.append(" ", style=palette.error)
        if call.tool_calls:
            preview.append("→ ", style=palette.accent)
            preview.append_text(fmt.preview_cell(call.tool_calls, 60))
            preview.append("  ")
        preview.append_text(fmt.preview_cell(call.preview, 80))
        cells = {
            "time": time,
            "service": fmt.cell(call.service_name, 16 if self._wide else 10),
            "agent": fmt.cell(call.agent_name, 14, palette.muted),
            "operation": fmt.cell(call.operation, 8),
            "model": fmt.cell(call.model, 18 if self._wide else 14, Style(bold=True)),
            "status": Text("err", style=palette.error) if error else Text("ok", palette.success),
            "duration": Text(fmt.duration(call.duration_ms), justify="right"),
            "ttft": Text(fmt.duration(call.ttft_ms), justify="right"),
            "tokens": Text(
                fmt.tokens_in_out(
                    call.input_tokens,
                    call.output_tokens,
                    call.input_tokens_estimate,
                    call.output_tokens_estimate,
                ),
                justify="right",
            ),
            "rate": Text(
                fmt.speed(call.output_tokens_per_s, call.is_decode_speed), justify="right"
            ),
            "preview": preview,
        }
        return [cells[str(column.key.value)] for column in self.ordered_columns]

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.post_message(self.Scrolled())

    @property
    def near_bottom(self) -> bool:
        """Close enough to the last row to fetch the next page now, before the user gets there."""
        scrolled = 0 < self.scroll_y >= self.max_scroll_y - 40  # the wheel moves no cursor
        return scrolled or self.cursor_row >= self.row_count - 40
