"""Totals, latency statistics and cost of model calls (overall and per model), and activity over
time.

Percentiles are exact while a question covers at most EXACT_LIMIT calls (read from the covering
index); beyond that they come from the rollups' log buckets (see histogram.py) plus the raw calls
not folded yet. Counts and token sums are always exact.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace

import orjson

from localobs.store.call_amounts import (
    CALL_AMOUNTS_SQL,
    NO_AMOUNTS,
    CallAmounts,
    amounts_cost,
    plain_amounts,
    row_amounts,
)
from localobs.store.call_columns import DURATION_MS_SQL, IS_ERROR_SQL, MODEL_SQL, TOKENS_PER_S_SQL
from localobs.store.call_filter import (
    ALL_CALLS,
    CallFilter,
    effective_since,
    rollup_conditions,
    row_conditions,
)
from localobs.store.components import ComponentStats, component_stats
from localobs.store.cost import (
    UNKNOWN,
    Cost,
    find_price,
    is_local,
    price_table,
    sum_costs,
)
from localobs.store.histogram import (
    BUCKETS_PER_DOUBLING,
    LOWEST_INDEX,
    Distribution,
    decode_buckets,
)
from localobs.store.metrics_query import model_ttft_from_metrics, ttft_metric_names
from localobs.store.rollups import watermark
from localobs.store.windows import Clock, rollup_range, window_since

__all__ = [
    "TTFT_FROM_CALLS",
    "Activity",
    "ComponentStats",
    "LatencyHistogram",
    "ModelStats",
    "Totals",
    "activity",
    "component_stats",
    "latency_histograms",
    "totals",
]

EXACT_LIMIT = 10_000
UNKNOWN_MODEL = "unknown"


@dataclass(frozen=True, slots=True)
class ModelStats:
    model: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    duration_p50_ms: float | None
    duration_p95_ms: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tokens_per_s_p50: float | None
    calls_with_usage: int = 0
    cost_usd: float | None = None  # reported costs plus the table's price of the others' tokens
    cost_source: str | None = None  # store/cost.py: reported (every call reported its cost),
    # price_table or local (how the other calls were priced); None: unknown
    unpriced_calls: int = 0  # calls whose cost is unknown (no price, or no token counts)
    # Estimates for counts nobody reported (store/token_estimate.py), never added to the above.
    estimated_calls: int = 0
    input_tokens_estimate: int = 0
    output_tokens_estimate: int = 0
    # Of input_tokens, those read from and written to a provider's cache (where reported).
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    ttft_source: str | None = None
    """TTFT_FROM_CALLS: the calls' own TTFTs; else the TTFT histogram metric the figures came
    from, used only where none of the model's calls carries a TTFT; None: no TTFT."""


TTFT_FROM_CALLS = "calls"


@dataclass(frozen=True, slots=True)
class Totals:
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    duration_p50_ms: float | None
    duration_p95_ms: float | None
    ttft_p50_ms: float | None
    tokens_per_s_p50: float | None
    per_model: tuple[ModelStats, ...]
    ttft_p95_ms: float | None = None
    calls_with_usage: int = 0  # calls that reported output tokens (streams often do not)
    exact_percentiles: bool = True  # False: interpolated from rollup buckets (within ~4 %)
    cost_usd: float | None = None  # the known per-model costs summed; None: none known
    unpriced_calls: int = 0
    # Of input_tokens, those read from and written to a provider's cache (where reported).
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    estimated_calls: int = 0  # calls whose token counts nobody reported, estimated instead
    input_tokens_estimate: int = 0
    output_tokens_estimate: int = 0


@dataclass(frozen=True, slots=True)
class Activity:
    start_unix_nano: int
    bucket_s: float
    calls: tuple[int, ...]
    tokens: tuple[int, ...]  # input + output tokens
    errors: tuple[int, ...]


@dataclass(slots=True)
class _Tally:
    calls: int = 0
    errors: int = 0
    amounts: CallAmounts = NO_AMOUNTS
    duration: Distribution = field(default_factory=Distribution)
    ttft: Distribution = field(default_factory=Distribution)
    speed: Distribution = field(default_factory=Distribution)

    def merge(self, other: _Tally) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.amounts = self.amounts.plus(other.amounts)
        for mine, theirs in (
            (self.duration, other.duration),
            (self.ttft, other.ttft),
            (self.speed, other.speed),
        ):
            mine.extend(theirs.values)
            mine.add_buckets(theirs.buckets)

    def model_stats(self, model: str, cost: Cost = UNKNOWN, unpriced: int = 0) -> ModelStats:
        duration_p50, duration_p95 = self.duration.percentiles(0.5, 0.95)
        ttft_p50, ttft_p95 = self.ttft.percentiles(0.5, 0.95)
        amounts = self.amounts
        return ModelStats(
            model=model,
            calls=self.calls,
            errors=self.errors,
            input_tokens=amounts.input_tokens,
            output_tokens=amounts.output_tokens,
            duration_p50_ms=duration_p50,
            duration_p95_ms=duration_p95,
            ttft_p50_ms=ttft_p50,
            ttft_p95_ms=ttft_p95,
            ttft_source=None if ttft_p50 is None else TTFT_FROM_CALLS,
            tokens_per_s_p50=self.speed.percentiles(0.5)[0],
            calls_with_usage=amounts.usage_calls,
            cost_usd=cost.usd,
            cost_source=cost.source,
            unpriced_calls=unpriced,
            estimated_calls=amounts.estimated_calls,
            input_tokens_estimate=amounts.input_tokens_estimate,
            output_tokens_estimate=amounts.output_tokens_estimate,
        )


def _tally(tallies: dict[str, _Tally], model: str | None) -> _Tally:
    key = model or UNKNOWN_MODEL
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = _Tally()
    return tally


def _rolled_up_calls(conn: sqlite3.Connection, since: int | None, flt: CallFilter) -> int:
    window, window_params = rollup_range(since)
    keys, key_params = rollup_conditions(flt)
    return int(
        conn.execute(
            f"SELECT coalesce(sum(count), 0) FROM call_rollup WHERE {window} AND {keys}",
            (*window_params, *key_params),
        ).fetchone()[0]
    )


def _rolled_up(conn: sqlite3.Connection, since: int | None, flt: CallFilter) -> dict[str, _Tally]:
    window, window_params = rollup_range(since)
    keys, key_params = rollup_conditions(flt)
    rows = conn.execute(
        f"SELECT request_model, response_model, is_error, count, {', '.join(CallAmounts._fields)},"
        " duration_buckets, ttft_buckets, tokens_per_s_buckets FROM call_rollup"
        f" WHERE {window} AND {keys}",
        (*window_params, *key_params),
    )
    tallies: dict[str, _Tally] = {}
    amount_columns = len(CallAmounts._fields)
    for request, response, error, count, *rest in rows:
        tally = _tally(tallies, response or request)
        tally.calls += count
        tally.errors += count if error else 0
        tally.amounts = tally.amounts.plus(CallAmounts._make(rest[:amount_columns]))
        buckets = rest[amount_columns:]
        for measure, text in zip((tally.duration, tally.ttft, tally.speed), buckets, strict=True):
            measure.add_buckets(decode_buckets(text))
    return tallies


_RAW_SQL = (
    f"{MODEL_SQL}, {IS_ERROR_SQL}, {DURATION_MS_SQL}, ttft_ms, {TOKENS_PER_S_SQL},"
    f" input_tokens, output_tokens, {CALL_AMOUNTS_SQL}"
)


def _raw(
    conn: sqlite3.Connection, flt: CallFilter, since: int | None, above_rowid: int | None
) -> dict[str, _Tally]:
    """Calls from their rows: all matching ones, or only those above a rowid (the tail)."""
    where, params = row_conditions(conn, flt, since)
    if above_rowid is None:
        source = "spans INDEXED BY llm_calls_list"
    else:
        source = "spans NOT INDEXED"
        where = f"rowid > ? AND {where}"
        params.insert(0, above_rowid)
    tallies: dict[str, _Tally] = {}
    plain: dict[str, list[tuple[int | None, int | None]]] = {}
    other: dict[str, list[CallAmounts]] = {}
    rows = conn.execute(f"SELECT {_RAW_SQL} FROM {source} WHERE {where}", params)
    for model, error, duration, ttft, speed, tokens_in, tokens_out, columns in rows:
        tally = tallies.get(model) or _tally(tallies, model)
        tally.calls += 1
        tally.errors += error
        tally.duration.values.append(duration)
        if ttft is not None:
            tally.ttft.values.append(ttft)
        if speed is not None:
            tally.speed.values.append(speed)
        if columns is None:
            plain.setdefault(model, []).append((tokens_in, tokens_out))
        else:
            other.setdefault(model, []).append(row_amounts(*orjson.loads(columns)))
    for model, counts in plain.items():
        tally = _tally(tallies, model)
        tally.amounts = tally.amounts.plus(plain_amounts(counts))
    for model, items in other.items():
        tally = _tally(tallies, model)
        tally.amounts = tally.amounts.plus(CallAmounts.total(items))
    return tallies


def _tallies(
    conn: sqlite3.Connection, since: int | None, flt: CallFilter
) -> tuple[dict[str, _Tally], bool]:
    """Per model tallies of the window; True when they come from rollups (plus the tail)."""
    rolled = not flt.needs_rows and _rolled_up_calls(conn, since, flt) > EXACT_LIMIT
    if not rolled:
        return _raw(conn, flt, since, None), False
    tallies = _rolled_up(conn, since, flt)
    for model, tally in _raw(conn, flt, since, watermark(conn)).items():
        _tally(tallies, model).merge(tally)
    return tallies, True


def _provider(conn: sqlite3.Connection, model: str | None) -> str | None:
    """The provider of the model's first call in the index. Totals see only model names (the
    rollups keep no provider), and a model name is served by one provider in practice; this one
    lookup tells a local model with an unremarkable name (Ollama's `llama3.2`) from an unknown
    cloud model."""
    row = conn.execute(
        "SELECT provider FROM spans INDEXED BY llm_calls_list"
        f" WHERE operation IS NOT NULL AND {MODEL_SQL} IS ? LIMIT 1",
        (model,),
    ).fetchone()
    return None if row is None else row[0]


def _model_stats(conn: sqlite3.Connection, model: str, tally: _Tally) -> ModelStats:
    """A model's figures with its cost: the costs its calls reported plus the table's price of
    the other calls' token sums (store/call_amounts.py)."""
    name = None if model == UNKNOWN_MODEL else model
    table = price_table()
    known = find_price(name, table) is not None or is_local(None, name, table)
    provider = None if known else _provider(conn, name)
    cost, unpriced = amounts_cost(provider, name, tally.calls, tally.amounts, table)
    return tally.model_stats(model, cost, unpriced)


def _ttft_from_metrics(
    conn: sqlite3.Connection, clock: Clock, window_s: float | None, per_model: list[ModelStats]
) -> list[ModelStats]:
    """Models none of whose calls carries a TTFT take it from a TTFT histogram metric, labelled
    with the metric's name (openai-v2, for one, records the metric but sets no span attribute)."""
    missing = [stats for stats in per_model if stats.ttft_p50_ms is None]
    names = ttft_metric_names(conn) if missing else ()
    if not names:
        return per_model
    filled = []
    for stats in per_model:
        found = None
        if stats.ttft_p50_ms is None and stats.model != UNKNOWN_MODEL:
            found = model_ttft_from_metrics(conn, clock, window_s, stats.model, names)
        if found is not None:
            stats = replace(
                stats, ttft_p50_ms=found.p50_ms, ttft_p95_ms=found.p95_ms, ttft_source=found.source
            )
        filled.append(stats)
    return filled


def _cache_sums(
    conn: sqlite3.Connection, flt: CallFilter, since: int | None
) -> dict[str, tuple[int, int]]:
    """Cache read and write tokens per model, from the calls that report any (a partial index
    holds only those, so this costs nothing while no client sends cache usage)."""
    where, params = row_conditions(conn, flt, since)
    rows = conn.execute(
        f"SELECT {MODEL_SQL}, sum(cache_read_tokens), sum(cache_write_tokens)"
        " FROM spans INDEXED BY llm_calls_cached"
        f" WHERE (cache_read_tokens IS NOT NULL OR cache_write_tokens IS NOT NULL) AND {where}"
        f" GROUP BY {MODEL_SQL}",
        params,
    )
    return {model or UNKNOWN_MODEL: (read or 0, write or 0) for model, read, write in rows}


def totals(
    conn: sqlite3.Connection,
    clock: Clock,
    window_s: float | None,
    flt: CallFilter = ALL_CALLS,
) -> Totals:
    """Calls, errors, tokens and latency percentiles in the window, overall and per model."""
    since = effective_since(flt, window_since(clock, window_s))
    tallies, rolled = _tallies(conn, since, flt)
    caches = _cache_sums(conn, flt, since)
    overall = _Tally()
    for tally in tallies.values():
        overall.merge(tally)
    per_model = sorted(
        (
            replace(
                _model_stats(conn, model, tally),
                cache_read_tokens=caches.get(model, (0, 0))[0],
                cache_write_tokens=caches.get(model, (0, 0))[1],
            )
            for model, tally in tallies.items()
        ),
        key=lambda stats: (-stats.calls, stats.model),
    )
    if flt == ALL_CALLS:  # metrics cannot be filtered by service, text or duration
        per_model = _ttft_from_metrics(conn, clock, window_s, per_model)
    cost = sum_costs([Cost(stats.cost_usd, stats.cost_source) for stats in per_model])
    everything = overall.model_stats("")
    return Totals(
        calls=everything.calls,
        errors=everything.errors,
        input_tokens=everything.input_tokens,
        output_tokens=everything.output_tokens,
        duration_p50_ms=everything.duration_p50_ms,
        duration_p95_ms=everything.duration_p95_ms,
        ttft_p50_ms=everything.ttft_p50_ms,
        tokens_per_s_p50=everything.tokens_per_s_p50,
        per_model=tuple(per_model),
        ttft_p95_ms=everything.ttft_p95_ms,
        calls_with_usage=everything.calls_with_usage,
        exact_percentiles=not rolled,
        cost_usd=cost.usd,
        unpriced_calls=sum(stats.unpriced_calls for stats in per_model),
        cache_read_tokens=sum(read for read, _ in caches.values()),
        cache_write_tokens=sum(write for _, write in caches.values()),
        estimated_calls=everything.estimated_calls,
        input_tokens_estimate=everything.input_tokens_estimate,
        output_tokens_estimate=everything.output_tokens_estimate,
    )


def activity(
    conn: sqlite3.Connection,
    clock: Clock,
    window_s: float | None,
    buckets: int = 30,
    flt: CallFilter = ALL_CALLS,
) -> Activity:
    """Calls, tokens and errors per time bucket over the window (all time: from the first call)."""
    now = clock()
    since = effective_since(flt, window_since(clock, window_s))
    if since is None:
        first = conn.execute(
            "SELECT min(start_time_unix_nano) FROM spans INDEXED BY llm_calls_list"
            " WHERE operation IS NOT NULL"
        ).fetchone()[0]
        since = first if first is not None and first < now else now
    width = max(1, -(-(now - since) // buckets))
    calls, tokens, errors = [0] * buckets, [0] * buckets, [0] * buckets
    where, params = row_conditions(conn, flt, since)
    rows = conn.execute(
        "SELECT min((start_time_unix_nano - ?) / ?, ?), count(*),"
        " sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)),"
        f" sum({IS_ERROR_SQL})"
        f" FROM spans INDEXED BY llm_calls_list WHERE {where} GROUP BY 1",
        (since, width, buckets - 1, *params),
    )
    for index, count, used, failed in rows:
        calls[index] += count
        tokens[index] += used
        errors[index] += failed
    return Activity(since, width / 1e9, tuple(calls), tuple(tokens), tuple(errors))


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """One model's durations and TTFTs as counts per doubling: (upper bound in ms, count),
    ascending. Rollups keep log buckets 2^(1/8) wide; a plot needs far fewer bars."""

    model: str
    duration_ms: tuple[tuple[float, int], ...]
    ttft_ms: tuple[tuple[float, int], ...]


def _per_doubling(counts: dict[int, int]) -> tuple[tuple[float, int], ...]:
    doubled: dict[int, int] = {}
    for index, count in counts.items():
        key = max(index, LOWEST_INDEX) // BUCKETS_PER_DOUBLING + 1
        doubled[key] = doubled.get(key, 0) + count
    if not doubled:
        return ()
    keys = range(min(doubled), max(doubled) + 1)  # empty doublings in between stay, as 0
    return tuple((2.0**key, doubled.get(key, 0)) for key in keys)


def latency_histograms(
    conn: sqlite3.Connection,
    clock: Clock,
    window_s: float | None,
    flt: CallFilter = ALL_CALLS,
) -> tuple[LatencyHistogram, ...]:
    """Per model (most calls first), how durations and TTFTs spread over the window."""
    tallies, _rolled = _tallies(conn, effective_since(flt, window_since(clock, window_s)), flt)
    ordered = sorted(tallies.items(), key=lambda item: (-item[1].calls, item[0]))
    return tuple(
        LatencyHistogram(
            model,
            _per_doubling(tally.duration.bucket_counts()),
            _per_doubling(tally.ttft.bucket_counts()),
        )
        for model, tally in ordered
    )
