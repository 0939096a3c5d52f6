"""Percentiles of GenAI histogram metrics, interpolated from bucket counts the SDK exported."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from localobs.store import Batch, Store
from localobs.store.metrics_query import genai_metric_summary, interpolate, metric_percentiles
from localobs.store.schema import METRIC_POINT_COLUMNS
from tests.conftest import RunningReceiver

DURATION = "gen_ai.client.operation.duration"


@pytest.fixture(autouse=True)
def endpoint(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)


def _export_durations(temporality: AggregationTemporality) -> None:
    """Two exports: 10 calls of 1.5 s, then 10 of 3 s and one of 10 s (model a), and 5 calls
    of 0.5 s of model b. Buckets (-inf, 1], (1, 2], (2, 4], (4, +inf)."""
    exporter = OTLPMetricExporter(preferred_temporality={Histogram: temporality})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "bot"}),
        metric_readers=[reader],
        views=[
            View(
                instrument_name=DURATION, aggregation=ExplicitBucketHistogramAggregation((1, 2, 4))
            )
        ],
    )
    duration = provider.get_meter("tests").create_histogram(DURATION, unit="s")
    for _ in range(10):
        duration.record(1.5, {"gen_ai.request.model": "a"})
    reader.force_flush()
    for _ in range(10):
        duration.record(3.0, {"gen_ai.request.model": "a"})
    duration.record(10.0, {"gen_ai.request.model": "a"})
    for _ in range(5):
        duration.record(0.5, {"gen_ai.request.model": "b"})
    reader.force_flush()
    provider.shutdown()


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
def test_percentiles_interpolate_the_exported_buckets(
    receiver: RunningReceiver, temporality: AggregationTemporality
) -> None:
    _export_durations(temporality)
    conn = receiver.store.reader()
    # Model a: counts [0, 10, 10, 1] whichever the temporality (cumulative: the latest point
    # only; delta: both exports summed). Rank q * 21 inside its bucket, linearly; the open last
    # bucket ends at the largest value seen (10 s).
    a = metric_percentiles(
        conn,
        time.time_ns,
        DURATION,
        (0.25, 0.5, 0.95, 1.0),
        attributes={"gen_ai.request.model": "a"},
    )
    assert a[0.25] == pytest.approx(1 + 5.25 / 10)
    assert a[0.5] == pytest.approx(2 + 2 * 0.5 / 10)
    assert a[0.95] == pytest.approx(2 + 2 * 9.95 / 10)
    assert a[1.0] == pytest.approx(10)
    # Both models: [5, 10, 10, 1]; the first bucket starts at the smallest value seen (0.5 s).
    both = metric_percentiles(conn, time.time_ns, DURATION, (0.1,))
    assert both[0.1] == pytest.approx(0.5 + 0.5 * 2.6 / 5)
    assert metric_percentiles(conn, time.time_ns, "no.such.metric") == {0.5: None, 0.95: None}
    (summary,) = genai_metric_summary(conn, time.time_ns, None)
    assert (summary.name, summary.unit, summary.count) == (DURATION, "s", 26)


def _point(time_s: float, counts: list[int], *, start_s: float = 0, **values: Any) -> tuple:
    t0 = 1_780_000_000 * 10**9
    row = {
        "name": DURATION,
        "unit": "s",
        "type": "histogram",
        "service_name": "bot",
        "resource_id": 1,
        "start_time_unix_nano": t0 + round(start_s * 1e9),
        "time_unix_nano": t0 + round(time_s * 1e9),
        "attributes": orjson.dumps({"gen_ai.request.model": "a"}).decode(),
        "count": sum(counts),
        "bucket_counts": orjson.dumps(counts).decode(),
        "explicit_bounds": "[1.0,2.0,4.0]",
        "max": 8.0,
        "aggregation_temporality": 2,
        "flags": 0,
        **values,
    }
    return tuple(row.get(column) for column in METRIC_POINT_COLUMNS)


def test_a_window_over_cumulative_points_counts_only_what_happened_in_it(store: Store) -> None:
    batch = Batch("metrics", "cumulative-window")
    batch.rows = [
        _point(60, [0, 5, 0, 0]),
        _point(120, [0, 5, 5, 0]),
        _point(180, [0, 5, 5, 10]),
        # A restart: a new series (new start time) counted from zero.
        _point(170, [0, 0, 0, 2], start_s=150),
    ]
    store.submit(batch).result(timeout=30)
    conn = store.reader()

    def now() -> int:
        return 1_780_000_000 * 10**9 + 180 * 10**9

    # Since 90 s: 180 s minus the last point before the window (60 s), plus the new series:
    # [0, 0, 5, 12]; rank 0.5 * 17 = 8.5 lies in (4, 8] (the max): 4 + 4 * 3.5 / 12.
    windowed = metric_percentiles(conn, now, DURATION, (0.5,), window_s=90)
    assert windowed[0.5] == pytest.approx(4 + 4 * 3.5 / 12)
    # All time: the latest point of each series, [0, 5, 5, 12].
    everything = metric_percentiles(conn, now, DURATION, (0.5,))
    assert everything[0.5] == pytest.approx(4 + 4 * 1 / 12)


def test_interpolation_walks_buckets_by_rank() -> None:
    buckets = [(0.0, 1.0, 4), (1.0, 2.0, 4), (2.0, 4.0, 2)]
    assert interpolate(buckets, 0.5) == pytest.approx(1.25)
    assert interpolate(buckets, 0.0) == 0.0
    assert interpolate(buckets, 1.0) == 4.0
    assert interpolate([], 0.5) is None
