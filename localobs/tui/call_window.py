"""Which calls the calls table holds: a bounded window over the newest-first list.

While following, the window is one short top page (cheap to redraw ten times a second); as the
user scrolls down, pages are appended through keyset queries and pages far above the cursor are
dropped (remembering where they started, so scrolling back reloads them). Memory stays flat
however far the user scrolls through a million calls.
"""

from __future__ import annotations

from localobs.store.calls import CallSummary

Cursor = tuple[int, int]


def sort_key(call: CallSummary) -> Cursor:
    return (call.start_time_unix_nano, call.call_id)


class CallWindow:
    def __init__(self, *, top_size: int = 60, page_size: int = 200, max_rows: int = 600) -> None:
        self.top_size = top_size
        self.page_size = page_size
        self.max_rows = max_rows
        self.rows: list[CallSummary] = []
        self.more_below = False
        self._ids: set[int] = set()
        self._trimmed_above: list[CallSummary] = []

    @property
    def has_above(self) -> bool:
        return bool(self._trimmed_above)

    def reset(self, page: list[CallSummary]) -> None:
        """Show the newest calls (the top of the list); `page` holds up to `top_size`."""
        self._trimmed_above.clear()
        self._set_rows(sorted(page, key=sort_key, reverse=True)[: self.top_size])
        self.more_below = len(page) >= self.top_size

    def add_newest(self, calls: list[CallSummary]) -> int:
        """Merge calls that just arrived into the top page; returns how many were new."""
        fresh = list({c.call_id: c for c in calls if c.call_id not in self._ids}.values())
        if not fresh:
            return 0
        rows = sorted(self.rows + fresh, key=sort_key, reverse=True)
        if len(rows) > self.top_size:
            rows = rows[: self.top_size]
            self.more_below = True
        self._set_rows(rows)
        return len(fresh)

    def below_cursor(self) -> Cursor | None:
        """The keyset cursor of the page under the last row, or None at the end of the list."""
        if not self.more_below or not self.rows:
            return None
        return sort_key(self.rows[-1])

    def add_below(self, page: list[CallSummary]) -> tuple[list[CallSummary], list[int]]:
        """Append a page; returns the calls added at the bottom and the call ids dropped above."""
        self.more_below = len(page) >= self.page_size
        added = [call for call in page if call.call_id not in self._ids]
        rows = self.rows + added
        dropped: list[int] = []
        while len(rows) > self.max_rows:
            self._trimmed_above.append(rows[0])
            dropped += [call.call_id for call in rows[: self.page_size]]
            rows = rows[self.page_size :]
        self._set_rows(rows)
        return added, dropped

    def above_cursor(self) -> Cursor | None:
        """The keyset cursor that reloads the last page dropped above, or None at the top."""
        if not self._trimmed_above:
            return None
        first = self._trimmed_above[-1]
        return (first.start_time_unix_nano, first.call_id + 1)

    def add_above(self, page: list[CallSummary]) -> None:
        """Put back the page dropped above; `page` may run into the current rows."""
        self._trimmed_above.pop()
        top = sort_key(self.rows[0]) if self.rows else (-1, -1)
        above = [c for c in page if sort_key(c) > top and c.call_id not in self._ids]
        rows = sorted(above, key=sort_key, reverse=True) + self.rows
        if len(rows) > self.max_rows:
            rows = rows[: self.max_rows]
            self.more_below = True
        self._set_rows(rows)

    def _set_rows(self, rows: list[CallSummary]) -> None:
        self.rows = rows
        self._ids = {call.call_id for call in rows}
