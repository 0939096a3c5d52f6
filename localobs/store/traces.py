"""One trace as a tree: depth-first order, offsets, self time and the critical path per span."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from localobs.store.cost import COST_EXTRAS_SQL, UNKNOWN, row_cost
from localobs.store.span_time import Timing, children_intervals, covered_ns, critical_path


@dataclass(frozen=True, slots=True)
class TraceSpan:
    span_id: str
    parent_span_id: str | None
    name: str
    service_name: str | None
    depth: int
    start_offset_ms: float
    duration_ms: float
    self_time_ms: float
    status_code: int
    is_error: bool
    on_critical_path: bool
    call_id: int | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    operation: str | None
    span_role: str | None
    cost_usd: float | None = None  # a model call's cost (store/cost.py); None: unknown or no call
    cost_source: str | None = None


@dataclass(frozen=True, slots=True)
class TraceTree:
    trace_id: str
    start_unix_nano: int
    duration_ms: float
    spans: tuple[TraceSpan, ...]


def _ordered(rows: list[tuple[Any, ...]]) -> list[tuple[int, tuple[Any, ...]]]:
    """(depth, row) depth-first, siblings by start time. A span whose parent is not stored is
    shown at the top level; so is any span only reachable through a cycle of parent ids."""
    ids = {row[1] for row in rows}
    children: dict[str | None, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        children[row[2] if row[2] in ids and row[2] != row[1] else None].append(row)
    for group in children.values():
        group.sort(key=lambda row: (row[5], row[0]))
    ordered: list[tuple[int, tuple[Any, ...]]] = []
    seen: set[str] = set()
    tops = list(children[None])
    while tops:
        stack = [(0, row) for row in reversed(tops)]
        while stack:
            depth, row = stack.pop()
            if row[1] in seen:
                continue
            seen.add(row[1])
            ordered.append((depth, row))
            stack.extend((depth + 1, child) for child in reversed(children.get(row[1], [])))
        rest = [row for row in rows if row[1] not in seen]
        tops = [min(rest, key=lambda row: row[5])] if rest else []
    return ordered


def get_trace(conn: sqlite3.Connection, trace_id: str) -> TraceTree | None:
    rows = conn.execute(
        "SELECT rowid, span_id, parent_span_id, name, service_name, start_time_unix_nano,"
        " end_time_unix_nano, coalesce(status_code, 0), error_type, operation,"
        " coalesce(response_model, request_model), input_tokens, output_tokens, span_role,"
        f" provider, CASE WHEN operation IS NOT NULL THEN {COST_EXTRAS_SQL} END"
        " FROM spans WHERE trace_id = ?",
        (trace_id.strip().lower(),),
    ).fetchall()
    if not rows:
        return None
    timings = [Timing(row[0], row[1], row[2], row[5], row[6]) for row in rows]
    kids = children_intervals(timings)
    critical = critical_path(timings)
    start = min(row[5] for row in rows)
    end = max(row[6] for row in rows)
    spans = []
    for depth, row in _ordered(rows):
        key, span_id, parent, name, service, begin, finish, status, error_type = row[:9]
        operation, model, tokens_in, tokens_out, role, provider, extras = row[9:]
        cost = (
            UNKNOWN
            if operation is None
            else row_cost(provider, model, tokens_in, tokens_out, extras)
        )
        duration = max(0, finish - begin)
        self_ns = duration - covered_ns(begin, finish, kids.get(span_id, []))
        spans.append(
            TraceSpan(
                span_id=span_id,
                parent_span_id=parent,
                name=name,
                service_name=service,
                depth=depth,
                start_offset_ms=(begin - start) / 1e6,
                duration_ms=duration / 1e6,
                self_time_ms=self_ns / 1e6,
                status_code=status,
                is_error=status == 2 or error_type is not None,
                on_critical_path=key in critical,
                call_id=key if operation is not None else None,
                model=model if operation is not None else None,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                operation=operation,
                span_role=role,
                cost_usd=cost.usd,
                cost_source=cost.source,
            )
        )
    return TraceTree(trace_id.strip().lower(), start, (end - start) / 1e6, tuple(spans))
