"""OTLP/gRPC: the real SDK gRPC exporters with their defaults, and bad input over gRPC."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from localobs.receiver.grpc_server import SERVICES, GrpcReceiver
from localobs.store import Store
from localobs.store.queries import database_summary, list_spans
from tests.conftest import RunningReceiver
from tests.otlp_samples import trace_request

RESOURCE = Resource.create({"service.name": "grpc-test"})
MAX_BODY = 1 << 20


@dataclass
class Listeners:
    http: RunningReceiver
    grpc: GrpcReceiver

    @property
    def store(self) -> Store:
        return self.http.store


@pytest.fixture
def listeners(receiver: RunningReceiver) -> Iterator[Listeners]:
    """The HTTP receiver fixture plus a gRPC listener on the same store, as `localobs up` runs."""
    server = GrpcReceiver(receiver.store, "127.0.0.1", 0, max_body=MAX_BODY)
    server.start()
    yield Listeners(receiver, server)
    server.stop(5)


def export_traces(target: str, body: bytes, **kwargs: object) -> ExportTraceServiceResponse:
    """One raw TraceService/Export call: the bytes go out exactly as given."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            f"/{SERVICES['traces']}/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        return call(body, timeout=30, **kwargs)


def target(server: GrpcReceiver) -> str:
    return f"127.0.0.1:{server.port}"


def test_the_sdk_grpc_exporters_with_only_the_endpoint_set_store_all_signals(
    listeners: Listeners, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [key for key in os.environ if key.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", listeners.grpc.url)

    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    tracer = tracer_provider.get_tracer("grpc-scope", "0.1")
    with tracer.start_as_current_span("parent") as parent:
        parent.set_attribute("big", 2**62 + 1)
        with tracer.start_as_current_span("child"):
            pass
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    logger = logging.getLogger("grpc-test")
    logger.propagate = False
    handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
    logger.addHandler(handler)
    try:
        logger.warning("queue at %d%%", 97)
    finally:
        logger.removeHandler(handler)
        logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter_provider.get_meter("m").create_counter("jobs").add(5, {"queue": "a"})
    meter_provider.shutdown()

    conn = listeners.store.reader()
    spans = {span.name: span for span in list_spans(conn)}
    assert spans["child"].parent_span_id == spans["parent"].span_id
    assert spans["parent"].attributes == {"big": 2**62 + 1}
    assert spans["parent"].service_name == "grpc-test"
    assert conn.execute("SELECT body FROM logs").fetchone() == ('"queue at 97%"',)
    assert conn.execute("SELECT type, value FROM metric_points").fetchone() == ("sum", 5)


def test_gzip_requests_are_accepted(listeners: Listeners) -> None:
    body = trace_request(4).SerializeToString()
    export_traces(target(listeners.grpc), body, compression=grpc.Compression.Gzip)
    assert database_summary(listeners.store.reader()).spans == 4


def assert_still_serving(listeners: Listeners, spans_before: int) -> None:
    """Earlier data intact, and both listeners store new batches."""
    export_traces(
        target(listeners.grpc), trace_request(1, name_prefix="grpc-after").SerializeToString()
    )
    response = httpx.post(
        f"{listeners.http.url}/v1/traces",
        content=trace_request(1, name_prefix="http-after").SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    names = {span.name for span in list_spans(listeners.store.reader(), limit=1000)}
    assert len(names) == spans_before + 2
    assert {"grpc-after-0", "http-after-0"} <= names


def test_garbage_bytes_are_invalid_argument(listeners: Listeners) -> None:
    export_traces(target(listeners.grpc), trace_request(3, name_prefix="kept").SerializeToString())
    with pytest.raises(grpc.RpcError) as raised:
        export_traces(target(listeners.grpc), b"\xff\xff\xff\xff not protobuf")
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in raised.value.details()
    assert_still_serving(listeners, 3)


def test_an_oversize_message_is_resource_exhausted_with_the_sizes(listeners: Listeners) -> None:
    request = trace_request(1)
    request.resource_spans[0].scope_spans[0].spans[0].name = "x" * (MAX_BODY + 10)
    with pytest.raises(grpc.RpcError) as raised:
        export_traces(target(listeners.grpc), request.SerializeToString())
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(MAX_BODY) in raised.value.details()
    assert_still_serving(listeners, 0)


def test_an_oversize_message_hidden_by_gzip_is_refused_too(listeners: Listeners) -> None:
    request = trace_request(1)
    request.resource_spans[0].scope_spans[0].spans[0].name = "x" * (MAX_BODY + 10)
    with pytest.raises(grpc.RpcError) as raised:
        export_traces(
            target(listeners.grpc), request.SerializeToString(), compression=grpc.Compression.Gzip
        )
    assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert_still_serving(listeners, 0)


def test_wrong_length_ids_are_refused_one_by_one_with_partial_success(
    listeners: Listeners,
) -> None:
    request = trace_request(3)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 15
    spans[1].span_id = b"\x02" * 9
    response = export_traces(target(listeners.grpc), request.SerializeToString())
    assert response.partial_success.rejected_spans == 2
    assert "trace_id must be 16 bytes" in response.partial_success.error_message
    assert [span.name for span in list_spans(listeners.store.reader())] == ["span-2"]
    assert_still_serving(listeners, 1)


def test_a_token_is_required_in_the_authorization_metadata(store: Store) -> None:
    server = GrpcReceiver(store, "127.0.0.1", 0, max_body=MAX_BODY, token="s3cret")
    server.start()
    try:
        body = trace_request(1).SerializeToString()
        for metadata in [(), (("authorization", "Bearer wrong"),)]:
            with pytest.raises(grpc.RpcError) as raised:
                export_traces(target(server), body, metadata=metadata)
            assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert database_summary(store.reader()).spans == 0
        export_traces(target(server), body, metadata=(("authorization", "Bearer s3cret"),))
        assert database_summary(store.reader()).spans == 1
    finally:
        server.stop(5)


def test_a_full_queue_is_resource_exhausted_with_retry_info(tmp_path: Path) -> None:
    """The fault is caused for real: another connection holds SQLite's write lock."""
    db = tmp_path / "busy.db"
    store = Store(db)
    store.start_writer(max_pending_bytes=1)
    server = GrpcReceiver(store, "127.0.0.1", 0, max_body=MAX_BODY)
    server.start()
    blocker = sqlite3.connect(db)
    blocker.execute("BEGIN IMMEDIATE")
    first: list[ExportTraceServiceResponse] = []
    waiting = threading.Thread(
        target=lambda: first.append(
            export_traces(target(server), trace_request(2).SerializeToString())
        )
    )
    try:
        waiting.start()
        for _ in range(500):
            if store.pending_bytes:
                break
            threading.Event().wait(0.01)
        with pytest.raises(grpc.RpcError) as raised:
            export_traces(target(server), trace_request(2).SerializeToString())
    finally:
        blocker.rollback()
        blocker.close()
    waiting.join()
    error = raised.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(error.trailing_metadata())
    status = Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    info = RetryInfo()
    assert status.details[0].Unpack(info)
    assert info.retry_delay.seconds == 1
    assert RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]) == info
    assert first and len(list_spans(store.reader())) == 2
    server.stop(5)
    store.close()
