"""Applying decoded batches to the database: the writer process's SQL, one transaction per group."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from localobs.store.contents import MESSAGE_COLUMNS, ContentWriter, shared_ids
from localobs.store.genai_join import GenAIJoin
from localobs.store.redactions import record_redactions
from localobs.store.schema import (
    LOG_COLUMNS,
    METRIC_POINT_COLUMNS,
    RESOURCE_COLUMNS,
    SCOPE_COLUMNS,
    SPAN_COLUMNS,
)
from localobs.store.summaries import SummaryMarks


def _insert(table: str, columns: Sequence[str], verb: str = "INSERT") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_INSERT_ROWS = {
    "traces": _insert("spans", SPAN_COLUMNS, "INSERT OR IGNORE"),
    "logs": _insert("logs", LOG_COLUMNS),
    "metrics": _insert("metric_points", METRIC_POINT_COLUMNS),
}
_MESSAGES = tuple(SPAN_COLUMNS.index(column) for column in MESSAGE_COLUMNS)
_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_INSERT_RESOURCE = _insert("resources", RESOURCE_COLUMNS, "INSERT OR IGNORE")
_INSERT_SCOPE = _insert("scopes", SCOPE_COLUMNS, "INSERT OR IGNORE")
# The rows just inserted are the last `?` rowids (one writer, one statement: contiguous).
_INSERT_OUTBOX = (
    "INSERT INTO outbox (signal, first_rowid, last_rowid, bytes)"
    " SELECT ?, last_insert_rowid() - ? + 1, last_insert_rowid(), ?"
)
# When the batch's rows arrived: retention's age of a row (see store/retention.py).
_START = SPAN_COLUMNS.index("start_time_unix_nano")
_END = SPAN_COLUMNS.index("end_time_unix_nano")
_STRETCH_DERIVED = (
    "UPDATE spans SET start_time_unix_nano = min(start_time_unix_nano, ?1),"
    " end_time_unix_nano = max(end_time_unix_nano, ?2)"
    " WHERE trace_id = ?3 AND span_id = ?4 AND derived_from IS NOT NULL"
    " AND (start_time_unix_nano > ?1 OR end_time_unix_nano < ?2)"
)
# A derived row seen again (a later event of the same turn or tool call) fills what the stored
# one left empty: a turn's prompt, a tool step's decision or outcome. Nothing is overwritten,
# and an error status wins over none.
_FILLED = tuple(
    column
    for column in SPAN_COLUMNS[SPAN_COLUMNS.index("span_role") :]
    if column not in MESSAGE_COLUMNS and column != "derived_from"
)
_FILL_DERIVED = (
    "UPDATE spans SET status_code = max(coalesce(status_code, 0), ?),"
    " status_message = coalesce(status_message, ?), "
    + ", ".join(f"{column} = coalesce({column}, ?)" for column in _FILLED)
    + " WHERE trace_id = ? AND span_id = ? AND derived_from IS NOT NULL"
)
_FILL_VALUES = tuple(
    SPAN_COLUMNS.index(column) for column in ("status_code", "status_message", *_FILLED)
)
_DATE_ROWS = "UPDATE ingest_batches SET last_rowid = last_insert_rowid() WHERE digest = ?"
# Span rows derived from a logs batch arrive with it: dated as a spans batch of their own, so
# retention's age (the last spans rowid received before a cutoff) covers them too.
_DATE_DERIVED = (
    "INSERT OR IGNORE INTO ingest_batches (digest, signal, received_unix_nano, items, last_rowid)"
    " VALUES (? || '/derived', 'traces', ?, ?, last_insert_rowid())"
)
_INSERT_DIGEST = (
    "INSERT OR IGNORE INTO ingest_batches (digest, signal, received_unix_nano, items) "
    "VALUES (?, ?, ?, ?)"
)


class BatchApplier:
    """Inserts batches on the writer's connection; the caller owns the transaction.

    Resource and scope ids already inserted are remembered, so a steady stream from the same app
    costs one row insert per item and nothing more.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._known_resources: set[int] = set()
        self._known_scopes: set[int] = set()
        self._contents = ContentWriter(conn)
        self._summaries = SummaryMarks(conn)
        self._genai = GenAIJoin(conn, self._contents, self._summaries)

    def apply(self, wire: tuple[Any, ...]) -> None:
        """Insert one batch (the tuple of `Batch.to_wire`); a repeated body inserts nothing.

        When forwarding, the rows it inserted are recorded in the outbox in the same transaction,
        so nothing committed here can be missing there.
        """
        (
            _batch_id,
            signal,
            digest,
            resources,
            scopes,
            rows,
            forward_bytes,
            genai,
            redactions,
            derived,
        ) = wire
        cursor = self._conn.execute(_INSERT_DIGEST, (digest, signal, time.time_ns(), len(rows)))
        if cursor.rowcount == 0:
            return
        record_redactions(self._conn, signal, redactions)
        self._contents.begin()
        self._insert_new(_INSERT_RESOURCE, resources, self._known_resources)
        self._insert_new(_INSERT_SCOPE, scopes, self._known_scopes)
        if signal == "traces":
            rows = [self._store_messages(row) for row in rows]
        inserted = self._conn.executemany(_INSERT_ROWS[signal], rows).rowcount
        if signal == "traces" and inserted < len(rows):
            self._uncount_ignored(rows, inserted)
        if inserted > 0:  # next to the insert: last_insert_rowid()
            self._conn.execute(_DATE_ROWS, (digest,))
            if forward_bytes is not None:
                self._conn.execute(_INSERT_OUTBOX, (signal, inserted, forward_bytes))
        if signal == "traces":
            self._summaries.spans(self._conn, rows)
            self._genai.spans_inserted(self._conn, rows)
        elif genai:
            self._genai.logs_inserted(self._conn, genai)
        if derived:
            self._insert_derived(digest, derived)
        self._contents.flush()

    def _insert_derived(self, digest: str, rows: list[tuple[Any, ...]]) -> None:
        """Span rows built from log events: inserted once (their ids come from the events), a
        row seen again filling what the stored one left empty and stretching it to cover its
        new events, and waiting GenAI patches joined."""
        stored = [self._store_messages(row) for row in rows]
        inserted = self._conn.executemany(_INSERT_ROWS["traces"], stored).rowcount
        if inserted > 0:  # next to the insert: last_insert_rowid()
            self._conn.execute(_DATE_DERIVED, (digest, time.time_ns(), inserted))
        if inserted < len(stored):
            ignored = self._uncount_ignored(stored, inserted)
            self._fill_derived([rows[index] for index in ignored])
        self._conn.executemany(
            _STRETCH_DERIVED, [(row[_START], row[_END], row[0], row[1]) for row in rows]
        )
        self._summaries.mark(self._conn, {row[0] for row in rows})  # inserted, filled, stretched
        self._genai.spans_inserted(self._conn, stored)

    def _fill_derived(self, rows: list[tuple[Any, ...]]) -> None:
        """Derived rows stored already take the values they lack from these (as sent, not yet
        encoded: a message column is encoded only when it is filled)."""
        self._conn.executemany(
            _FILL_DERIVED,
            [(*(row[index] for index in _FILL_VALUES), row[0], row[1]) for row in rows],
        )
        for row in rows:
            for column, index in zip(MESSAGE_COLUMNS, _MESSAGES, strict=True):
                if row[index] is None:
                    continue
                where = "trace_id = ? AND span_id = ? AND derived_from IS NOT NULL"
                empty = self._conn.execute(
                    f"SELECT 1 FROM spans WHERE {where} AND {column} IS NULL", (row[0], row[1])
                ).fetchone()
                if empty is not None:
                    self._conn.execute(
                        f"UPDATE spans SET {column} = ? WHERE {where}",
                        (self._contents.encode(row[index]), row[0], row[1]),
                    )

    def _store_messages(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """The row with its message columns and shared attribute values as references to
        `contents` (see contents.py)."""
        values = [row[index] for index in _MESSAGES]
        attributes = row[_ATTRIBUTES]
        shared = self._contents.encode_attributes(attributes) if attributes else attributes
        if not any(values) and shared is attributes:
            return row
        stored = list(row)
        for index, value in zip(_MESSAGES, values, strict=True):
            stored[index] = self._contents.encode(value)
        stored[_ATTRIBUTES] = shared
        return tuple(stored)

    def _uncount_ignored(self, rows: list[tuple[Any, ...]], inserted: int) -> list[int]:
        """Spans stored already (INSERT OR IGNORE skipped them) use no contents: their uses
        would never be given back. The rows inserted are the last `inserted` rowids. Returns
        the indexes of the rows ignored."""
        fresh: set[tuple[str, str]] = set()
        if inserted:
            fresh = set(
                self._conn.execute(
                    "SELECT trace_id, span_id FROM spans WHERE rowid > last_insert_rowid() - ?",
                    (inserted,),
                )
            )
        ignored: list[object] = []
        skipped: list[int] = []
        for number, row in enumerate(rows):
            key = (row[0], row[1])
            if key in fresh:
                fresh.discard(key)  # a second copy in the same batch was ignored
            else:
                skipped.append(number)
                ignored.extend(row[index] for index in _MESSAGES)
                ignored.extend(shared_ids(row[_ATTRIBUTES]))
        self._contents.unuse(ignored)
        return skipped

    def _insert_new(self, sql: str, rows: list[tuple[Any, ...]], known: set[int]) -> None:
        fresh = [row for row in rows if row[0] not in known]
        if fresh:
            self._conn.executemany(sql, fresh)
            known.update(row[0] for row in fresh)

    def forget(self) -> None:
        """Called after a rollback: the remembered ids may not be in the database any more."""
        self._known_resources.clear()
        self._known_scopes.clear()
        self._contents.forget()
        self._genai.reload(self._conn)
