"""The home screen: live totals and every model call, newest first, following new arrivals.

Queries run on worker threads and come back as messages; the table only ever holds a window of
pages. New calls are fetched incrementally (`calls_after`) when the store reports a commit.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable

from localobs.store.calls import CallFilter, CallSummary, calls_after, list_calls
from localobs.store.changes import latest_call_id
from localobs.store.coding_agents import CodingAgentTotals, coding_agent_totals
from localobs.store.retention import pruning_since
from localobs.store.stats import Totals, totals
from localobs.tui import format as fmt
from localobs.tui.call_window import CallWindow, Cursor
from localobs.tui.context import ViewerContext
from localobs.tui.navigation import open_scope_of
from localobs.tui.refresh import RefreshGate, StoreChanged
from localobs.tui.search_syntax import parse_search
from localobs.tui.theme import Palette
from localobs.tui.widgets.calls_table import CallsTable
from localobs.tui.widgets.empty_state import EmptyState
from localobs.tui.widgets.keys_footer import KeysFooter
from localobs.tui.widgets.status_line import FollowState, StatusLine
from localobs.tui.widgets.totals_bar import TotalsBar

TOP_SIZE = 50  # rows kept while following: enough for a tall terminal, cheap to redraw
# Pages of 100 rows, at most 5 in the table: each page costs the UI thread ~30-60 ms (rows added,
# rows dropped above), fetched ahead of the cursor so that moving never waits for one.
PAGE_SIZE = 100
_NEW_CALLS_PER_QUERY = 500
_TOTALS_INTERVAL_S = 1.0
_COUNT_INTERVAL_S = 0.5


def window_label(window_s: float | None) -> str:
    if window_s is None:
        return "all"
    return f"{window_s / 3600:g}h" if window_s >= 3600 else f"{window_s / 60:g}m"


@dataclass
class TopLoaded(Message):
    calls: list[CallSummary]
    latest_call_id: int


@dataclass
class NewCalls(Message):
    calls: list[CallSummary]
    latest_call_id: int
    more: bool


@dataclass
class PageLoaded(Message):
    below: bool
    calls: list[CallSummary]


@dataclass
class TotalsLoaded(Message):
    totals: Totals
    took_s: float
    pruning: bool = False
    coding_agents: tuple[CodingAgentTotals, ...] = ()


@dataclass
class QueryFailed(Message):
    what: str
    error: str


# Actions on the selected call: shown dimmed while the list is empty.
_NEEDS_A_CALL = {"open_detail", "open_trace", "mark", "export", "open_run", "open_conversation"}


class CallsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_detail", "Detail", priority=True),
        Binding("t", "open_trace", "Trace"),
        Binding("slash", "search", "Search"),
        Binding("m", "mark", "Mark"),
        Binding("equals_sign", "compare", "Compare"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("e", "export", "Export"),
        Binding("r", "open_run", "Run", show=False),
        Binding("v", "open_conversation", "Conversation", show=False),
        Binding("home", "jump_to_newest", "Newest", show=False, priority=True),
        Binding("escape", "clear_search", "Clear search"),
    ]

    def __init__(self, ctx: ViewerContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.window = CallWindow(top_size=TOP_SIZE, page_size=PAGE_SIZE, max_rows=PAGE_SIZE * 5)
        self.search_text = ""
        self.filter = CallFilter()
        self.paused = False
        self.arrived = 0
        self.latest_call_id: int | None = None
        self.totals: Totals | None = None
        self.pruning = False  # retention is deleting the oldest data (shown on the status line)
        self._new_gate = RefreshGate()
        self._paging = False
        self._totals_gate = RefreshGate(min_interval_s=_TOTALS_INTERVAL_S, max_share=0.1)
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield TotalsBar(id="totals")
        yield StatusLine(id="status")
        yield CallsTable(tz=self.ctx.tz, id="calls")
        yield EmptyState(id="empty")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(TotalsBar).show(None, window_label(self.ctx.totals_window_s))
        self._show_status()
        self.query_one(EmptyState).display = False
        self.watch(self.app, "theme", lambda _: self._show_rows(), init=False)
        self.set_interval(_TOTALS_INTERVAL_S / 2, self._pump_totals)
        self._reload()
        self._reload_totals()

    # -- state -------------------------------------------------------------------------------

    @property
    def table(self) -> CallsTable:
        return self.query_one(CallsTable)

    @property
    def at_top(self) -> bool:
        table = self.table
        return table.cursor_row <= 0 and table.scroll_y <= 0 and not self.window.has_above

    @property
    def following(self) -> bool:
        return not self.paused and self.at_top

    def selected_call_id(self) -> int | None:
        return self.table.selected_call_id()

    def _reload(self) -> None:
        """Start over at the newest page (after a search, a resume, or a flood of arrivals)."""
        self._generation += 1
        self.arrived = 0
        self._load_top(self.filter, self._generation)

    def _reload_totals(self) -> None:
        """Totals for a new filter now, not at the next throttled refresh."""
        if self._totals_gate.request(skip_interval=True):
            self._load_totals(self.filter)

    def _show_rows(self, *, at_top: bool = False) -> None:
        table = self.table
        top = self.window.rows[0].call_id if at_top and self.window.rows else None
        table.show(
            self.window.rows,
            cursor_call_id=top if at_top else table.selected_call_id(),
            marked_call_id=self.ctx.marked_call_id,
            palette=Palette.of(self.app),
        )
        empty = not self.window.rows
        table.display = not empty
        self.query_one(EmptyState).display = empty
        if empty:
            self.query_one(EmptyState).show(
                self.ctx.endpoint_url, self.search_text, self.ctx.grpc_url
            )
        elif self.focused is None:
            table.focus()

    def _show_status(self) -> None:
        self.query_one(StatusLine).show(
            FollowState(
                paused=self.paused,
                at_top=self.at_top,
                arrived=self.arrived,
                search=self.search_text,
                endpoint_url=self.ctx.endpoint_url,
                pruning=self.pruning,
            )
        )

    # -- queries (worker threads) ------------------------------------------------------------

    @work(thread=True, exclusive=True, group="calls-top")
    def _load_top(self, flt: CallFilter, generation: int) -> None:
        try:
            with self.ctx.readers.connection() as conn:
                latest = latest_call_id(conn) or 0
                page = list_calls(conn, flt, limit=TOP_SIZE)
        except sqlite3.Error as exc:
            self.post_message(QueryFailed("calls", str(exc)))
            return
        if generation == self._generation:
            self.post_message(TopLoaded(page, latest))

    @work(thread=True, exclusive=True, group="calls-new")
    def _load_new(self, flt: CallFilter, after: int, following: bool) -> None:
        """Following: the newest page, if anything arrived. Otherwise: what arrived, to count it."""
        try:
            with self.ctx.readers.connection() as conn:
                latest = latest_call_id(conn) or 0
                if following:
                    calls = list_calls(conn, flt, limit=TOP_SIZE) if latest > after else []
                    more = False
                else:
                    calls = calls_after(conn, after, flt, limit=_NEW_CALLS_PER_QUERY)
                    more = len(calls) >= _NEW_CALLS_PER_QUERY
                    newest = calls[-1].call_id if calls else after
                    # Full: continue after the last one next time; else all up to `latest` seen.
                    latest = newest if more else max(latest, newest)
        except sqlite3.Error as exc:
            self.post_message(QueryFailed("new calls", str(exc)))
            return
        self.post_message(NewCalls(calls, max(latest, after), more))

    @work(thread=True, exclusive=True, group="calls-page")
    def _load_page(self, flt: CallFilter, before: Cursor, below: bool) -> None:
        limit = PAGE_SIZE if below else PAGE_SIZE * 2
        try:
            with self.ctx.readers.connection() as conn:
                page = list_calls(conn, flt, limit=limit, before=before)
        except sqlite3.Error as exc:
            self.post_message(QueryFailed("older calls", str(exc)))
            return
        self.post_message(PageLoaded(below, page))

    @work(thread=True, exclusive=True, group="calls-totals")
    def _load_totals(self, flt: CallFilter) -> None:
        started = time.perf_counter()
        try:
            with self.ctx.readers.connection() as conn:
                found = totals(conn, self.ctx.clock, self.ctx.totals_window_s, flt)
                agents = coding_agent_totals(conn, self.ctx.clock, self.ctx.totals_window_s)
                pruning = pruning_since(conn) is not None
        except sqlite3.Error as exc:
            self.post_message(QueryFailed("totals", str(exc)))
            return
        self.post_message(TotalsLoaded(found, time.perf_counter() - started, pruning, agents))

    # -- results (UI thread) -----------------------------------------------------------------

    def on_top_loaded(self, message: TopLoaded) -> None:
        self.window.reset(message.calls)
        self.latest_call_id = message.latest_call_id
        self._show_rows(at_top=True)
        self.table.scroll_home(animate=False)
        self._show_status()

    def on_new_calls(self, message: NewCalls) -> None:
        latest = self.latest_call_id
        if latest is not None and message.latest_call_id > latest:
            fresh = [call for call in message.calls if call.call_id > latest]
            self.latest_call_id = message.latest_call_id
            if not self.following:
                self.arrived += len(fresh)
                if message.more:
                    self._new_gate.request()  # count the rest of the backlog too
            elif self.window.add_newest(fresh):
                if self.table.display:
                    self.table.follow(self.window.rows)
                else:
                    self._show_rows(at_top=True)  # the first call: the empty state gives way
            self._show_status()
        if self._new_gate.finished():
            self._start_new()

    def on_page_loaded(self, message: PageLoaded) -> None:
        self._paging = False
        if message.below:
            added, dropped = self.window.add_below(message.calls)
            self.table.extend(added, dropped)
        else:
            self.window.add_above(message.calls)
            self._show_rows()
        self._show_status()

    def on_totals_loaded(self, message: TotalsLoaded) -> None:
        self.totals = message.totals
        self.pruning = message.pruning
        self._show_status()
        self.query_one(TotalsBar).show(
            message.totals, window_label(self.ctx.totals_window_s), message.coding_agents
        )
        if self._totals_gate.finished(message.took_s):
            self._load_totals(self.filter)

    def on_query_failed(self, message: QueryFailed) -> None:
        """Report it; the next change or key tries again (a reader rarely fails, e.g. disk full)."""
        if message.what == "new calls":
            self._new_gate.finished()
        elif message.what == "totals":
            self._totals_gate.finished()
        elif message.what == "older calls":
            self._paging = False
        error = fmt.name(message.error)
        self.notify(f"reading {message.what} failed: {error}", severity="error", markup=False)

    # -- live updates and paging -------------------------------------------------------------

    def on_store_changed(self, _: StoreChanged) -> None:
        if self._new_gate.request():
            self._start_new()
        if self._totals_gate.request():
            self._load_totals(self.filter)

    def _start_new(self) -> None:
        if self.latest_call_id is None:
            self._new_gate.finished()
            return
        following = self.following
        # Counting arrivals for the marker needs no more than two updates a second.
        self._new_gate.min_interval_s = 0.0 if following else _COUNT_INTERVAL_S
        self._load_new(self.filter, self.latest_call_id, following)

    def _pump_totals(self) -> None:
        if self._totals_gate.pump():
            self._load_totals(self.filter)

    @on(DataTable.RowHighlighted)
    @on(CallsTable.Scrolled)
    def _view_moved(self) -> None:
        table = self.table
        if self._paging:
            pass
        elif self.window.rows and table.near_bottom and (cursor := self.window.below_cursor()):
            self._paging = True
            self._load_page(self.filter, cursor, True)
        elif table.cursor_row == 0 and (cursor := self.window.above_cursor()):
            self._paging = True
            self._load_page(self.filter, cursor, False)
        elif self.following and self.arrived:
            self._reload()
        self._show_status()

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_search":
            return bool(self.search_text)
        if action in _NEEDS_A_CALL:
            return True if self.window.rows else None
        if action == "compare":
            return True if self.window.rows and self.ctx.marked_call_id is not None else None
        return True

    def action_open_detail(self) -> None:
        from localobs.tui.screens.call_detail import CallDetailScreen

        if (call_id := self.selected_call_id()) is not None:
            self.app.push_screen(CallDetailScreen(self.ctx, call_id))

    def action_open_run(self) -> None:
        if (call_id := self.selected_call_id()) is not None:
            open_scope_of(self, self.ctx, call_id, "run")

    def action_open_conversation(self) -> None:
        if (call_id := self.selected_call_id()) is not None:
            open_scope_of(self, self.ctx, call_id, "conversation")

    def action_open_trace(self) -> None:
        from localobs.tui.screens.trace import TraceScreen

        call_id = self.selected_call_id()
        call = next((c for c in self.window.rows if c.call_id == call_id), None)
        if call is not None:
            self.app.push_screen(TraceScreen(self.ctx, call.trace_id, focus_span_id=call.span_id))

    def action_search(self) -> None:
        from localobs.tui.screens.search import SearchScreen

        self.app.push_screen(SearchScreen(self.search_text, self.ctx.clock), self.apply_search)

    def apply_search(self, text: str | None) -> None:
        if text is None or text.strip() == self.search_text:
            return
        self.search_text = text.strip()
        self.filter = parse_search(self.search_text, self.ctx.clock)
        self._reload()
        self._reload_totals()
        self._show_status()

    def action_clear_search(self) -> None:
        self.apply_search("")

    def action_mark(self) -> None:
        call_id = self.selected_call_id()
        if call_id is None:
            return
        self.ctx.marked_call_id = None if self.ctx.marked_call_id == call_id else call_id
        self.table.set_marked(self.ctx.marked_call_id)
        self.refresh_bindings()
        if self.ctx.marked_call_id is not None:
            self.notify("Marked. Select another call and press = to compare.", timeout=3)

    def action_compare(self) -> None:
        from localobs.tui.screens.compare import CompareScreen

        call_id, marked = self.selected_call_id(), self.ctx.marked_call_id
        if call_id is None or marked is None:
            return
        if call_id == marked:
            self.notify("Select a different call than the marked one.", severity="warning")
            return
        self.app.push_screen(CompareScreen(self.ctx, marked, call_id))

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.at_top and self.arrived:
            self._reload()
        self._show_status()

    def action_jump_to_newest(self) -> None:
        self.paused = False
        self._reload()

    def action_export(self) -> None:
        from localobs.tui.screens.call_detail import start_export

        if (call_id := self.selected_call_id()) is not None:
            start_export(self, self.ctx, call_id)

    def on_screen_resume(self) -> None:
        if self.table.row_count:
            self.table.set_marked(self.ctx.marked_call_id)  # `m` may have been pressed in detail
        self.refresh_bindings()
        self.on_store_changed(StoreChanged())
