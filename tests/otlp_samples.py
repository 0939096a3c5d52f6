"""Hand-built OTLP request bodies for tests that must control every byte."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.otlp_corpus import value as any_value


def kv(key: str, item: Any) -> KeyValue:
    return KeyValue(key=key, value=any_value(item))


def trace_request(
    count: int = 3,
    *,
    service: str = "svc",
    trace_id: bytes | None = None,
    name_prefix: str = "span",
    start_ns: int = 1_700_000_000_000_000_000,
) -> ExportTraceServiceRequest:
    """`count` spans of one trace, each with a few attributes."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", service))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    tid = trace_id or os.urandom(16)
    for index in range(count):
        span = scope_spans.spans.add()
        span.trace_id = tid
        span.span_id = os.urandom(8)
        span.name = f"{name_prefix}-{index}"
        span.kind = Span.SPAN_KIND_INTERNAL
        span.start_time_unix_nano = start_ns + index * 1_000_000
        span.end_time_unix_nano = start_ns + index * 1_000_000 + 500_000
        span.attributes.append(kv("index", index))
    return request


def log_request(count: int = 2, *, service: str = "svc") -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.append(kv("service.name", service))
    scope_logs = resource_logs.scope_logs.add()
    for index in range(count):
        record = scope_logs.log_records.add()
        record.time_unix_nano = 1_700_000_000_000_000_000 + index
        record.severity_number = 9
        record.body.string_value = f"log line {index}"
    return request


def gauge_request(values: list[float], *, name: str = "queue.depth") -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = name
    for index, value in enumerate(values):
        point = metric.gauge.data_points.add()
        point.time_unix_nano = 1_700_000_000_000_000_000 + index
        point.as_double = value
    return request
