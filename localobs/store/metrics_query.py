"""Percentiles of histogram metrics, interpolated from their bucket counts.

Points are merged per question: delta points in the window are summed; for cumulative points
(the SDK default) each series (resource, attributes, start time) contributes its latest point,
less its last point before the window when there is one. Within a bucket values are taken as
evenly spread (as Prometheus' histogram_quantile does); the points' min and max bound the open
first and last buckets. A percentile of one to three observations is exact where the points
sent their min, max and sum (`histogram.few_values`), and any other stays within [min, max].
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from localobs.store.histogram import exact_percentile, few_values
from localobs.store.windows import Clock, window_since

# Every GenAI metric localobs reads, in both generations of the conventions (the one home of
# these names): the client histograms of semconv up to 1.40 (`gen_ai.client.operation.*`,
# `gen_ai.client.token.usage`) next to their renames in semantic-conventions-genai
# (`gen_ai.client.inference.*`, per-direction token histograms), and the server's.
# Per measure, older name first: code that reads one measure (TTFT from a metric name set as a
# span attribute, say) takes its names from here.
DURATION_METRICS = ("gen_ai.client.operation.duration", "gen_ai.client.inference.duration")
TTFT_METRICS = (
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.client.inference.time_to_first_chunk",
    "gen_ai.server.time_to_first_token",
)
TIME_PER_CHUNK_METRICS = (
    "gen_ai.client.operation.time_per_output_chunk",
    "gen_ai.client.inference.time_per_output_chunk",
    "gen_ai.server.time_per_output_token",
)
TOKEN_HISTOGRAMS = (
    "gen_ai.client.token.usage",
    "gen_ai.client.inference.operation.input_tokens",
    "gen_ai.client.inference.operation.output_tokens",
)
GENAI_HISTOGRAMS = (
    *TOKEN_HISTOGRAMS,
    *DURATION_METRICS,
    *TTFT_METRICS,
    *TIME_PER_CHUNK_METRICS,
    "gen_ai.server.request.duration",
)
# The newer per-direction token counters: a running total each (no percentiles).
GENAI_COUNTERS = (
    "gen_ai.client.inference.usage.input_tokens",
    "gen_ai.client.inference.usage.output_tokens",
    "gen_ai.client.inference.usage.cache_read.input_tokens",
    "gen_ai.client.inference.usage.cache_write.input_tokens",
    "gen_ai.client.inference.usage.reasoning.output_tokens",
)
_MODEL_ATTRIBUTES = ("gen_ai.response.model", "gen_ai.request.model")
_DELTA, _CUMULATIVE = 1, 2


@dataclass(frozen=True, slots=True)
class MetricSummary:
    name: str
    unit: str | None
    count: int  # observations in the window (histograms); points (counters)
    p50: float | None
    p95: float | None
    total: float | None = None  # a counter's increase over the window; None for histograms


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class MetricTtft:
    """A model's TTFT percentiles from a TTFT histogram metric, in milliseconds."""

    p50_ms: float | None
    p95_ms: float | None
    source: str  # the metric's name


@dataclass(slots=True)
class _Merged:
    """Bucket counts per distinct set of bounds, the smallest and largest value seen, and the
    sum of the values while every point sent one."""

    counts: dict[tuple[float, ...], list[int]]
    low: float | None = None
    high: float | None = None
    total: float | None = 0.0
    bounded: bool = True  # low and high are those of the window's values (nothing subtracted)

    def add(
        self, bounds: tuple[float, ...], counts: list[int], low: Any, high: Any, total: Any = None
    ) -> None:
        if len(counts) != len(bounds) + 1:
            return  # malformed point: OTLP requires one more count than bounds
        into = self.counts.setdefault(bounds, [0] * len(counts))
        for index, count in enumerate(counts):
            into[index] += count
        if _number(low):
            self.low = low if self.low is None else min(self.low, low)
        if _number(high):
            self.high = high if self.high is None else max(self.high, high)
        self.total = self.total + total if self.total is not None and _number(total) else None

    def subtract(self, bounds: tuple[float, ...], counts: list[int], total: Any = None) -> None:
        into = self.counts.get(bounds)
        if into is not None and len(counts) == len(into):
            for index, count in enumerate(counts):
                into[index] = max(0, into[index] - count)
            # A cumulative point's min and max span its whole series, not the window; its sum
            # subtracts.
            self.bounded = False
            self.total = self.total - total if self.total is not None and _number(total) else None

    def percentile(self, buckets: list[tuple[float, float, int]], q: float) -> float | None:
        """Exact for a few values the points pin down, else interpolated within [min, max]."""
        count = sum(bucket[2] for bucket in buckets)
        low, high = (self.low, self.high) if self.bounded else (None, None)
        values = few_values(count, low, high, self.total)
        if values is not None:
            return exact_percentile(values, q)
        value = interpolate(buckets, q)
        if value is not None and low is not None and high is not None and low <= high:
            value = min(max(value, low), high)
        return value

    def _first_low(self, bounds: tuple[float, ...]) -> float:
        """The open first bucket starts at the smallest value seen, else at 0 (the GenAI
        histograms never hold negative values)."""
        low = self.low if self.low is not None else 0.0
        return min(low, bounds[0]) if bounds else low

    def buckets(self) -> list[tuple[float, float, int]]:
        """(low, high, count) of every non-empty bucket, by upper bound."""
        found = []
        for bounds, counts in self.counts.items():
            for index, count in enumerate(counts):
                if count <= 0:
                    continue
                low = bounds[index - 1] if index else self._first_low(bounds)
                if index < len(bounds):
                    high = bounds[index]
                else:
                    high = self.high if self.high is not None and self.high > low else low
                found.append((low, high, count))
        found.sort(key=lambda bucket: (bucket[1], bucket[0]))
        return found


def interpolate(buckets: list[tuple[float, float, int]], q: float) -> float | None:
    total = sum(count for _, _, count in buckets)
    if total <= 0:
        return None
    rank = q * total
    below = 0
    for low, high, count in buckets:
        if below + count >= rank:
            return low + (high - low) * max(0.0, rank - below) / count
        below += count
    return buckets[-1][1]


class _AttributeMatch:
    """Whether a point's attributes (JSON text) include every wanted pair; memoized per text,
    as a series repeats the same text in every point."""

    def __init__(self, wanted: Mapping[str, Any] | None) -> None:
        self._wanted = dict(wanted or {})
        self._seen: dict[str, bool] = {}

    def __call__(self, text: str | None) -> bool:
        if not self._wanted:
            return True
        key = text or ""
        found = self._seen.get(key)
        if found is None:
            attributes = orjson.loads(text) if text else {}
            found = all(attributes.get(k) == v for k, v in self._wanted.items())
            self._seen[key] = found
        return found


def _latest_per_series(
    conn: sqlite3.Connection,
    names: tuple[str, ...],
    upto: int,
    after: int | None,
    keep: _AttributeMatch,
) -> dict[tuple[Any, ...], int]:
    """Rowid of the latest cumulative point of each series (name, resource, attributes, start
    time) with a time in (after, upto]."""
    sql = (
        "SELECT name, resource_id, attributes, start_time_unix_nano, rowid, max(time_unix_nano)"
        " FROM metric_points INDEXED BY metric_points_cumulative"
        f" WHERE name IN ({', '.join('?' * len(names))})"
        f" AND aggregation_temporality = {_CUMULATIVE} AND time_unix_nano <= ?"
    )
    params: list[Any] = [*names, upto]
    if after is not None:
        sql += " AND time_unix_nano > ?"
        params.append(after)
    sql += " GROUP BY name, resource_id, attributes, start_time_unix_nano"
    return {
        (name, resource, attributes, start): rowid
        for name, resource, attributes, start, rowid, _ in conn.execute(sql, params)
        if keep(attributes)
    }


def _histograms(
    conn: sqlite3.Connection, rowids: Iterable[int]
) -> dict[int, tuple[tuple[float, ...], list[int], Any, Any, Any]]:
    rows = conn.execute(
        "SELECT rowid, explicit_bounds, bucket_counts, min, max, sum FROM metric_points"
        " WHERE rowid IN (SELECT value FROM json_each(?)) AND type = 'histogram'",
        (orjson.dumps(list(rowids)).decode(),),
    )
    return {
        rowid: (tuple(orjson.loads(bounds)), orjson.loads(counts), low, high, total)
        for rowid, bounds, counts, low, high, total in rows
        if bounds and counts
    }


def _add_deltas(
    conn: sqlite3.Connection,
    merged: dict[str, _Merged],
    since: int | None,
    now: int,
    keep: _AttributeMatch,
) -> None:
    """Sum the delta points in the window. They can be many (one per series and export), so
    SQLite concatenates each series' counts and Python sums them column-wise in one go."""
    names = tuple(merged)
    sql = (
        "SELECT name, attributes, explicit_bounds, '[' || group_concat(bucket_counts) || ']',"
        " min(min), max(max), CASE WHEN count(sum) = count(*) THEN sum(sum) END"
        " FROM metric_points INDEXED BY metric_points_delta"
        f" WHERE name IN ({', '.join('?' * len(names))}) AND aggregation_temporality = {_DELTA}"
        " AND time_unix_nano <= ?"
    )
    params: list[Any] = [*names, now]
    if since is not None:
        sql += " AND time_unix_nano > ?"
        params.append(since)
    sql += " GROUP BY name, attributes, explicit_bounds"
    for name, attributes, bounds_text, arrays, low, high, total in conn.execute(sql, params):
        if not bounds_text or not keep(attributes):
            continue
        bounds = tuple(orjson.loads(bounds_text))
        counts = [
            c for c in orjson.loads(arrays) if isinstance(c, list) and len(c) == len(bounds) + 1
        ]
        if counts:
            merged[name].add(
                bounds, [sum(column) for column in zip(*counts, strict=True)], low, high, total
            )


def _merged(
    conn: sqlite3.Connection,
    names: tuple[str, ...],
    since: int | None,
    now: int,
    attributes: Mapping[str, Any] | None,
) -> dict[str, _Merged]:
    """Each metric's points in the window, merged (one pass over the points for all names)."""
    keep = _AttributeMatch(attributes)
    merged = {name: _Merged({}) for name in names}
    _add_deltas(conn, merged, since, now, keep)
    latest = _latest_per_series(conn, names, now, since, keep)
    before = _latest_per_series(conn, names, since, None, keep) if since is not None else {}
    baseline = {key: rowid for key, rowid in before.items() if key in latest}
    points = _histograms(conn, [*latest.values(), *baseline.values()])
    for key, rowid in latest.items():
        if rowid in points:
            merged[key[0]].add(*points[rowid])
    for key, rowid in baseline.items():
        if rowid in points:
            bounds, counts, _, _, total = points[rowid]
            merged[key[0]].subtract(bounds, counts, total)
    return merged


def metric_percentiles(
    conn: sqlite3.Connection,
    clock: Clock,
    name: str,
    quantiles: Iterable[float] = (0.5, 0.95),
    window_s: float | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> dict[float, float | None]:
    """Percentiles of histogram metric `name` over the window, in the metric's unit; only
    points whose attributes include every pair of `attributes`. None when there is no data."""
    merged = _merged(conn, (name,), window_since(clock, window_s), clock(), attributes)[name]
    buckets = merged.buckets()
    return {q: merged.percentile(buckets, q) for q in quantiles}


# (metric name, the value of the grouping attribute or None) -> (points, increase in the window)
Increases = dict[tuple[str, str | None], tuple[int, float]]


def sum_increases(
    conn: sqlite3.Connection,
    names: tuple[str, ...],
    since: int | None,
    now: int,
    by: str | None = None,
) -> Increases:
    """How much each monotonic sum grew in the window (since, now], per name and, with `by`, per
    value of that attribute (Claude Code's `type`: input, output, ...): its delta points added
    up; for each cumulative series its latest value, less its last value before the window if
    any. Points: the delta points and the cumulative series counted."""
    group = f"json_extract(attributes, '$.\"{by}\"')" if by else "NULL"
    marks = ", ".join("?" * len(names))
    window = "time_unix_nano <= ?" + (" AND time_unix_nano > ?" if since is not None else "")
    params: list[Any] = [*names, now] + ([since] if since is not None else [])
    found: dict[tuple[str, str | None], tuple[int, float]] = {}

    def add(name: str, kind: Any, points: int, value: float) -> None:
        key = (name, kind if isinstance(kind, str) else None)
        before = found.get(key, (0, 0.0))
        found[key] = (before[0] + points, before[1] + value)

    for name, kind, points, total in conn.execute(
        f"SELECT name, {group}, count(*), total(value)"
        " FROM metric_points INDEXED BY metric_points_delta"
        f" WHERE name IN ({marks}) AND aggregation_temporality = {_DELTA} AND type = 'sum'"
        f" AND {window} GROUP BY 1, 2",
        params,
    ):
        add(name, kind, points, total)
    series = (
        f"SELECT name, resource_id, attributes, start_time_unix_nano, {group}, value,"
        " max(time_unix_nano) FROM metric_points INDEXED BY metric_points_cumulative"
        f" WHERE name IN ({marks}) AND aggregation_temporality = {_CUMULATIVE} AND type = 'sum'"
        " AND {} GROUP BY name, resource_id, attributes, start_time_unix_nano"
    )
    latest = {row[:4]: row[4:6] for row in conn.execute(series.format(window), params)}
    earlier: dict[tuple[Any, ...], Any] = {}
    if since is not None and latest:
        rows = conn.execute(series.format("time_unix_nano <= ?"), (*names, since))
        earlier = {row[:4]: row[5] for row in rows}
    for key, (kind, value) in latest.items():
        if isinstance(value, int | float):
            base = earlier.get(key)
            add(key[0], kind, 1, value - (base if isinstance(base, int | float) else 0))
    return found


def genai_metric_summary(
    conn: sqlite3.Connection, clock: Clock, window_s: float | None
) -> tuple[MetricSummary, ...]:
    """The GenAI semantic-convention histograms that were received, with count, p50 and p95,
    then the token counters received, with their total over the window."""
    return _histogram_summary(conn, clock, window_s) + _counter_summary(conn, clock, window_s)


def _counter_summary(
    conn: sqlite3.Connection, clock: Clock, window_s: float | None
) -> tuple[MetricSummary, ...]:
    since, now = window_since(clock, window_s), clock()
    found = []
    for name in GENAI_COUNTERS:
        row = conn.execute(
            "SELECT unit FROM metric_points INDEXED BY metric_points_by_name"
            " WHERE name = ? AND type = 'sum' LIMIT 1",
            (name,),
        ).fetchone()
        if row is not None:
            increases = sum_increases(conn, (name,), since, now).values()
            points = sum(each[0] for each in increases)
            total = sum(each[1] for each in increases)
            found.append(MetricSummary(name, row[0], points, None, None, total))
    return tuple(found)


def _histogram_summary(
    conn: sqlite3.Connection, clock: Clock, window_s: float | None
) -> tuple[MetricSummary, ...]:
    units = {}
    for name in GENAI_HISTOGRAMS:
        row = conn.execute(
            "SELECT unit FROM metric_points INDEXED BY metric_points_by_name"
            " WHERE name = ? AND type = 'histogram' LIMIT 1",
            (name,),
        ).fetchone()
        if row is not None:
            units[name] = row[0]
    if not units:
        return ()
    merged = _merged(conn, tuple(units), window_since(clock, window_s), clock(), None)
    found = []
    for name, unit in units.items():
        buckets = merged[name].buckets()
        count = sum(bucket[2] for bucket in buckets)
        p50, p95 = merged[name].percentile(buckets, 0.5), merged[name].percentile(buckets, 0.95)
        found.append(MetricSummary(name, unit, count, p50, p95))
    return tuple(found)


def ttft_metric_names(conn: sqlite3.Connection) -> tuple[str, ...]:
    """The TTFT histogram metrics received at all (one indexed lookup each)."""
    return tuple(
        name
        for name in TTFT_METRICS
        if conn.execute(
            "SELECT 1 FROM metric_points INDEXED BY metric_points_by_name"
            " WHERE name = ? AND type = 'histogram' LIMIT 1",
            (name,),
        ).fetchone()
    )


def model_ttft_from_metrics(
    conn: sqlite3.Connection,
    clock: Clock,
    window_s: float | None,
    model: str,
    names: tuple[str, ...],
) -> MetricTtft | None:
    """The model's TTFT p50/p95 from the first of `names` (see `ttft_metric_names`) with points
    for it (by `gen_ai.response.model`, else `gen_ai.request.model`); None when none has."""
    for name in names:
        unit = conn.execute(
            "SELECT unit FROM metric_points INDEXED BY metric_points_by_name"
            " WHERE name = ? AND type = 'histogram' LIMIT 1",
            (name,),
        ).fetchone()[0]
        scale = 1.0 if unit == "ms" else 1000.0  # the conventions say seconds
        for key in _MODEL_ATTRIBUTES:
            found = metric_percentiles(conn, clock, name, (0.5, 0.95), window_s, {key: model})
            if found[0.5] is not None:
                p95 = found[0.95]
                return MetricTtft(found[0.5] * scale, None if p95 is None else p95 * scale, name)
    return None
