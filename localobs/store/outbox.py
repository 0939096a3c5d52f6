"""The forwarding outbox: what the delivery workers read and record, and its state for viewers.

The writer process fills `outbox` (see ingest.py) in the same transaction as the batch's rows:
one entry per batch, naming the signal's table rows it inserted (`first_rowid`..`last_rowid`) and
the request's size.
Each upstream has a cursor, `forward_upstreams.delivered_id`: every outbox row up to it was
acknowledged by that upstream (or dropped). The cursor moves only after an acknowledgement, so
nothing acknowledged is sent twice after a clean restart. Rows every active upstream has passed are
deleted; when the rest exceeds the size limit the oldest go, counted per upstream as dropped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from localobs.store.batch import Signal

_ITEMS = "coalesce(sum(last_rowid - first_rowid + 1), 0)"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One committed batch waiting for an upstream: its rows of the signal's table."""

    id: int
    signal: Signal
    first_rowid: int
    last_rowid: int

    @property
    def items(self) -> int:
        return self.last_rowid - self.first_rowid + 1


@dataclass(frozen=True, slots=True)
class Dropped:
    """Outbox rows an upstream lost to the size limit (or refused as invalid) in one go."""

    upstream: str
    batches: int
    items: int
    total_batches: int


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """Forwarding state of one configured upstream, for /health, `localobs info` and the TUI."""

    upstream: str
    delivered_batches: int
    delivered_items: int
    pending_batches: int
    pending_items: int
    pending_bytes: int
    dropped_batches: int
    dropped_items: int
    last_error: str | None
    last_error_unix_nano: int | None
    last_delivery_unix_nano: int | None

    @property
    def failing(self) -> bool:
        """The latest attempt failed (an error newer than the last delivery)."""
        return self.last_error_unix_nano is not None and (
            self.last_delivery_unix_nano is None
            or self.last_error_unix_nano > self.last_delivery_unix_nano
        )


def register_upstreams(conn: sqlite3.Connection, upstreams: Sequence[str]) -> None:
    """Mark exactly `upstreams` active. A new one starts after what the outbox holds now, so it
    gets what is committed from now on; a known one resumes at its cursor."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE forward_upstreams SET active = 0")
        newest = conn.execute(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)"
        ).fetchone()[0]
        conn.executemany(
            "INSERT INTO forward_upstreams (upstream, active, delivered_id) VALUES (?, 1, ?)"
            " ON CONFLICT (upstream) DO UPDATE SET active = 1",
            [(upstream, newest) for upstream in upstreams],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def next_entries(conn: sqlite3.Connection, upstream: str, limit: int) -> list[OutboxEntry]:
    """The oldest rows `upstream` has not acknowledged yet, in commit order."""
    rows = conn.execute(
        "SELECT id, signal, first_rowid, last_rowid FROM outbox WHERE id >"
        " (SELECT delivered_id FROM forward_upstreams WHERE upstream = ?) ORDER BY id LIMIT ?",
        (upstream, limit),
    )
    return [OutboxEntry(*row) for row in rows]


def record_delivery(
    conn: sqlite3.Connection,
    upstream: str,
    entry: OutboxEntry,
    now_unix_nano: int,
    note: str | None = None,
) -> None:
    """`upstream` acknowledged `entry`: move its cursor past it (unless the limit already did).

    `note` is the upstream's partial-success message: kept as the last error, but not newer
    than the delivery, so the upstream does not count as failing.
    """
    conn.execute(
        "UPDATE forward_upstreams SET delivered_id = ?, delivered_batches = delivered_batches + 1,"
        " delivered_items = delivered_items + ?, last_delivery_unix_nano = ?,"
        " last_error = coalesce(?, last_error),"
        " last_error_unix_nano = CASE WHEN ? IS NULL THEN last_error_unix_nano ELSE ? END"
        " WHERE upstream = ? AND delivered_id < ?",
        (entry.id, entry.items, now_unix_nano, note, note, now_unix_nano, upstream, entry.id),
    )


def record_failure(
    conn: sqlite3.Connection, upstream: str, message: str, now_unix_nano: int
) -> None:
    conn.execute(
        "UPDATE forward_upstreams SET last_error = ?, last_error_unix_nano = ? WHERE upstream = ?",
        (message, now_unix_nano, upstream),
    )


def record_refusal(
    conn: sqlite3.Connection, upstream: str, entry: OutboxEntry, message: str, now_unix_nano: int
) -> Dropped:
    """`upstream` refused `entry` for good (invalid data): skip it, counted as dropped."""
    conn.execute(
        "UPDATE forward_upstreams SET delivered_id = ?, dropped_batches = dropped_batches + 1,"
        " dropped_items = dropped_items + ?, last_error = ?, last_error_unix_nano = ?"
        " WHERE upstream = ? AND delivered_id < ?",
        (entry.id, entry.items, message, now_unix_nano, upstream, entry.id),
    )
    total = conn.execute(
        "SELECT dropped_batches FROM forward_upstreams WHERE upstream = ?", (upstream,)
    ).fetchone()[0]
    return Dropped(upstream, 1, entry.items, total)


_FLOOR = "SELECT min(delivered_id) FROM forward_upstreams WHERE active"
_CUT = (
    "SELECT id FROM (SELECT id, sum(bytes) OVER (ORDER BY id DESC) AS kept FROM outbox)"
    " WHERE kept > ? ORDER BY id DESC LIMIT 1"
)


def enforce_limit(conn: sqlite3.Connection, max_bytes: int) -> list[Dropped]:
    """Delete rows every active upstream has passed, then the oldest beyond `max_bytes`.

    Returns, per upstream that lost undelivered rows to the limit, how many. Takes the write lock
    only when there is something to delete, so a quiet outbox never delays the writer.
    """
    floor = conn.execute(_FLOOR).fetchone()[0]
    passed = (
        floor is not None
        and conn.execute("SELECT 1 FROM outbox WHERE id <= ? LIMIT 1", (floor,)).fetchone()
    )
    if not passed and conn.execute(_CUT, (max_bytes,)).fetchone() is None:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        floor = conn.execute(_FLOOR).fetchone()[0]
        if floor is not None:
            conn.execute("DELETE FROM outbox WHERE id <= ?", (floor,))
        cut = conn.execute(_CUT, (max_bytes,)).fetchone()
        dropped = [] if cut is None else _drop_through(conn, cut[0])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return dropped


def _drop_through(conn: sqlite3.Connection, cut: int) -> list[Dropped]:
    dropped = []
    behind = conn.execute(
        "SELECT upstream, delivered_id, dropped_batches FROM forward_upstreams"
        " WHERE active AND delivered_id < ?",
        (cut,),
    ).fetchall()
    for upstream, delivered_id, total in behind:
        batches, items = conn.execute(
            f"SELECT count(*), {_ITEMS} FROM outbox WHERE id > ? AND id <= ?",
            (delivered_id, cut),
        ).fetchone()
        conn.execute(
            "UPDATE forward_upstreams SET delivered_id = ?, dropped_batches = dropped_batches + ?,"
            " dropped_items = dropped_items + ? WHERE upstream = ?",
            (cut, batches, items, upstream),
        )
        if batches:
            dropped.append(Dropped(upstream, batches, items, total + batches))
    conn.execute("DELETE FROM outbox WHERE id <= ?", (cut,))
    return dropped


def forwarding_status(conn: sqlite3.Connection) -> list[UpstreamStatus]:
    """Each active upstream's counters and what waits for it; [] when forwarding is off.

    Cheap enough for a once-a-second refresh: outbox entries are a few numbers each.
    """
    rows = conn.execute(
        "SELECT u.upstream, u.delivered_batches, u.delivered_items,"
        f" count(o.id), {_ITEMS},"
        " coalesce(sum(o.bytes), 0),"
        " u.dropped_batches, u.dropped_items, u.last_error, u.last_error_unix_nano,"
        " u.last_delivery_unix_nano"
        " FROM forward_upstreams AS u LEFT JOIN outbox AS o ON o.id > u.delivered_id"
        " WHERE u.active GROUP BY u.upstream ORDER BY u.upstream"
    )
    return [UpstreamStatus(*row) for row in rows]


def forget_pruned(conn: sqlite3.Connection, signal: Signal, table: str) -> None:
    """Retention deleted rows of `signal` (from `table`): entries none of whose rows are left
    have nothing to deliver any more. A partly pruned batch is delivered with what is left."""
    conn.execute(
        f"DELETE FROM outbox WHERE signal = ? AND NOT EXISTS"
        f" (SELECT 1 FROM {table} WHERE rowid BETWEEN first_rowid AND last_rowid)",
        (signal,),
    )
