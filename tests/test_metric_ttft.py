"""TTFT histogram metrics: percentiles of a few observations are the observations (from the points'
own min, max and sum, not bucket midpoints), and a model whose calls carry no TTFT takes it from
the metric, labelled with the metric's name."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from textual.widgets import DataTable

from localobs.cli import main
from localobs.store.histogram import few_values
from localobs.store.metrics_query import metric_percentiles
from localobs.store.stats import TTFT_FROM_CALLS, totals
from localobs.tui.app import LocalobsApp
from localobs.tui.widgets.calls_table import CallsTable
from tests.conftest import RunningReceiver
from tests.tui_pilot import wait_until

TTFT = "gen_ai.client.operation.time_to_first_chunk"


def test_few_values_are_pinned_down_by_min_max_and_sum() -> None:
    assert few_values(1, 0.12, 0.12, 0.12) == [0.12]
    assert few_values(1, None, None, 0.3) == [0.3]  # only a sum was sent
    assert few_values(2, 0.1, 0.4, 0.5) == [0.1, 0.4]
    assert few_values(3, 0.1, 0.4, 0.7) == pytest.approx([0.1, 0.2, 0.4])
    assert few_values(3, 0.1, 0.4, None) is None  # the middle one is unknown
    assert few_values(3, 0.1, 0.4, 5.0) is None  # inconsistent: not three values in [min, max]
    assert few_values(4, 0.1, 0.4, 1.0) is None
    assert few_values(2, None, 0.4, 0.5) is None


def _export(values: list[tuple[float, str]], temporality: AggregationTemporality) -> None:
    """TTFTs (seconds, model) through the real SDK, with its default buckets (0, 5, 10, 25, ...):
    every value here falls in (0, 5], whose midpoint is 2.5 s."""
    exporter = OTLPMetricExporter(preferred_temporality={Histogram: temporality})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "bot"}), metric_readers=[reader]
    )
    ttft = provider.get_meter("tests").create_histogram(TTFT, unit="s")
    for value, model in values:
        ttft.record(value, {"gen_ai.request.model": model, "gen_ai.operation.name": "chat"})
    reader.force_flush()
    provider.shutdown()


@pytest.fixture(autouse=True)
def endpoint(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)


@pytest.mark.parametrize(
    "temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]
)
def test_a_few_observations_give_their_own_percentiles(
    receiver: RunningReceiver, temporality: AggregationTemporality
) -> None:
    _export([(0.12, "one"), (0.1, "two"), (0.4, "two")] + [(v, "three") for v in (0.1, 0.2, 0.4)],
            temporality)  # fmt: skip
    conn = receiver.store.reader()
    try:

        def percentiles(model: str) -> dict[float, float | None]:
            return metric_percentiles(
                conn, time.time_ns, TTFT, (0.5, 0.95), attributes={"gen_ai.request.model": model}
            )

        assert percentiles("one") == {0.5: pytest.approx(0.12), 0.95: pytest.approx(0.12)}
        assert percentiles("two") == {0.5: pytest.approx(0.25), 0.95: pytest.approx(0.385)}
        assert percentiles("three") == {0.5: pytest.approx(0.2), 0.95: pytest.approx(0.38)}
        # Many observations are interpolated, but never outside the values' min and max.
        everything = metric_percentiles(conn, time.time_ns, TTFT, (0.5, 1.0))
        assert 0.1 <= (everything[0.5] or 0) <= 0.4 and everything[1.0] == pytest.approx(0.4)
    finally:
        conn.close()


def _span(span_id: str, model: str) -> dict[str, object]:
    start = time.time_ns() - 2_000_000_000
    return {
        "traceId": "cd" * 16,
        "spanId": span_id,
        "name": f"chat {model}",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1_000_000_000),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": model}},
        ]
        + (
            [{"key": "gen_ai.response.time_to_first_chunk", "value": {"doubleValue": 0.05}}]
            if model == "with-span-ttft"
            else []
        ),
    }


def test_a_model_without_span_ttft_takes_the_metrics_labelled(receiver: RunningReceiver) -> None:
    spans = [_span("01" * 8, "metric-only"), _span("02" * 8, "with-span-ttft")]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    assert httpx.post(f"{receiver.url}/v1/traces", json=body).status_code == 200
    _export([(0.12, "metric-only"), (0.9, "with-span-ttft")], AggregationTemporality.CUMULATIVE)
    conn = receiver.store.reader()
    try:
        per_model = {stats.model: stats for stats in totals(conn, time.time_ns, None).per_model}
    finally:
        conn.close()
    from_metric = per_model["metric-only"]
    assert from_metric.ttft_p50_ms == pytest.approx(120.0)  # not the bucket's 2.5 s
    assert from_metric.ttft_source == TTFT
    # A model whose calls carry TTFT keeps its calls' figure; the metric does not mix in.
    assert per_model["with-span-ttft"].ttft_p50_ms == pytest.approx(50.0)
    assert per_model["with-span-ttft"].ttft_source == TTFT_FROM_CALLS

    shown = CliRunner().invoke(main, ["stats", "--db", str(receiver.store.path)])
    assert shown.exit_code == 0, shown.output
    assert "120.0 ms*" in shown.output
    assert f"* metric-only: TTFT from the metric {TTFT}" in shown.output


async def test_the_components_screen_labels_a_ttft_from_a_metric(
    receiver: RunningReceiver, tmp_path: Path
) -> None:
    spans = [_span("03" * 8, "metric-only"), _span("04" * 8, "with-span-ttft")]
    body = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    assert httpx.post(f"{receiver.url}/v1/traces", json=body).status_code == 200
    _export([(0.12, "metric-only")], AggregationTemporality.DELTA)
    app = LocalobsApp(receiver.store, endpoint_url=receiver.url, export_dir=tmp_path)
    async with app.run_test(size=(140, 36)) as pilot:
        await wait_until(pilot, lambda: app.screen.query_one(CallsTable).row_count == 2)
        await pilot.press("c")
        models = app.screen.query_one("#models", DataTable)
        await wait_until(pilot, lambda: models.row_count == 2)
        rows = {str(models.get_row_at(i)[0]): models.get_row_at(i) for i in range(2)}
    assert str(rows["metric-only"][4]) == "120 ms metric"
    assert "metric" not in str(rows["with-span-ttft"][4])
