"""Which component is slow: per span name across traces, total and self time and their shares.

Read from the per-minute/per-hour span rollups plus the spans not folded yet (the tail), whose self
time is computed here exactly as the rollup job would (see rollups.span_contributions).
Percentiles are exact when only tail spans are involved, else interpolated from log buckets.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from localobs.store.histogram import Distribution, decode_buckets
from localobs.store.replays import REPLAY_SERVICE
from localobs.store.rollups import SPAN_FACTS_SQL, SpanFacts, span_contributions, watermark
from localobs.store.windows import Clock, rollup_range, window_since


@dataclass(frozen=True, slots=True)
class ComponentStats:
    name: str
    count: int
    p50_ms: float | None
    p95_ms: float | None
    total_ms: float
    share_of_total: float  # of all span time in the window, 0..1
    self_ms: float
    share_of_self: float  # of all self time in the window, 0..1


@dataclass(slots=True)
class _Component:
    count: int = 0
    total_ms: float = 0.0
    self_ms: float = 0.0
    duration: Distribution = field(default_factory=Distribution)


def component_stats(
    conn: sqlite3.Connection, clock: Clock, window_s: float | None
) -> tuple[ComponentStats, ...]:
    """Per span name, for spans starting in the window; the largest self time first."""
    since = window_since(clock, window_s)
    components: dict[str, _Component] = {}
    wm = watermark(conn)
    window, params = rollup_range(since)
    rows = conn.execute(
        f"SELECT name, count, total_ms, self_ms, duration_buckets FROM span_rollup WHERE {window}",
        params,
    )
    for name, count, total_ms, self_ms, buckets in rows:
        component = components.get(name) or components.setdefault(name, _Component())
        component.count += count
        component.total_ms += total_ms
        component.self_ms += self_ms
        component.duration.add_buckets(decode_buckets(buckets))
    tail_sql = (
        f"SELECT {SPAN_FACTS_SQL} FROM spans NOT INDEXED"
        " WHERE rowid > ? AND coalesce(service_name, '') != ?"
    )
    tail_params: list[int | str] = [wm, REPLAY_SERVICE]
    if since is not None:
        tail_sql += " AND start_time_unix_nano >= ?"
        tail_params.append(since)
    tail = [SpanFacts._make(row) for row in conn.execute(tail_sql, tail_params)]
    selfs, changes = span_contributions(conn, tail, wm)
    for span, self_ns in selfs:
        component = components.get(span.name) or components.setdefault(span.name, _Component())
        duration_ms = max(0, span.end - span.start) / 1e6
        component.count += 1
        component.total_ms += duration_ms
        component.self_ms += self_ns / 1e6
        component.duration.add(duration_ms)
    for span, delta_ns in changes:
        if (since is None or span.start >= since) and span.name in components:
            components[span.name].self_ms += delta_ns / 1e6
    all_total = sum(component.total_ms for component in components.values())
    all_self = sum(component.self_ms for component in components.values())
    found = []
    for name, component in components.items():
        if component.count == 0:
            continue
        p50, p95 = component.duration.percentiles(0.5, 0.95)
        found.append(
            ComponentStats(
                name=name,
                count=component.count,
                p50_ms=p50,
                p95_ms=p95,
                total_ms=component.total_ms,
                share_of_total=component.total_ms / all_total if all_total else 0.0,
                self_ms=component.self_ms,
                share_of_self=component.self_ms / all_self if all_self else 0.0,
            )
        )
    found.sort(key=lambda stats: (-stats.self_ms, stats.name))
    return tuple(found)
