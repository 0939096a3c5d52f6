"""Reading stored telemetry back for export and forwarding: every column of spans, logs and metric
points, in arrival order and in pages (or one ingested batch's rows), with the resources and
scopes they reference.

Rows are returned as column dicts keyed by the names in schema.py, so the OTLP rebuild
(localobs.transfer.rebuild) can use every column the store keeps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from localobs.store.batch import Signal
from localobs.store.contents import MESSAGE_COLUMNS, attributes_sql, expand_sql
from localobs.store.schema import (
    LOG_COLUMNS,
    METRIC_POINT_COLUMNS,
    RESOURCE_COLUMNS,
    SCOPE_COLUMNS,
    SPAN_COLUMNS,
)

Columns = dict[str, Any]

_TABLES: dict[Signal, tuple[str, tuple[str, ...], str]] = {
    # signal: (table, columns, the time a --since filter compares)
    "traces": ("spans", SPAN_COLUMNS, "start_time_unix_nano"),
    "logs": ("logs", LOG_COLUMNS, "coalesce(nullif(time_unix_nano, 0), observed_time_unix_nano)"),
    "metrics": ("metric_points", METRIC_POINT_COLUMNS, "time_unix_nano"),
}


# Spans as sent: calls derived from a coding agent's log events were never sent as spans (their
# log records are exported as they came).
_SENT = "derived_from IS NULL"


@dataclass(frozen=True)
class ExportFilter:
    """What to export; None means no restriction. A trace id selects spans and logs (metric
    points belong to no trace)."""

    since_unix_nano: int | None = None
    trace_id: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class StoredPage:
    """Up to a page of one signal's rows, with every resource and scope they reference."""

    signal: Signal
    rows: list[Columns]
    resources: dict[int, Columns]
    scopes: dict[int, Columns]


def _conditions(signal: Signal, selection: ExportFilter) -> tuple[list[str], list[Any]]:
    _table, _columns, time_expr = _TABLES[signal]
    conditions: list[str] = []
    params: list[Any] = []
    if signal == "traces":
        conditions.append(_SENT)
    if selection.since_unix_nano is not None:
        conditions.append(f"{time_expr} >= ?")
        params.append(selection.since_unix_nano)
    if selection.trace_id is not None:
        conditions.append("trace_id = ?")
        params.append(selection.trace_id.lower())
    if selection.service is not None:
        conditions.append("service_name = ?")
        params.append(selection.service)
    return conditions, params


def _select(table: str, columns: tuple[str, ...]) -> str:
    """The columns as stored; a span's message columns and shared attribute values as their
    text (they are stored as references to `contents`)."""
    if table != "spans":
        return ", ".join(columns)
    return ", ".join(
        f"{expand_sql(column)} AS {column}"
        if column in MESSAGE_COLUMNS
        else f"{attributes_sql()} AS attributes"
        if column == "attributes"
        else column
        for column in columns
    )


def _by_id(
    conn: sqlite3.Connection, table: str, columns: tuple[str, ...], ids: set[int]
) -> dict[int, Columns]:
    if not ids:
        return {}
    found = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]} IN"
        f" ({', '.join('?' * len(ids))})",
        list(ids),
    )
    return {row[0]: dict(zip(columns, row, strict=True)) for row in found}


def _page(conn: sqlite3.Connection, signal: Signal, rows: list[Columns]) -> StoredPage:
    resources = {row["resource_id"] for row in rows if row["resource_id"] is not None}
    scopes = {row["scope_id"] for row in rows if row["scope_id"] is not None}
    return StoredPage(
        signal,
        rows,
        _by_id(conn, "resources", RESOURCE_COLUMNS, resources),
        _by_id(conn, "scopes", SCOPE_COLUMNS, scopes),
    )


def stored_range(
    conn: sqlite3.Connection, signal: Signal, first_rowid: int, last_rowid: int
) -> StoredPage:
    """The rows of `signal` with rowids first..last (one ingested batch, for forwarding)."""
    table, columns, _time = _TABLES[signal]
    found = conn.execute(
        f"SELECT {_select(table, columns)} FROM {table} WHERE rowid BETWEEN ? AND ?"
        f"{' AND ' + _SENT if signal == 'traces' else ''} ORDER BY rowid",
        (first_rowid, last_rowid),
    )
    return _page(conn, signal, [dict(zip(columns, row, strict=True)) for row in found])


def stored_pages(
    conn: sqlite3.Connection, signal: Signal, selection: ExportFilter, page_size: int = 512
) -> Iterator[StoredPage]:
    """The selected rows of `signal` in arrival order, `page_size` at a time (keyset-paged, so
    concurrent ingest neither repeats nor skips rows already passed)."""
    if signal == "metrics" and selection.trace_id is not None:
        return
    table, columns, _time = _TABLES[signal]
    conditions, params = _conditions(signal, selection)
    where = "".join(f" AND {condition}" for condition in conditions)
    sql = (
        f"SELECT rowid, {_select(table, columns)} FROM {table} WHERE rowid > ?{where}"
        " ORDER BY rowid LIMIT ?"
    )
    after = 0
    while True:
        found = conn.execute(sql, [after, *params, page_size]).fetchall()
        if not found:
            return
        after = found[-1][0]
        yield _page(conn, signal, [dict(zip(columns, row[1:], strict=True)) for row in found])
