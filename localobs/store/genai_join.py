"""Joining GenAI log events to their call's span row, whichever of the two arrives first.

Runs in the writer process, on its connection, inside the transaction of the batch being applied:
a log event's patch (from `normalize_log_event`) is queued in `genai_pending`; as soon as the
span row with the same (trace_id, span_id) exists, all its queued patches are merged into that row
and deleted, in the same transaction. The keys still waiting are mirrored in memory, so a batch of
spans costs nothing extra while none wait, and one set lookup per span while some do.

Merge rule: what the span row already says wins; patches fill the columns it lacks. Messages and
finish reasons of several patches are concatenated in arrival order (choices by their `index`).
Keys whose span never comes (sampled-out traces) are bounded by MAX_PENDING_KEYS: the oldest are
given up, their log records stay in `logs`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from localobs.store.batch import fits_int64
from localobs.store.contents import MESSAGE_COLUMNS, ContentWriter, expand_sql, release
from localobs.store.rollups import call_changed
from localobs.store.schema import SPAN_COLUMNS
from localobs.store.summaries import SummaryMarks

MAX_PENDING_KEYS = 10_000

# Span columns a patch may fill: the GenAI tail of the row. The message lists and finish reasons
# are JSON text in the row; the dialect is decided by the merge.
_LISTS = ("input_messages", "output_messages", "system_instructions", "finish_reasons")
_SCALARS = tuple(
    column
    for column in SPAN_COLUMNS[SPAN_COLUMNS.index("span_role") :]
    if column not in _LISTS and column != "dialect"
)
_CONTENT = MESSAGE_COLUMNS
_COLUMNS = (*_SCALARS, *_LISTS, "dialect")
# The message columns read back as text (they are stored as references), and as stored.
_SELECT = (
    "SELECT rowid, "
    + ", ".join(f"{expand_sql(c)} AS {c}" if c in _CONTENT else c for c in _COLUMNS)
    + f", {', '.join(_CONTENT)} FROM spans WHERE trace_id = ? AND span_id = ?"
)
_UPDATE = f"UPDATE spans SET {', '.join(f'{c} = ?' for c in _COLUMNS)} WHERE rowid = ?"
_PATCHES = "SELECT patch FROM genai_pending WHERE trace_id = ? AND span_id = ? ORDER BY rowid"
_DELETE = "DELETE FROM genai_pending WHERE trace_id = ? AND span_id = ?"
_INSERT = "INSERT INTO genai_pending (trace_id, span_id, patch) VALUES (?, ?, ?)"

Key = tuple[str, str]


class GenAIJoin:
    """The writer's join state: which (trace_id, span_id) have patches waiting for their span."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        contents: ContentWriter | None = None,
        summaries: SummaryMarks | None = None,
    ) -> None:
        """`contents` and `summaries`: the writer's, so both share their caches."""
        self._summaries = summaries or SummaryMarks(conn)
        # span_id -> trace_ids waiting: a span row is checked with one dict lookup.
        self._waiting: dict[str, set[str]] = {}
        self._contents = contents or ContentWriter(conn)
        self.reload(conn)

    def reload(self, conn: sqlite3.Connection) -> None:
        """Rebuild the in-memory keys from the table: at start, and after a rollback."""
        self._waiting = {}
        for trace_id, span_id in conn.execute(
            "SELECT DISTINCT trace_id, span_id FROM genai_pending"
        ):
            self._waiting.setdefault(span_id, set()).add(trace_id)

    @property
    def waiting(self) -> int:
        return sum(len(trace_ids) for trace_ids in self._waiting.values())

    def logs_inserted(
        self, conn: sqlite3.Connection, patches: Sequence[tuple[str, str, str]]
    ) -> None:
        """Queue a logs batch's patches, (trace_id, span_id, patch); merge those whose span is
        already stored."""
        if not patches:
            return
        conn.executemany(_INSERT, patches)
        keys = {(trace_id, span_id) for trace_id, span_id, _ in patches}
        for trace_id, span_id in keys:
            self._waiting.setdefault(span_id, set()).add(trace_id)
        for key in keys:
            self._merge(conn, key)
        if len(self._waiting) > MAX_PENDING_KEYS:
            self._give_up_oldest(conn)

    def spans_inserted(self, conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
        """After a traces batch: merge the patches waiting for any of its spans.

        `rows` are the span rows as inserted (trace_id and span_id first).
        """
        waiting = self._waiting
        if not waiting:
            return
        for row in rows:
            trace_ids = waiting.get(row[1])
            if trace_ids is not None and row[0] in trace_ids:
                self._merge(conn, (row[0], row[1]))

    def _merge(self, conn: sqlite3.Connection, key: Key) -> None:
        current = conn.execute(_SELECT, key).fetchone()
        if current is None:
            return
        patches = [orjson.loads(text) for (text,) in conn.execute(_PATCHES, key)]
        patches = [patch for patch in patches if type(patch) is dict]
        before = dict(zip(_COLUMNS, current[1 : len(_COLUMNS) + 1], strict=True))
        values = merge(before, patches)
        stored = {c: self._contents.encode(values[c]) for c in _CONTENT}
        self._contents.flush()  # counted before the old values give theirs back
        if release(conn, current[len(_COLUMNS) + 1 :]):
            self._contents.forget()
        conn.execute(
            _UPDATE, (*(stored.get(column, values[column]) for column in _COLUMNS), current[0])
        )
        call_changed(conn, current[0], before)  # keeps rollups right if the call was folded
        conn.execute(_DELETE, key)
        trace_id, span_id = key
        self._summaries.span_changed(conn, trace_id, values["span_role"], values["conversation_id"])
        trace_ids = self._waiting.get(span_id)
        if trace_ids is not None:
            trace_ids.discard(trace_id)
            if not trace_ids:
                del self._waiting[span_id]

    def _give_up_oldest(self, conn: sqlite3.Connection) -> None:
        excess = self.waiting - MAX_PENDING_KEYS // 2
        oldest = conn.execute(
            "SELECT trace_id, span_id FROM genai_pending GROUP BY trace_id, span_id "
            "ORDER BY min(rowid) LIMIT ?",
            (excess,),
        ).fetchall()
        conn.executemany(_DELETE, oldest)
        self.reload(conn)


def _storable(value: Any) -> bool:
    """A value SQLite can bind: the receiver sends nothing else, but one that slipped through
    must cost only its column, never the batch (a bind error) or the writer (an overflow)."""
    kind = type(value)
    return kind is str or kind is float or (kind is int and fits_int64(value))


def _index(patch: dict[str, Any]) -> int:
    index = patch.get("index", 0)
    return index if type(index) is int else 0


def _list(patch: dict[str, Any], column: str) -> list[Any]:
    items = patch.get(column)
    return items if type(items) is list else []


def merge(current: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """The span's GenAI columns after applying `patches` (arrival order) to `current`."""
    merged = dict(current)
    for column in _SCALARS:
        if merged[column] is None:
            merged[column] = next((p[column] for p in patches if _storable(p.get(column))), None)
    ordered = sorted(patches, key=_index)
    filled_content = False
    for column in _LISTS:
        if merged[column] is not None:
            continue
        source = ordered if column in ("output_messages", "finish_reasons") else patches
        items = [item for patch in source for item in _list(patch, column)]
        if items:
            merged[column] = orjson.dumps(items).decode()
            filled_content = filled_content or column in _CONTENT
    if filled_content or merged["dialect"] is None:
        merged["dialect"] = "genai_events"
    return merged
