"""Read-side query functions: a connection in, frozen dataclasses out. The only SQL readers use."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from localobs.store.contents import attributes_sql, shown_attributes


@dataclass(frozen=True, slots=True)
class RowCounts:
    """Rows stored per table; cheap (rowids only grow), for /health and status lines."""

    spans: int
    logs: int
    metric_points: int


@dataclass(frozen=True, slots=True)
class DatabaseSummary:
    schema_version: int
    traces: int
    spans: int
    logs: int
    metric_points: int


@dataclass(frozen=True, slots=True)
class SpanSummary:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    service_name: str | None
    start_time_unix_nano: int
    end_time_unix_nano: int
    status_code: int
    attributes: dict[str, Any]

    @property
    def duration_ms(self) -> float:
        return (self.end_time_unix_nano - self.start_time_unix_nano) / 1e6


def row_counts(conn: sqlite3.Connection) -> RowCounts:
    spans, logs, points = conn.execute(
        "SELECT (SELECT coalesce(max(rowid), 0) FROM spans),"
        " (SELECT coalesce(max(rowid), 0) FROM logs),"
        " (SELECT coalesce(max(rowid), 0) FROM metric_points)"
    ).fetchone()
    return RowCounts(spans, logs, points)


def database_summary(conn: sqlite3.Connection) -> DatabaseSummary:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    traces, spans, logs, points = conn.execute(
        "SELECT (SELECT count(DISTINCT trace_id) FROM spans), (SELECT count(*) FROM spans),"
        " (SELECT count(*) FROM logs), (SELECT count(*) FROM metric_points)"
    ).fetchone()
    return DatabaseSummary(version, traces, spans, logs, points)


_SPAN_FIELDS = (
    "trace_id, span_id, parent_span_id, name, kind, service_name, start_time_unix_nano,"
    f" end_time_unix_nano, status_code, {attributes_sql()}"
)


def _span(row: tuple[Any, ...]) -> SpanSummary:
    trace_id, span_id, parent, name, kind, service, start, end, status, attributes = row
    return SpanSummary(
        trace_id,
        span_id,
        parent,
        name,
        kind,
        service,
        start,
        end,
        status,
        shown_attributes(attributes),
    )


def list_spans(
    conn: sqlite3.Connection, *, trace_id: str | None = None, limit: int = 50
) -> list[SpanSummary]:
    """Spans newest first (by arrival), or one trace's spans in start order."""
    if trace_id is not None:
        rows = conn.execute(
            f"SELECT {_SPAN_FIELDS} FROM spans WHERE trace_id = ?"
            " ORDER BY start_time_unix_nano LIMIT ?",
            (trace_id.lower(), limit),
        )
    else:
        rows = conn.execute(
            f"SELECT {_SPAN_FIELDS} FROM spans ORDER BY rowid DESC LIMIT ?", (limit,)
        )
    return [_span(row) for row in rows]
