"""The agents and conversations lists' summaries, kept by the writer.

Read from traces, a list of 100 runs or conversations costs hundreds of SQL calls and a lot of
Python; behind an ingest flood the viewer's worker waits for the GIL at every one. So the writer
keeps what the lists show (`run_summaries`, `conversation_turns`, `conversation_summaries`),
computed by the query layer's own functions (`run_summary`, `trace_turns`, `fold_turns`), and
the lists read ready rows.

A batch whose span rows belong to an agent run or a conversation (an agent span, a conversation
id, or a trace already summarized) names their traces in `summary_dirty`, in its own
transaction; so do derived rows filled or stretched in place and GenAI events joined to a stored
span. `SummaryJob` refreshes the named traces in the writer's idle time, a few milliseconds
after the commit. Until then the lists read those traces themselves, so they are never stale,
only slower while many traces wait (after an upgrade, say). Plain chat spans cost the writer a
few comparisons each and nothing more.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from localobs.store.agent_tree import load_traces
from localobs.store.agents import run_json, run_summary
from localobs.store.conversations import TurnFacts, fold_turns, summary_json, trace_turns
from localobs.store.schema import SPAN_COLUMNS

log = logging.getLogger(__name__)
_ROLE = SPAN_COLUMNS.index("span_role")
_CONVERSATION = SPAN_COLUMNS.index("conversation_id")
_MARK = "INSERT OR IGNORE INTO summary_dirty (trace_id) VALUES (?)"
_OF_TRACES = "trace_id IN (SELECT value FROM json_each(?))"
_TURNS_OF = (
    "SELECT facts FROM conversation_turns INDEXED BY conversation_turns_by_conversation"
    " WHERE conversation_id = ? ORDER BY start_time_unix_nano, turn_key"
)


class SummaryMarks:
    """The writer's side of ingest: which traces a batch's span rows change the summaries of.

    A span of a trace summarized before (a tool step exported after its run) is noticed by its
    trace id alone: the ids of the last MAX_KNOWN traces named are kept in memory (half of them
    once it is full; at start, the newest of the summary tables), so a plain chat span costs two
    comparisons and a set lookup (45 ns)."""

    MAX_KNOWN = 100_000

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._known: dict[str, None] = {}
        for table, key in (("run_summaries", "run_key"), ("conversation_turns", "turn_key")):
            newest = conn.execute(
                f"SELECT trace_id FROM {table} ORDER BY {key} DESC LIMIT ?", (self.MAX_KNOWN // 4,)
            )
            self._known.update(dict.fromkeys(t for (t,) in reversed(newest.fetchall())))

    def spans(self, conn: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
        """Span rows just inserted: name the traces they change."""
        known = self._known
        touched = {
            row[0]
            for row in rows
            if row[_CONVERSATION] is not None or row[_ROLE] == "agent" or row[0] in known
        }
        if touched:
            self.mark(conn, touched)

    def span_changed(
        self,
        conn: sqlite3.Connection,
        trace_id: str,
        span_role: str | None,
        conversation_id: str | None,
    ) -> None:
        """A stored span's columns were changed in place (its values now given)."""
        if conversation_id is not None or span_role == "agent" or trace_id in self._known:
            self.mark(conn, [trace_id])

    def mark(self, conn: sqlite3.Connection, trace_ids: Iterable[str]) -> None:
        """Name traces whose summaries must be refreshed, in the caller's transaction."""
        trace_ids = list(trace_ids)
        fresh = [trace_id for trace_id in trace_ids if trace_id not in self._known]
        conn.executemany(_MARK, [(trace_id,) for trace_id in trace_ids])
        self._known.update(dict.fromkeys(fresh))
        if len(self._known) > self.MAX_KNOWN:
            self._known = dict.fromkeys(list(self._known)[-self.MAX_KNOWN // 2 :])


def refresh(conn: sqlite3.Connection, trace_ids: list[str]) -> None:
    """Compute these traces' summaries again, and those of the conversations they hold, in the
    caller's transaction; their names leave `summary_dirty`."""
    ids = json.dumps(trace_ids)
    conversations = _conversations_of(conn, ids)
    conn.execute(f"DELETE FROM run_summaries WHERE {_OF_TRACES}", (ids,))
    conn.execute(f"DELETE FROM conversation_turns WHERE {_OF_TRACES}", (ids,))
    runs = []
    turns = []
    for trace in load_traces(conn, trace_ids).values():
        for row in trace.by_id.values():
            if row.span_role == "agent" and not trace.is_nested_run(row):
                runs.append((row.key, trace.trace_id, row.start, run_json(run_summary(trace, row))))
        for conversation_id, facts in trace_turns(trace):
            turns.append((facts.key, conversation_id, trace.trace_id, facts.start, facts.to_json()))
            conversations.add(conversation_id)
    # In key order: rows appended in order fill their pages (out of order, pages split half full).
    conn.executemany("INSERT INTO run_summaries VALUES (?, ?, ?, ?)", sorted(runs))
    conn.executemany("INSERT INTO conversation_turns VALUES (?, ?, ?, ?, ?)", sorted(turns))
    _fold(conn, conversations)
    conn.execute(f"DELETE FROM summary_dirty WHERE {_OF_TRACES}", (ids,))


def forget_summaries(conn: sqlite3.Connection, trace_ids: list[str]) -> None:
    """Take whole traces out of the summaries before retention deletes them, in the same
    transaction: their runs and turns go, their conversations are folded from the turns left."""
    ids = json.dumps(trace_ids)
    conversations = _conversations_of(conn, ids)
    for table in ("run_summaries", "conversation_turns", "summary_dirty"):
        conn.execute(f"DELETE FROM {table} WHERE {_OF_TRACES}", (ids,))
    _fold(conn, conversations)


def _conversations_of(conn: sqlite3.Connection, ids: str) -> set[str]:
    return {
        conversation_id
        for (conversation_id,) in conn.execute(
            "SELECT DISTINCT conversation_id FROM conversation_turns"
            f" INDEXED BY conversation_turns_by_trace WHERE {_OF_TRACES}",
            (ids,),
        )
    }


def _fold(conn: sqlite3.Connection, conversations: set[str]) -> None:
    """Each conversation's summary from its kept turns; one with none left has none."""
    for conversation_id in sorted(conversations):
        turns = [
            TurnFacts.from_json(text) for (text,) in conn.execute(_TURNS_OF, (conversation_id,))
        ]
        if not turns:
            conn.execute(
                "DELETE FROM conversation_summaries WHERE conversation_id = ?", (conversation_id,)
            )
            continue
        conn.execute(
            "INSERT OR REPLACE INTO conversation_summaries VALUES (?, ?, ?)",
            (
                conversation_id,
                max(turn.last_active for turn in turns),
                summary_json(fold_turns(conversation_id, turns)),
            ),
        )


def waiting(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM summary_dirty LIMIT 1").fetchone() is not None


def _refreshed(conn: sqlite3.Connection, trace_ids: list[str]) -> bool:
    """`refresh` in a savepoint; False (and nothing done) when the traces' rows made it fail.
    SQLite's own operational errors (a lock, a full disk) are raised: the step is retried."""
    conn.execute("SAVEPOINT summaries")
    try:
        refresh(conn, trace_ids)
    except sqlite3.OperationalError:
        raise
    except Exception:  # rows of untrusted input a summary cannot hold
        conn.execute("ROLLBACK TO summaries")
        return False
    finally:
        if conn.in_transaction:  # SQLite may have rolled it all back (a full disk)
            conn.execute("RELEASE summaries")
    return True


def summarize_step(conn: sqlite3.Connection, max_traces: int) -> bool:
    """Refresh up to `max_traces` named traces (in the order named) in one transaction on the
    writer's connection; True when more wait."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        trace_ids = [
            trace_id
            for (trace_id,) in conn.execute(
                "SELECT trace_id FROM summary_dirty ORDER BY rowid LIMIT ?", (max_traces,)
            )
        ]
        if not _refreshed(conn, trace_ids):
            for trace_id in trace_ids:  # one trace's rows fail: the others' summaries go on
                if not _refreshed(conn, [trace_id]):
                    forget_summaries(conn, [trace_id])
                    log.warning("agent run summaries: trace %s left out of the lists", trace_id)
        more = len(trace_ids) == max_traces and waiting(conn)
        conn.execute("COMMIT")
        return more
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def summarize_all(conn: sqlite3.Connection) -> None:
    """Refresh every named trace now (for tools and benchmarks; the writer uses `SummaryJob`)."""
    while summarize_step(conn, SummaryJob.MAX_TRACES):
        pass


class SummaryJob:
    """Refreshes named traces from the writer process (an `IdleJob`, see store/idle_jobs.py).

    Due IDLE_S after the last batch, so under a steady load it runs in the gaps between commits
    and the lists read ready rows a few milliseconds after each commit; when the writer never
    idles, it is overdue MAX_LAG_S after its last step and runs between commit groups.
    """

    IDLE_S = 0.005
    MAX_LAG_S = 0.25
    MAX_TRACES = 200  # per step: tens of milliseconds

    def __init__(
        self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._stepped = clock()

    def idle_timeout(self) -> float | None:
        return self.IDLE_S if waiting(self._conn) else None

    def overdue(self) -> bool:
        return self._clock() - self._stepped > self.MAX_LAG_S and waiting(self._conn)

    def step(self) -> bool:
        self._stepped = self._clock()
        return summarize_step(self._conn, self.MAX_TRACES)
