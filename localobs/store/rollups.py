"""Rollups and the full-text index, derived from span rows off the ingest path.

Whole-history questions (totals over 100 k calls, slow components over 1 M spans, free text over
every prompt) cannot be answered from raw rows in 100 ms. The writer process therefore folds rows
into small per-minute and per-hour tables and into the FTS5 index while it is idle, in chunks, and
records how far it got (the watermark, a spans rowid). Nothing of this runs while batches wait, so
ingest pays nothing. Readers combine the rollups with the raw rows above the watermark (the
"tail"), so answers are always complete, just slower while a large tail waits to be folded.

Rows are folded only once settled (committed a few seconds ago), so children that arrive just
after their parent, and content joined from log events, are usually folded together.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from localobs.store.batch import fits_int64
from localobs.store.call_amounts import NO_AMOUNTS, CallAmounts, call_amounts, plain_amounts
from localobs.store.call_columns import DURATION_MS_SQL, IS_ERROR_SQL, TOKENS_PER_S_SQL
from localobs.store.call_text import CallTexts
from localobs.store.contents import MESSAGE_COLUMNS, MESSAGES_SQL
from localobs.store.cost import COST_COLUMNS_SQL, column_extras
from localobs.store.histogram import add_buckets, bucket_index, decode_buckets, encode_buckets
from localobs.store.replays import REPLAY_SERVICE
from localobs.store.span_time import self_time_changes
from localobs.store.text_search import message_text
from localobs.store.token_estimate import estimate_tokens

WATERMARK_KEY = "rollup_watermark"
GRAINS_S = (60, 3600)
CHUNK_ROWS = 5000
SETTLE_S = 2.0


class SpanFacts(NamedTuple):
    key: int
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start: int
    end: int


SPAN_FACTS_SQL = (
    "rowid, trace_id, span_id, parent_span_id, name, start_time_unix_nano, end_time_unix_nano"
)


class CallFacts(NamedTuple):
    start: int
    request_model: str | None
    response_model: str | None
    service: str | None
    operation: str
    is_error: bool
    duration_ms: float
    ttft_ms: float | None
    tokens_per_s: float | None
    input_tokens: int | None
    output_tokens: int | None
    input_tokens_estimate: int | None
    output_tokens_estimate: int | None
    provider: str | None
    reported_cost_usd: float | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    derived_from: str | None

    def amounts(self) -> CallAmounts:
        if (
            self.input_tokens_estimate is None
            and self.output_tokens_estimate is None
            and self.reported_cost_usd is None
            and self.cache_read_tokens is None
            and self.cache_write_tokens is None
        ):
            return plain_amounts([(self.input_tokens, self.output_tokens)])  # most calls
        extras = column_extras(
            self.reported_cost_usd, self.cache_read_tokens, self.cache_write_tokens,
            self.derived_from,
        )  # fmt: skip
        return call_amounts(
            self.provider, self.input_tokens, self.output_tokens, self.input_tokens_estimate,
            self.output_tokens_estimate, extras,
        )  # fmt: skip


CALL_FACTS_SQL = (
    "start_time_unix_nano, request_model, response_model, service_name, operation,"
    f" {IS_ERROR_SQL}, {DURATION_MS_SQL}, ttft_ms, {TOKENS_PER_S_SQL}, input_tokens, output_tokens,"
    f" input_tokens_estimate, output_tokens_estimate, provider, {COST_COLUMNS_SQL}"
)
_CALL_FACTS_COLUMNS = len(CallFacts._fields)
_ESTIMATE_SQL = (
    "UPDATE spans SET input_tokens_estimate = ?, output_tokens_estimate = ?,"
    " token_estimate_method = ? WHERE rowid = ?"
)


# A call's message columns as text (input, output, system), for its token estimates.
_MESSAGES_OF = f"SELECT {MESSAGES_SQL} FROM spans WHERE rowid = ?"


def estimated(
    conn: sqlite3.Connection,
    rowid: int,
    call: CallFacts,
    input_messages: str | None,
    output_messages: str | None,
    system_instructions: str | None,
) -> CallFacts:
    """The call with token estimates where its counts were not reported (store/token_estimate.py),
    written to its row when they changed: folding (and a join that patches a folded call) is
    where estimates are made, so the rollups always count what the row says."""
    estimate = estimate_tokens(
        call.input_tokens, call.output_tokens, input_messages, output_messages,
        system_instructions,
    )  # fmt: skip
    if (estimate.input, estimate.output) == (
        call.input_tokens_estimate,
        call.output_tokens_estimate,
    ):
        return call
    conn.execute(_ESTIMATE_SQL, (estimate.input, estimate.output, estimate.method, rowid))
    return call._replace(
        input_tokens_estimate=estimate.input, output_tokens_estimate=estimate.output
    )


def watermark(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT value FROM derived_state WHERE name = ?", (WATERMARK_KEY,)
    ).fetchone()
    return row[0] if row else 0


def span_contributions(
    conn: sqlite3.Connection, new: list[SpanFacts], old_upto: int
) -> tuple[list[tuple[SpanFacts, int]], list[tuple[SpanFacts, int]]]:
    """Self time of each new span, given every span of its trace up to rowid `old_upto` too, and
    the (negative) change of self time of older spans that gained children among `new`."""
    by_trace: dict[str, list[SpanFacts]] = defaultdict(list)
    for span in new:
        by_trace[span.trace_id].append(span)
    old_by_trace: dict[str, list[SpanFacts]] = defaultdict(list)
    if old_upto > 0:
        rows = conn.execute(
            f"SELECT {SPAN_FACTS_SQL} FROM spans"
            " WHERE trace_id IN (SELECT value FROM json_each(?)) AND rowid <= ?",
            (orjson.dumps(list(by_trace)).decode(), old_upto),
        )
        for row in rows:
            old_by_trace[row[1]].append(SpanFacts._make(row))
    selfs: list[tuple[SpanFacts, int]] = []
    changes: list[tuple[SpanFacts, int]] = []
    for trace_id, spans in by_trace.items():
        old = old_by_trace.get(trace_id, [])
        self_ns, change_ns = self_time_changes(old, spans)
        selfs.extend((span, self_ns[span.key]) for span in spans)
        by_key = {span.key: span for span in old}
        changes.extend((by_key[key], delta) for key, delta in change_ns.items() if delta)
    return selfs, changes


def _slots(start: int) -> list[tuple[int, int]]:
    return [(grain, start // (grain * 1_000_000_000)) for grain in GRAINS_S]


class _Accumulator:
    """The rollup rows a chunk touches, merged into the stored rows when written."""

    def __init__(self) -> None:
        self.spans: dict[tuple[Any, ...], list[Any]] = {}
        self.calls: dict[tuple[Any, ...], list[Any]] = {}

    def span(self, span: SpanFacts, self_ns: int, sign: int = 1) -> None:
        """Count a span in (sign 1), or out again (sign -1) when retention deletes it."""
        duration_ms = max(0, span.end - span.start) / 1e6
        index = bucket_index(duration_ms)
        for grain, slot in _slots(span.start):
            entry = self.spans.setdefault((grain, slot, span.name), [0, 0.0, 0.0, {}])
            entry[0] += sign
            entry[1] += sign * duration_ms
            entry[2] += sign * self_ns / 1e6
            entry[3][index] = entry[3].get(index, 0) + sign

    def self_change(self, span: SpanFacts, delta_ns: int) -> None:
        for grain, slot in _slots(span.start):
            entry = self.spans.setdefault((grain, slot, span.name), [0, 0.0, 0.0, {}])
            entry[2] += delta_ns / 1e6

    def call(self, call: CallFacts, sign: int = 1) -> None:
        """Count a call in (sign 1), or take it out again (sign -1) when its row changed."""
        keys = (
            call.request_model or "",
            call.response_model or "",
            call.service or "",
            call.operation,
            int(call.is_error),
        )
        amounts = call.amounts() if sign == 1 else NO_AMOUNTS.plus(call.amounts(), -1)
        for grain, slot in _slots(call.start):
            entry = self.calls.setdefault((grain, slot, *keys), [0, [], {}, {}, {}])
            entry[0] += sign
            entry[1].append(amounts)  # summed once per slot when written
            for measure, value in zip(
                entry[2:], (call.duration_ms, call.ttft_ms, call.tokens_per_s), strict=True
            ):
                if value is not None:
                    index = bucket_index(value)
                    measure[index] = measure.get(index, 0) + sign

    def write(self, conn: sqlite3.Connection) -> None:
        for key, (count, total, self_ms, buckets) in self.spans.items():
            stored = conn.execute(
                "SELECT count, total_ms, self_ms, duration_buckets FROM span_rollup"
                " WHERE grain_s = ? AND slot = ? AND name = ?",
                key,
            ).fetchone()
            if stored:
                count += stored[0]
                total += stored[1]
                self_ms += stored[2]
                add_buckets(buckets, decode_buckets(stored[3]))
            if count <= 0:  # every span of the slot was deleted
                conn.execute(
                    "DELETE FROM span_rollup WHERE grain_s = ? AND slot = ? AND name = ?", key
                )
                continue
            conn.execute(
                "INSERT OR REPLACE INTO span_rollup VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, count, total, self_ms, encode_buckets(buckets)),
            )
        for key, (count, added, *measures) in self.calls.items():
            amounts = CallAmounts.total(added)
            stored = conn.execute(
                f"SELECT count, {_AMOUNTS}, duration_buckets, ttft_buckets, tokens_per_s_buckets"
                " FROM call_rollup WHERE grain_s = ? AND slot = ? AND request_model = ?"
                " AND response_model = ? AND service = ? AND operation = ? AND is_error = ?",
                key,
            ).fetchone()
            if stored:
                count += stored[0]
                amounts = amounts.plus(CallAmounts._make(stored[1 : 1 + len(CallAmounts._fields)]))
                for measure, text in zip(measures, stored[-3:], strict=True):
                    add_buckets(measure, decode_buckets(text))
            if count <= 0:  # every call of the slot was deleted
                conn.execute(
                    "DELETE FROM call_rollup WHERE grain_s = ? AND slot = ? AND request_model = ?"
                    " AND response_model = ? AND service = ? AND operation = ? AND is_error = ?",
                    key,
                )
                continue
            conn.execute(
                _WRITE_CALL_SQL,
                (*key, count, *map(_storable, amounts), *map(encode_buckets, measures)),
            )


_AMOUNTS = ", ".join(CallAmounts._fields)
_WRITE_CALL_SQL = (
    "INSERT OR REPLACE INTO call_rollup (grain_s, slot, request_model, response_model, service,"
    f" operation, is_error, count, {_AMOUNTS}, duration_buckets, ttft_buckets,"
    f" tokens_per_s_buckets) VALUES ({', '.join('?' * (11 + len(CallAmounts._fields)))})"
)


def _storable(total: int | float) -> int | float:
    """A token sum as SQLite can store it: beyond 64 bits (hostile counts) it goes on as REAL,
    approximate but never failing the fold, which would stop rollups and the text index."""
    return total if isinstance(total, float) or fits_int64(total) else float(total)


# What folding reads of a span row (and what retention reads to count it out again).
# The message columns as stored (references): CallTexts reads their text.
_FOLD_SQL = (
    f"SELECT {SPAN_FACTS_SQL}, operation, {', '.join(MESSAGE_COLUMNS)}, {CALL_FACTS_SQL} FROM spans"
)
_CHUNK_SQL = f"{_FOLD_SQL} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
_FOLDED_OF_TRACES_SQL = (
    f"{_FOLD_SQL} WHERE trace_id IN (SELECT value FROM json_each(?)) AND rowid <= ?"
)


_SERVICE = 7 + 4 + CallFacts._fields.index("service")  # its column in a _CHUNK_SQL row


def roll_up(
    conn: sqlite3.Connection,
    upto_rowid: int,
    *,
    max_rows: int = CHUNK_ROWS,
    texts: CallTexts | None = None,
) -> int:
    """Fold the next span rows up to `upto_rowid` (at most `max_rows`) into the rollups and the
    text index, in one transaction on the writer's connection. Returns the new watermark.
    `texts` keeps contents' text from one chunk to the next (the writer passes its own)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = watermark(conn)
        rows = conn.execute(_CHUNK_SQL, (done, upto_rowid, max_rows)).fetchall()
        if not rows:
            conn.execute("ROLLBACK")
            return done
        accumulator = _Accumulator()
        indexed = []
        calls_text = texts or CallTexts()
        calls_text.load(conn, (value for row in rows for value in row[8:11]))
        # Replays are not the app's spans: they stay out of the components (calls keep them,
        # keyed by service, so a filter can still ask for them).
        new = [SpanFacts._make(row[:7]) for row in rows if row[_SERVICE] != REPLAY_SERVICE]
        selfs, changes = span_contributions(conn, new, done)
        for span, self_ns in selfs:
            accumulator.span(span, self_ns)
        for span, delta_ns in changes:
            accumulator.self_change(span, delta_ns)
        for row in rows:
            if row[7] is None:
                continue
            call = CallFacts._make(row[11:])
            if call.input_tokens is None or call.output_tokens is None:  # rare: read its text
                call = estimated(
                    conn, row[0], call, *conn.execute(_MESSAGES_OF, (row[0],)).fetchone()
                )
            accumulator.call(call)
            text = calls_text.text(row[10], row[8], row[9])
            if text:
                indexed.append((row[0], text))
        accumulator.write(conn)
        conn.executemany("INSERT INTO llm_call_text (rowid, text) VALUES (?, ?)", indexed)
        reached: int = rows[-1][0] if len(rows) == max_rows else max(upto_rowid, rows[-1][0])
        conn.execute(
            "INSERT OR REPLACE INTO derived_state (name, value) VALUES (?, ?)",
            (WATERMARK_KEY, reached),
        )
        conn.execute("COMMIT")
        return reached
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def roll_up_all(conn: sqlite3.Connection, *, chunk_rows: int = CHUNK_ROWS) -> int:
    """Fold every stored row now (for tools and benchmarks; the writer uses `IdleRollups`)."""
    target = conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()[0]
    reached = watermark(conn)
    while reached < target:
        reached = roll_up(conn, target, max_rows=chunk_rows)
    return reached


_CHANGED_SQL = f"SELECT {CALL_FACTS_SQL}, {MESSAGES_SQL} FROM spans WHERE rowid = ?"
# The same expressions over a row's previous GenAI values (the other columns never change).
_BEFORE_SQL = (
    f"SELECT {CALL_FACTS_SQL} FROM (SELECT s.start_time_unix_nano, s.end_time_unix_nano,"
    " s.service_name, s.status_code, ? AS operation, ? AS request_model, ? AS response_model,"
    " ? AS error_type, ? AS ttft_ms, ? AS input_tokens, ? AS output_tokens,"
    " ? AS input_tokens_estimate, ? AS output_tokens_estimate, ? AS provider,"
    " ? AS reported_cost_usd, ? AS cache_read_tokens, ? AS cache_write_tokens, ? AS derived_from"
    " FROM spans AS s WHERE s.rowid = ?)"
)
BEFORE_COLUMNS = (
    "operation",
    "request_model",
    "response_model",
    "error_type",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "input_tokens_estimate",
    "output_tokens_estimate",
    "provider",
    "reported_cost_usd",
    "cache_read_tokens",
    "cache_write_tokens",
    "derived_from",
)


def call_changed(conn: sqlite3.Connection, rowid: int, before: Mapping[str, Any]) -> None:
    """Keep rollups, token estimates and the text index right when the GenAI columns of a stored
    span row are rewritten (log events joined after the row was folded). Call it after the
    UPDATE, in the same transaction, with the columns' previous values (`before` maps each name
    in BEFORE_COLUMNS and the three message columns to its old value)."""
    if rowid > watermark(conn):
        return  # not folded yet: the next chunk sees the new values
    accumulator = _Accumulator()
    if before.get("operation") is not None:
        old = conn.execute(_BEFORE_SQL, (*(before[c] for c in BEFORE_COLUMNS), rowid)).fetchone()
        accumulator.call(CallFacts._make(old), sign=-1)
        text = message_text(
            before["system_instructions"], before["input_messages"], before["output_messages"]
        )
        if text:
            conn.execute(
                "INSERT INTO llm_call_text (llm_call_text, rowid, text) VALUES ('delete', ?, ?)",
                (rowid, text),
            )
    row = conn.execute(_CHANGED_SQL, (rowid,)).fetchone()
    if row is not None and row[4] is not None:
        n = _CALL_FACTS_COLUMNS
        call = CallFacts._make(row[:n])
        accumulator.call(estimated(conn, rowid, call, row[n], row[n + 1], row[n + 2]))
        text = message_text(row[n + 2], row[n], row[n + 1])
        if text:
            conn.execute("INSERT INTO llm_call_text (rowid, text) VALUES (?, ?)", (rowid, text))
    accumulator.write(conn)


def forget_traces(conn: sqlite3.Connection, trace_ids: list[str]) -> None:
    """Take whole traces out of the rollups and the text index before retention deletes them,
    in the same transaction: each folded span and call counted out with what it counted in
    (self times among the trace's folded spans), so totals always match the rows kept."""
    rows = conn.execute(
        _FOLDED_OF_TRACES_SQL, (orjson.dumps(trace_ids).decode(), watermark(conn))
    ).fetchall()
    if not rows:
        return
    accumulator = _Accumulator()
    selfs, _changes = span_contributions(conn, [SpanFacts._make(row[:7]) for row in rows], 0)
    for span, self_ns in selfs:
        accumulator.span(span, self_ns, sign=-1)
    indexed = []
    calls_text = CallTexts()
    calls_text.load(conn, (value for row in rows for value in row[8:11]))
    for row in rows:
        if row[7] is None:
            continue
        accumulator.call(CallFacts._make(row[11:]), sign=-1)
        text = calls_text.text(row[10], row[8], row[9])
        if text:
            indexed.append((row[0], text))
    accumulator.write(conn)
    conn.executemany(
        "INSERT INTO llm_call_text (llm_call_text, rowid, text) VALUES ('delete', ?, ?)", indexed
    )


class IdleRollups:
    """Folds rows from the writer process while no batch is waiting.

    The writer asks `idle_timeout()` how long to wait for a batch; if none comes in that time it
    calls `step()`, which folds one chunk (tens of milliseconds) of rows committed at least
    `settle_s` ago. Ingest never waits on it: a batch that arrives is applied first. Only when
    the writer is never idle and the backlog passes MAX_BACKLOG rows (`overdue()`) does it fold a
    chunk between commit groups.
    """

    IDLE_S = 0.2
    # Above a burst's size (bench/ingest.py sends 200 k spans): folding then waits for the burst
    # to end instead of taking CPU from ingest while both cores are busy.
    MAX_BACKLOG = 250_000

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        settle_s: float = SETTLE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn = conn
        self._settle_s = settle_s
        self._clock = clock
        self._texts = CallTexts()
        # (when seen, max rowid then); rows present at start are from earlier runs: settled.
        self._seen: list[tuple[float, int]] = [(float("-inf"), self._max_rowid())]

    def _max_rowid(self) -> int:
        return int(self._conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()[0])

    def _settled_rowid(self) -> int:
        """The highest rowid seen at least `settle_s` ago (samples taken on each call)."""
        now = self._clock()
        newest = self._max_rowid()
        if newest != self._seen[-1][1]:
            self._seen.append((now, newest))
        settled = [seen for seen in self._seen if seen[0] <= now - self._settle_s]
        if len(settled) > 1:
            del self._seen[: len(settled) - 1]
        return settled[-1][1] if settled else 0

    def idle_timeout(self) -> float | None:
        """Seconds to wait for a batch before calling `step()`; None when everything is folded
        (then wait for batches only)."""
        settled = self._settled_rowid()
        done = watermark(self._conn)
        if settled > done:
            return self.IDLE_S
        unsettled = [seen for seen, rowid in self._seen if rowid > done and rowid > settled]
        if not unsettled:
            return None
        return max(self.IDLE_S, unsettled[0] + self._settle_s - self._clock())

    def overdue(self) -> bool:
        """More than MAX_BACKLOG settled rows wait: the writer never idles (sustained load),
        so it should fold a chunk after each commit group until caught up, or reads slow down
        without bound."""
        return self._settled_rowid() - watermark(self._conn) > self.MAX_BACKLOG

    def step(self) -> bool:
        """Fold one chunk; True when more settled rows remain."""
        target = self._settled_rowid()
        if target <= watermark(self._conn):
            return False
        # Whatever a fold raises (the rows came from untrusted input) goes to the writer's
        # IdleJobs, which rolls back, says so once and backs off: readers use raw rows meanwhile.
        return roll_up(self._conn, target, texts=self._texts) < target
