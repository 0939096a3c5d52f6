"""The real OpenTelemetry SDK, configured only by OTEL_EXPORTER_OTLP_ENDPOINT, exporting to us."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import StatusCode

from localobs.store.queries import database_summary, list_spans
from tests.conftest import RunningReceiver

RESOURCE = Resource.create({"service.name": "sdk-test", "deployment.environment": "test"})


@pytest.fixture(autouse=True)
def endpoint(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)


def test_spans_from_the_sdk_are_stored_with_their_tree_and_attributes(
    receiver: RunningReceiver,
) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("test-scope", "1.2.3")
    with tracer.start_as_current_span("workflow") as root:
        root.set_attribute("big", 2**62 + 1)
        root.set_attribute("ratio", 0.25)
        root.set_attribute("tags", ["a", "b"])
        with tracer.start_as_current_span("step") as child:
            child.add_event("thinking", {"round": 2})
            child.set_status(StatusCode.ERROR, "boom")
    provider.shutdown()

    conn = receiver.store.reader()
    spans = {span.name: span for span in list_spans(conn)}
    assert set(spans) == {"workflow", "step"}
    root_span, child_span = spans["workflow"], spans["step"]
    assert child_span.parent_span_id == root_span.span_id
    assert child_span.trace_id == root_span.trace_id
    assert root_span.parent_span_id is None
    assert root_span.service_name == "sdk-test"
    assert root_span.attributes == {"big": 2**62 + 1, "ratio": 0.25, "tags": ["a", "b"]}
    assert child_span.status_code == 2
    events = json.loads(conn.execute("SELECT events FROM spans WHERE name = 'step'").fetchone()[0])
    assert events[0]["name"] == "thinking" and events[0]["attributes"] == {"round": 2}
    scope = conn.execute("SELECT name, version FROM scopes").fetchone()
    assert scope == ("test-scope", "1.2.3")


def test_logs_and_metrics_from_the_sdk_are_stored(receiver: RunningReceiver) -> None:
    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    logger = logging.getLogger("sdk-test")
    logger.propagate = False
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    logger.addHandler(handler)
    try:
        logger.warning("disk at %d%%", 91)
    finally:
        logger.removeHandler(handler)
        logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = meter_provider.get_meter("test-meter")
    meter.create_counter("requests").add(3, {"route": "/a"})
    histogram = meter.create_histogram("latency", unit="s")
    for value in (0.1, 0.2, 0.4):
        histogram.record(value)
    meter_provider.shutdown()

    conn = receiver.store.reader()
    body, severity, service = conn.execute(
        "SELECT body, severity_number, service_name FROM logs"
    ).fetchone()
    assert json.loads(body) == "disk at 91%"
    assert severity == SeverityNumber.WARN.value
    assert service == "sdk-test"
    counter = conn.execute(
        "SELECT type, value, is_monotonic, attributes FROM metric_points WHERE name='requests'"
    ).fetchone()
    assert counter[:3] == ("sum", 3, 1)
    assert json.loads(counter[3]) == {"route": "/a"}
    count, total, bounds = conn.execute(
        "SELECT count, sum, explicit_bounds FROM metric_points WHERE name = 'latency'"
    ).fetchone()
    assert count == 3 and total == pytest.approx(0.7)
    assert json.loads(bounds)[:3] == [0.0, 5.0, 10.0]
    summary = database_summary(conn)
    assert (summary.logs, summary.metric_points) == (1, 2)


def test_cli_reads_back_what_the_sdk_sent(receiver: RunningReceiver) -> None:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("t").start_as_current_span("only-span"):
        pass
    provider.shutdown()

    db = str(receiver.store.path)
    info = subprocess.run(
        [sys.executable, "-m", "localobs", "info", "--json", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(info.stdout)["spans"] == 1
    listed = subprocess.run(
        [sys.executable, "-m", "localobs", "spans", "--json", "--db", db],
        capture_output=True,
        text=True,
        check=True,
    )
    (span,) = json.loads(listed.stdout)
    assert span["name"] == "only-span" and span["service_name"] == "sdk-test"
    by_trace = subprocess.run(
        [sys.executable, "-m", "localobs", "spans", "--db", db, "--trace-id", span["trace_id"]],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "only-span" in by_trace.stdout
