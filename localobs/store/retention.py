"""Retention: keeping the database under a size cap and within a time window.

The oldest whole traces go first (a trace is never half deleted), with the logs and metric points
of the same age; traces a user kept (`kept_traces`) are never deleted. Each step is one small
transaction, so ingest waits at most one step, and the rollups, the text index and the forwarding
outbox are updated in the same transaction. Freed pages go back to the file system through
incremental vacuum (databases are created with `auto_vacuum = INCREMENTAL`), so the cap holds on
disk, not only in row counts.

The policy (`localobs up --max-db-size/--retention`) and what was pruned live in the database
(`retention_state`), so `info`, `/health` and the viewer read them like any other data, and
`localobs prune` in another terminal works on a live database through the same functions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import orjson

from localobs.store.batch import Signal
from localobs.store.contents import MESSAGE_COLUMNS, release, shared_ids_sql
from localobs.store.outbox import forget_pruned
from localobs.store.rollups import forget_traces
from localobs.store.summaries import forget_summaries

# The writer starts pruning above START of the cap and stops below STOP of it: the files stay
# under the cap while a burst arrives, and pruning does not run after every commit.
log = logging.getLogger(__name__)

START = 0.95
STOP = 0.85
# What one step looks at: its transaction stays within milliseconds (RetentionJob adapts the
# number of spans a step deletes to STEP_BUDGET_S). A single trace larger than that is still
# deleted whole, in one step.
MAX_SPANS_PER_STEP = 20_000
CANDIDATE_TRACES = 256
WINDOW_ROWS = 2000

_LOG_TIME = "coalesce(nullif(time_unix_nano, 0), observed_time_unix_nano)"
_TABLES: dict[Signal, str] = {"traces": "spans", "logs": "logs", "metrics": "metric_points"}
_COUNTERS = ("pruned_traces", "pruned_spans", "pruned_logs", "pruned_metric_points")
_KEPT = "trace_id NOT IN (SELECT trace_id FROM kept_traces)"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The caps `localobs up` runs with; 0 turns one off."""

    max_db_bytes: int
    retention_s: int


@dataclass(frozen=True, slots=True)
class PruneGoal:
    """What pruning must reach: nothing older than `older_than_unix_nano` and the files under
    `max_bytes` (None: no such goal)."""

    older_than_unix_nano: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Pruned:
    traces: int = 0
    spans: int = 0
    logs: int = 0
    metric_points: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(
            self.traces + other.traces,
            self.spans + other.spans,
            self.logs + other.logs,
            self.metric_points + other.metric_points,
        )

    @property
    def rows(self) -> int:
        return self.spans + self.logs + self.metric_points


@dataclass(frozen=True, slots=True)
class RetentionStatus:
    """Size, caps, the span of time stored (by arrival) and what retention deleted so far."""

    size_bytes: int
    max_db_bytes: int
    retention_s: int
    oldest_unix_nano: int | None
    newest_unix_nano: int | None
    pruned: Pruned
    last_pruned_unix_nano: int | None
    pruning_since_unix_nano: int | None
    kept_traces: int

    @property
    def pruning(self) -> bool:
        return self.pruning_since_unix_nano is not None


@dataclass(frozen=True, slots=True)
class KeptTrace:
    trace_id: str
    kept_unix_nano: int


class InvalidTraceId(ValueError):
    """Not 32 hex digits."""


def _file_bytes(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def files_size(db_path: Path | str) -> int:
    """The database, its WAL and its shared-memory file, as the disk holds them."""
    return sum(_file_bytes(f"{db_path}{suffix}") for suffix in ("", "-wal", "-shm"))


def wal_bytes(db_path: Path | str) -> int:
    """The WAL file's size (0 when there is none)."""
    return _file_bytes(f"{db_path}-wal")


def wal_limit(max_db_bytes: int) -> int:
    """The WAL's size after a checkpoint (`PRAGMA journal_size_limit`): a small part of a cap."""
    return min(64 << 20, max_db_bytes // 16) if max_db_bytes else 64 << 20


def _live_bytes(conn: sqlite3.Connection, db_path: Path | str, max_bytes: int) -> int:
    """The files' size once freed pages are given back and the WAL checkpointed (and truncated
    to `wal_limit`): what pruning compares with a cap. Counting the WAL as it is would make
    pruning chase the WAL its own deletions write."""
    pages, free, page_size = (
        conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("page_count", "freelist_count", "page_size")
    )
    wal = min(wal_bytes(db_path), wal_limit(max_bytes))
    return int((pages - free) * page_size + wal + _file_bytes(f"{db_path}-shm"))


def _state(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT name, value FROM retention_state"))


def set_policy(conn: sqlite3.Connection, policy: RetentionPolicy) -> None:
    """Record the caps `localobs up` runs with; the writer's retention job reads them."""
    conn.executemany(
        "INSERT OR REPLACE INTO retention_state (name, value) VALUES (?, ?)",
        [("max_db_bytes", policy.max_db_bytes), ("retention_s", policy.retention_s)],
    )


def read_policy(conn: sqlite3.Connection) -> RetentionPolicy:
    """The recorded policy; none recorded (a store no `localobs up` ran on): nothing pruned."""
    state = _state(conn)
    return RetentionPolicy(state.get("max_db_bytes", 0), state.get("retention_s", 0))


def goal_for(policy: RetentionPolicy, now_unix_nano: int, size_factor: float = 1.0) -> PruneGoal:
    return PruneGoal(
        now_unix_nano - policy.retention_s * 1_000_000_000 if policy.retention_s else None,
        int(policy.max_db_bytes * size_factor) if policy.max_db_bytes else None,
    )


class _Trace(NamedTuple):
    trace_id: str
    newest_end: int  # when its last span ended: logs and points up to then are as old
    last_rowid: int  # its span that arrived last
    spans: int


def _oldest_traces(conn: sqlite3.Connection) -> Iterator[_Trace]:
    """The unkept traces whose first span arrived first (up to CANDIDATE_TRACES), looked up as
    the caller asks for them."""
    seen: set[str] = set()
    first_spans = conn.execute(
        f"SELECT trace_id FROM spans WHERE {_KEPT} ORDER BY rowid LIMIT ?", (WINDOW_ROWS,)
    ).fetchall()
    for (trace_id,) in first_spans:
        if trace_id in seen:
            continue
        seen.add(trace_id)
        newest, last, spans = conn.execute(
            "SELECT max(end_time_unix_nano), max(rowid), count(*) FROM spans WHERE trace_id = ?",
            (trace_id,),
        ).fetchone()
        yield _Trace(trace_id, newest, last, spans)
        if len(seen) >= CANDIDATE_TRACES:
            return


def arrived_before(conn: sqlite3.Connection, signal: Signal, cutoff_unix_nano: int) -> int:
    """The last rowid of `signal`'s table that localobs received before the cutoff (0: none).

    Age is arrival: a row's own timestamps are the sender's word (an imported file, a wrong
    clock) and would delete data the moment it arrives, or never."""
    row = conn.execute(
        "SELECT last_rowid FROM ingest_batches INDEXED BY ingest_batches_by_arrival"
        " WHERE signal = ? AND received_unix_nano < ? AND last_rowid IS NOT NULL"
        " ORDER BY received_unix_nano DESC LIMIT 1",
        (signal, cutoff_unix_nano),
    ).fetchone()
    return int(row[0]) if row else 0


def _within(traces: Iterable[_Trace], max_spans: int) -> list[_Trace]:
    """The first traces holding at most `max_spans` spans together (at least one trace)."""
    chosen: list[_Trace] = []
    total = 0
    for trace in traces:
        total += trace.spans
        if chosen and total > max_spans:
            break
        chosen.append(trace)
    return chosen


def _delete_traces(conn: sqlite3.Connection, trace_ids: list[str]) -> int:
    forget_traces(conn, trace_ids)
    forget_summaries(conn, trace_ids)
    selected = orjson.dumps(trace_ids).decode()
    release(
        conn,
        (
            value
            for row in conn.execute(
                f"SELECT {', '.join(MESSAGE_COLUMNS)}, {shared_ids_sql()} FROM spans"
                " WHERE trace_id IN (SELECT value FROM json_each(?))",
                (selected,),
            )
            for value in row
        ),
    )
    deleted = conn.execute(
        "DELETE FROM spans WHERE trace_id IN (SELECT value FROM json_each(?))", (selected,)
    ).rowcount
    forget_pruned(conn, "traces", "spans")
    return int(deleted)


def _window(table: str) -> str:
    """The first-arrived rows a step looks at; logs of kept traces are left out."""
    kept = f"(trace_id IS NULL OR {_KEPT})" if table == "logs" else "1"
    return f"SELECT rowid FROM {table} WHERE {kept} ORDER BY rowid LIMIT {WINDOW_ROWS}"


def _delete_front(
    conn: sqlite3.Connection, signal: Signal, condition: str, params: tuple[int, ...]
) -> int:
    """Delete the first-arrived rows of `signal`'s table that meet `condition`."""
    table = _TABLES[signal]
    deleted = int(
        conn.execute(
            f"DELETE FROM {table} WHERE rowid IN ({_window(table)}) AND {condition}", params
        ).rowcount
    )
    if deleted:
        forget_pruned(conn, signal, table)
    return deleted


def _prune_rows(
    conn: sqlite3.Connection, goal: PruneGoal, over_size: bool, max_spans: int
) -> Pruned:
    """One step's deletions, inside the caller's transaction."""
    if over_size:
        chosen = _within(_oldest_traces(conn), max_spans)
        # Logs and points as old as the traces deleted; with no trace left to delete, the
        # oldest whatever their time (a cap must hold for an app that sends no traces too).
        upto = max((trace.newest_end for trace in chosen), default=None)
        logs_if, points_if = (
            (f"{_LOG_TIME} <= ?", "time_unix_nano <= ?") if upto is not None else ("1", "1")
        )
        logs_params = points_params = () if upto is None else (upto,)
    else:
        cutoff = goal.older_than_unix_nano or 0
        spans_before = arrived_before(conn, "traces", cutoff)
        chosen = _within(
            (trace for trace in _oldest_traces(conn) if trace.last_rowid <= spans_before),
            max_spans,
        )
        logs_if = points_if = "rowid <= ?"
        logs_params = (arrived_before(conn, "logs", cutoff),)
        points_params = (arrived_before(conn, "metrics", cutoff),)
        for signal in _TABLES:  # the retry digests of batches that old are done with too
            conn.execute(
                "DELETE FROM ingest_batches WHERE digest IN (SELECT digest FROM ingest_batches"
                f" WHERE signal = ? AND received_unix_nano < ? LIMIT {WINDOW_ROWS})",
                (signal, cutoff),
            )
    spans = _delete_traces(conn, [trace.trace_id for trace in chosen]) if chosen else 0
    logs = _delete_front(conn, "logs", logs_if, logs_params)
    points = _delete_front(conn, "metrics", points_if, points_params)
    return Pruned(len(chosen), spans, logs, points)


def _record(conn: sqlite3.Connection, pruned: Pruned, now_unix_nano: int) -> None:
    values = (pruned.traces, pruned.spans, pruned.logs, pruned.metric_points)
    conn.executemany(
        "INSERT INTO retention_state (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        list(zip(_COUNTERS, values, strict=True)),
    )
    conn.execute(
        "INSERT OR REPLACE INTO retention_state (name, value) VALUES ('last_pruned_unix_nano', ?)",
        (now_unix_nano,),
    )


def set_pruning(conn: sqlite3.Connection, since_unix_nano: int | None) -> None:
    """Mark pruning as under way since then (None: caught up), for the viewer and /health."""
    conn.execute(
        "INSERT OR REPLACE INTO retention_state (name, value) VALUES (?, ?)",
        ("pruning_since_unix_nano", since_unix_nano or 0),
    )


def _has_older(conn: sqlite3.Connection, cutoff: int) -> bool:
    """Whether the first-arrived unkept rows hold any that arrived before `cutoff` (the windows
    a step deletes from, so it is cheap)."""
    spans_before = arrived_before(conn, "traces", cutoff)
    if any(trace.last_rowid <= spans_before for trace in _oldest_traces(conn)):
        return True
    others: tuple[Signal, ...] = ("logs", "metrics")
    for signal in others:
        before = arrived_before(conn, signal, cutoff)
        table = _TABLES[signal]
        if conn.execute(
            f"SELECT 1 FROM {table} WHERE rowid IN ({_window(table)}) AND rowid <= ? LIMIT 1",
            (before,),
        ).fetchone():
            return True
    return False


def _over_size(conn: sqlite3.Connection, db_path: Path | str, goal: PruneGoal) -> bool:
    return (
        goal.max_bytes is not None and _live_bytes(conn, db_path, goal.max_bytes) > goal.max_bytes
    )


def over_goal(conn: sqlite3.Connection, db_path: Path | str, goal: PruneGoal) -> bool:
    """True when the files exceed the size goal, or unkept data older than the time goal is
    stored."""
    return _over_size(conn, db_path, goal) or (
        goal.older_than_unix_nano is not None and _has_older(conn, goal.older_than_unix_nano)
    )


def prune_step(
    conn: sqlite3.Connection,
    db_path: Path | str,
    goal: PruneGoal,
    now_unix_nano: int,
    *,
    max_spans: int = 1000,
    shrink_to: int | None = None,
) -> Pruned:
    """Delete one small batch towards `goal` in one transaction, then give free pages back to
    the file system: all of them, or (with `shrink_to`) those that keep the files over that
    size (the database and shared-memory files). Returns what was deleted (nothing: goal
    reached)."""
    free_before = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.execute("BEGIN IMMEDIATE")
    try:
        pruned = _prune_rows(conn, goal, _over_size(conn, db_path, goal), max_spans)
        if pruned.rows:
            _record(conn, pruned, now_unix_nano)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    # Free pages back, those this step freed and any left before (a step's size is bounded, so
    # this is too). The pragma frees one page per step of its statement, and `execute` steps a
    # statement without result columns once: executescript runs it to the end.
    pages = _pages_to_free(conn, db_path, shrink_to)
    if pages is not None:  # twice what this step freed at most: a step stays short
        freed = conn.execute("PRAGMA freelist_count").fetchone()[0] - free_before
        pages = min(pages, 2 * max(0, freed) + 64)
    if pages is None:
        conn.executescript("PRAGMA incremental_vacuum;")
    elif pages > 0:
        conn.executescript(f"PRAGMA incremental_vacuum({pages});")
    return pruned


def _pages_to_free(
    conn: sqlite3.Connection, db_path: Path | str, shrink_to: int | None
) -> int | None:
    """How many free pages to give back so the database and shared-memory files are at most
    `shrink_to` bytes (None: all). Under a steady load with a cap, pages freed by pruning are
    better left for new rows to fill while the file is under the cap: moving the file's last
    pages into them (what giving a page back does) wrote ~3 pages of WAL per page, and the next
    rows grew the file again. (The WAL is left out: counting it, the WAL a step wrote made the
    next step move more pages.)"""
    if shrink_to is None:
        return None
    pages, page_size = (
        conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size")
    )
    return max(0, int(pages) - (shrink_to - _file_bytes(f"{db_path}-shm")) // int(page_size))


def prune(
    conn: sqlite3.Connection,
    db_path: Path | str,
    goal: PruneGoal,
    *,
    clock: Callable[[], int] = time.time_ns,
) -> Pruned:
    """Prune until `goal` is reached, in small transactions: `localobs prune` may run beside a
    live writer, and each transaction holds the write lock for milliseconds only."""
    if goal.max_bytes is not None:
        conn.execute(f"PRAGMA journal_size_limit = {wal_limit(goal.max_bytes)}")
    total = Pruned()
    while over_goal(conn, db_path, goal):
        step = prune_step(conn, db_path, goal, clock())
        if not step.rows:
            break  # only kept traces are left
        total += step
    return total


class RetentionJob:
    """The writer's retention: an `IdleJob` (see idle_jobs.py).

    Every CHECK_S of idle time, and as often between commit groups under a load that never
    pauses, it compares the files with the size cap (the time window every AGE_CHECK_S); while
    over either, it prunes one step per BEHIND_S of idle time, or one step per OVERDUE_EVERY_S
    between commit groups, and after every commit group while the files are over the cap
    itself (ingest then cannot outrun pruning).
    Ingest never waits for more than one step: the number of spans a step deletes adapts so a
    step takes about STEP_BUDGET_S, and so the WAL it writes stays within `wal_limit` of the cap
    (deleting a span touches pages all over the indexes: on bench/ingest.py's load a step of a
    few thousand spans wrote 5-15 MiB of WAL at once, the files then twice a 16 MiB cap).
    """

    CHECK_S = 0.1
    # Data passes the retention window slowly; looking for it costs a few ms (4 % of the
    # writer's time under bench/ingest.py when done every CHECK_S).
    AGE_CHECK_S = 1.0
    CHECK_PRUNING_S = 0.2
    BEHIND_S = 0.005
    OVERDUE_EVERY_S = 0.1
    STEP_BUDGET_S = 0.02
    WAL_DECAY = 0.98

    def __init__(
        self,
        conn: sqlite3.Connection,
        db_path: Path | str,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._conn = conn
        self._path = db_path
        self._clock = clock
        self._wall = wall_clock
        self._since: int | None = None  # pruning under way since (wall clock)
        self._over_cap = False
        self._checked = float("-inf")
        self._age_checked = float("-inf")
        self._older = False  # unkept data older than the window, when last looked for
        self._stepped = float("-inf")
        self._spans = 16  # grows while steps are quick: a cold first step stays short
        self._wal_per_span = 0.0  # the most WAL bytes a deleted span was seen to write
        self._wal_high = 0  # the WAL's recent high-water mark
        self._failed = False
        self._policy = RetentionPolicy(0, 0)
        self._limit_wal()

    def _limit_wal(self) -> None:
        self._conn.execute(f"PRAGMA journal_size_limit = {wal_limit(self._policy.max_db_bytes)}")

    def idle_timeout(self) -> float | None:
        return self.BEHIND_S if self._since is not None else self.CHECK_S

    def overdue(self) -> bool:
        now = self._clock()
        if now - self._checked >= (self.CHECK_PRUNING_S if self._since else self.CHECK_S):
            self._check()
        return self._since is not None and (
            self._over_cap or now - self._stepped >= self.OVERDUE_EVERY_S
        )

    def _check(self) -> None:
        """Start pruning when over START of the cap (or past the window); stop below STOP."""
        self._checked = self._clock()
        try:
            policy = read_policy(self._conn)
            if policy != self._policy:
                self._policy = policy
                self._limit_wal()
            self._see_wal()
            policy = self._within_wal(policy)
            factor = STOP if self._since is not None else START
            goal = goal_for(policy, self._wall(), factor)
            if self._since is not None or self._checked - self._age_checked >= self.AGE_CHECK_S:
                self._age_checked = self._checked
                self._older = goal.older_than_unix_nano is not None and _has_older(
                    self._conn, goal.older_than_unix_nano
                )
            behind = self._older or _over_size(self._conn, self._path, goal)
            self._over_cap = behind and _over_size(
                self._conn, self._path, PruneGoal(max_bytes=policy.max_db_bytes or None)
            )
            if behind != (self._since is not None):
                self._since = self._wall() if behind else None
                set_pruning(self._conn, self._since)
        except sqlite3.Error as exc:
            self._report(exc)

    def step(self) -> bool:
        if self._since is None:
            self._check()
            if self._since is None:
                return False
        started = self._clock()
        wal_before = wal_bytes(self._path)
        try:
            pruned = prune_step(
                self._conn,
                self._path,
                goal_for(self._within_wal(self._policy), self._wall(), STOP),
                self._wall(),
                max_spans=self._spans,
                shrink_to=self._shrink_to(),
            )
        except sqlite3.Error as exc:
            self._report(exc)
            return False
        self._failed = False
        self._stepped = self._clock()
        took = self._stepped - started
        if took > self.STEP_BUDGET_S:
            self._spans = max(1, int(self._spans * self.STEP_BUDGET_S / took))
        elif took < self.STEP_BUDGET_S / 4:
            self._spans = min(MAX_SPANS_PER_STEP, self._spans * 2)
        self._bound_wal(pruned.spans, wal_bytes(self._path) - wal_before)
        self._see_wal()
        # The step's pages into the database now, not at the checkpoint thread's next tick: the
        # next commit then starts the WAL again from its beginning (and truncates it to
        # `wal_limit`), so the steps of a pruning run do not pile up in it.
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        if not pruned.rows:
            self._check()
        return self._since is not None

    def _shrink_to(self) -> int | None:
        """The database file's size a step gives pages back down to: the cap less the WAL's
        share of it (a time window alone gives every page back)."""
        cap = self._within_wal(self._policy).max_db_bytes
        return cap - wal_limit(self._policy.max_db_bytes) if cap else None

    def _see_wal(self) -> None:
        """Follow the WAL's recent high-water mark (it decays by a factor WAL_DECAY a look)."""
        self._wal_high = max(wal_bytes(self._path), int(self._wal_high * self.WAL_DECAY))

    def _within_wal(self, policy: RetentionPolicy) -> RetentionPolicy:
        """The policy with its cap lowered by what the WAL takes beyond its share: under a
        steady load the WAL holds what ingest wrote since the last checkpoint, which under a
        small cap is more than `wal_limit` (a quarter of the cap at most)."""
        cap = policy.max_db_bytes
        if not cap:
            return policy
        extra = min(cap // 4, max(0, self._wal_high - wal_limit(cap)))
        return RetentionPolicy(cap - extra, policy.retention_s)

    def _bound_wal(self, spans: int, grown: int) -> None:
        """Fewer spans a step where a step would write more WAL than the cap leaves it. The WAL
        file grows only past its longest extent, so a growth is a lower bound of what a step
        wrote: the highest rate seen is kept."""
        if spans and grown > 0:
            self._wal_per_span = max(self._wal_per_span, grown / spans)
        if self._wal_per_span and self._policy.max_db_bytes:
            most = wal_limit(self._policy.max_db_bytes) / self._wal_per_span
            self._spans = max(1, min(self._spans, int(most)))

    def _report(self, exc: sqlite3.Error) -> None:
        if not self._failed:
            log.warning("retention paused: %s", exc)
        self._failed = True


def retention_status(conn: sqlite3.Connection, db_path: Path | str) -> RetentionStatus:
    state = _state(conn)
    policy = read_policy(conn)
    times = [
        row[0]
        for row in conn.execute(
            "SELECT (SELECT start_time_unix_nano FROM spans ORDER BY rowid LIMIT 1)"
            " UNION ALL SELECT (SELECT start_time_unix_nano FROM spans ORDER BY rowid DESC LIMIT 1)"
            f" UNION ALL SELECT (SELECT {_LOG_TIME} FROM logs ORDER BY rowid LIMIT 1)"
            f" UNION ALL SELECT (SELECT {_LOG_TIME} FROM logs ORDER BY rowid DESC LIMIT 1)"
            " UNION ALL SELECT (SELECT time_unix_nano FROM metric_points ORDER BY rowid LIMIT 1)"
            " UNION ALL SELECT"
            " (SELECT time_unix_nano FROM metric_points ORDER BY rowid DESC LIMIT 1)"
        )
        if row[0]
    ]
    kept = conn.execute("SELECT count(*) FROM kept_traces").fetchone()[0]
    return RetentionStatus(
        size_bytes=files_size(db_path),
        max_db_bytes=policy.max_db_bytes,
        retention_s=policy.retention_s,
        oldest_unix_nano=min(times, default=None),
        newest_unix_nano=max(times, default=None),
        pruned=Pruned(*(state.get(name, 0) for name in _COUNTERS)),
        last_pruned_unix_nano=state.get("last_pruned_unix_nano") or None,
        pruning_since_unix_nano=state.get("pruning_since_unix_nano") or None,
        kept_traces=kept,
    )


def _trace_id(text: str) -> str:
    trace_id = text.strip().lower()
    if not _TRACE_ID.match(trace_id):
        raise InvalidTraceId(f"{text!r} is not a trace id (32 hex digits)")
    return trace_id


def toggle_kept(conn: sqlite3.Connection, trace_id: str, now_unix_nano: int) -> bool:
    """Keep the trace, or release it if it was kept (the viewer's key). True: kept now."""
    return keep_trace(conn, trace_id, now_unix_nano) or not unkeep_trace(conn, trace_id)


def pruning_since(conn: sqlite3.Connection) -> int | None:
    """When the writer started the pruning under way; None when it is not pruning."""
    row = conn.execute(
        "SELECT value FROM retention_state WHERE name = 'pruning_since_unix_nano'"
    ).fetchone()
    return row[0] if row and row[0] else None


def keep_trace(conn: sqlite3.Connection, trace_id: str, now_unix_nano: int) -> bool:
    """Exempt a trace from retention (it may arrive later). False when it was kept already."""
    return (
        conn.execute(
            "INSERT OR IGNORE INTO kept_traces (trace_id, kept_unix_nano) VALUES (?, ?)",
            (_trace_id(trace_id), now_unix_nano),
        ).rowcount
        > 0
    )


def unkeep_trace(conn: sqlite3.Connection, trace_id: str) -> bool:
    """Let retention delete the trace again. False when it was not kept."""
    return (
        conn.execute("DELETE FROM kept_traces WHERE trace_id = ?", (_trace_id(trace_id),)).rowcount
        > 0
    )


def kept_traces(conn: sqlite3.Connection) -> list[KeptTrace]:
    return [
        KeptTrace(*row)
        for row in conn.execute(
            "SELECT trace_id, kept_unix_nano FROM kept_traces ORDER BY kept_unix_nano, trace_id"
        )
    ]
