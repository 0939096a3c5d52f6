"""Which model calls a question is about, and the SQL conditions that select them.

Rows and rollups are filtered by the same rules: model, service and operation compare without
case (the model matches the requested or the responding model), errors are calls with an ERROR
status or an `error.type`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from localobs.store.call_columns import IS_ERROR_SQL
from localobs.store.contents import MESSAGES_SQL
from localobs.store.replays import REPLAY_SERVICE
from localobs.store.rollups import watermark
from localobs.store.text_search import (
    MATCH_FUNCTION,
    fts_query,
    register_match_function,
    search_terms,
)


@dataclass(frozen=True, slots=True)
class CallFilter:
    model: str | None = None
    service: str | None = None
    operation: str | None = None
    errors_only: bool = False
    min_duration_ms: float | None = None
    text: str | None = None  # every word must start a word of the prompts or completions
    since_unix_nano: int | None = None
    include_replays: bool = False
    """Replays (service `localobs-replay`) count only when asked for, or when their service is
    the filter: they are not the app's own calls."""

    @property
    def needs_rows(self) -> bool:
        """Rollups cannot answer it: it needs each call's duration or text."""
        return self.min_duration_ms is not None or bool(self.text and search_terms(self.text))


ALL_CALLS = CallFilter()


def effective_since(flt: CallFilter, window_since: int | None) -> int | None:
    candidates = [since for since in (flt.since_unix_nano, window_since) if since is not None]
    return max(candidates) if candidates else None


def _key_conditions(flt: CallFilter, errors_sql: str) -> tuple[list[str], list[Any]]:
    sql: list[str] = []
    params: list[Any] = []
    if flt.model:
        sql.append("(request_model = ? COLLATE NOCASE OR response_model = ? COLLATE NOCASE)")
        params += [flt.model, flt.model]
    if flt.service:
        sql.append("service_name = ? COLLATE NOCASE")
        params.append(flt.service)
    elif not flt.include_replays:
        sql.append("coalesce(service_name, '') != ?")
        params.append(REPLAY_SERVICE)
    if flt.operation:
        sql.append("operation = ? COLLATE NOCASE")
        params.append(flt.operation)
    if flt.errors_only:
        sql.append(errors_sql)
    return sql, params


def row_conditions(
    conn: sqlite3.Connection, flt: CallFilter, since: int | None = None
) -> tuple[str, list[Any]]:
    """A WHERE clause over `spans` (always restricted to model calls, so that the partial index
    `llm_calls_list` applies) and its parameters."""
    sql, params = _key_conditions(flt, IS_ERROR_SQL)
    sql.insert(0, "operation IS NOT NULL")
    since = effective_since(flt, since)
    if since is not None:
        sql.append("start_time_unix_nano >= ?")
        params.append(since)
    if flt.min_duration_ms is not None:
        sql.append("end_time_unix_nano - start_time_unix_nano >= ?")
        params.append(round(flt.min_duration_ms * 1_000_000))
    terms = search_terms(flt.text) if flt.text else ()
    if terms:
        register_match_function(conn)
        sql.append(
            "(rowid IN (SELECT rowid FROM llm_call_text WHERE llm_call_text MATCH ?)"
            f" OR (rowid > ? AND {MATCH_FUNCTION}(?, {MESSAGES_SQL})))"
        )
        params += [fts_query(terms), watermark(conn), " ".join(terms)]
    return " AND ".join(sql), params


def rollup_conditions(flt: CallFilter) -> tuple[str, list[Any]]:
    """The same filter over `call_rollup` keys; only for filters where `needs_rows` is false."""
    sql, params = _key_conditions(flt, "is_error = 1")
    sql = [part.replace("service_name", "service") for part in sql]
    return " AND ".join(sql) or "1", params
