"""A varied OTLP corpus for round trips: every AnyValue kind, events, links, status, flags, trace
state, dropped counts, schema URLs, every metric point type with exemplars, log bodies of every
kind, and the captured GenAI payloads (whose message content normalization moves)."""

from __future__ import annotations

import random
from typing import Any

from google.protobuf.json_format import ParseDict
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.fixtures.genai.load import CAPTURED, fixture

START = 1_700_000_000_000_000_000
_ids = random.Random(8)


def ident(size: int) -> bytes:
    """A random id, the same in every run, so that two corpora are the same telemetry."""
    return _ids.randbytes(size)


def value(item: Any) -> AnyValue:
    """Python to AnyValue: None is an empty value; tuples are arrays, dicts kvlists."""
    out = AnyValue()
    if item is None:
        pass
    elif isinstance(item, bool):
        out.bool_value = item
    elif isinstance(item, int):
        out.int_value = item
    elif isinstance(item, float):
        out.double_value = item
    elif isinstance(item, bytes):
        out.bytes_value = item
    elif isinstance(item, str):
        out.string_value = item
    elif isinstance(item, tuple):
        out.array_value.SetInParent()
        out.array_value.values.extend(value(each) for each in item)
    else:
        out.kvlist_value.SetInParent()
        out.kvlist_value.values.extend(pairs(item))
    return out


def pairs(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(item)) for key, item in attributes.items()]


EVERY_KIND: dict[str, Any] = {
    "str": "text ü",
    "empty.str": "",
    "bool.true": True,
    "bool.false": False,
    "int.big": 2**62 + 1,
    "int.negative": -(2**63),
    "int.zero": 0,
    "double": 0.25,
    "double.whole": 1.0,
    "double.negative": -1e-300,
    "bytes": b"\x00\xffbin",
    "empty.bytes": b"",
    "array": ("a", 1, 2.5, True, None, ("nested",), {"k": "v"}),
    "empty.array": (),
    "kvlist": {"inner": {"deeper": (1, 2)}, "n": None},
    "empty.kvlist": {},
    "empty.value": None,
}


def traces() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for service, schema in (("corpus-a", "https://opentelemetry.io/schemas/1.26.0"), ("b", "")):
        resource_spans = request.resource_spans.add()
        resource_spans.schema_url = schema
        resource_spans.resource.attributes.extend(pairs({"service.name": service, **EVERY_KIND}))
        resource_spans.resource.dropped_attributes_count = 3
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.schema_url = "https://example.com/scope-schema"
        scope_spans.scope.name = "corpus.scope"
        scope_spans.scope.version = "9.9"
        scope_spans.scope.attributes.extend(pairs({"scope.attr": 7}))
        scope_spans.scope.dropped_attributes_count = 1
        bare = resource_spans.scope_spans.add()  # a scope with nothing but spans
        trace_id = ident(16)
        root = scope_spans.spans.add()
        root.trace_id, root.span_id = trace_id, ident(8)
        root.name = "root"
        root.kind = Span.SPAN_KIND_SERVER
        root.trace_state = "vendor=abc,other=1"
        root.flags = 0x301
        root.start_time_unix_nano, root.end_time_unix_nano = START, START + 5_000_000
        root.attributes.extend(pairs(EVERY_KIND))
        root.status.code = Status.STATUS_CODE_ERROR
        root.status.message = "it broke"
        root.dropped_attributes_count, root.dropped_events_count = 2, 4
        root.dropped_links_count = 6
        event = root.events.add()
        event.name, event.time_unix_nano = "exception", START + 1
        event.attributes.extend(pairs({"exception.type": "ValueError", "n": 1.5}))
        event.dropped_attributes_count = 5
        root.events.add(name="bare event", time_unix_nano=START + 2)
        link = root.links.add()
        link.trace_id, link.span_id = ident(16), ident(8)
        link.trace_state, link.flags, link.dropped_attributes_count = "k=v", 0x101, 8
        link.attributes.extend(pairs({"link.kind": "follows"}))
        root.links.add(trace_id=ident(16), span_id=ident(8))
        child = bare.spans.add()
        child.trace_id, child.span_id, child.parent_span_id = trace_id, ident(8), root.span_id
        child.name, child.kind = "child", Span.SPAN_KIND_CLIENT
        child.start_time_unix_nano, child.end_time_unix_nano = START + 10, START + 20
        child.status.code = Status.STATUS_CODE_OK
    return request


def logs() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(pairs({"service.name": "corpus-logs"}))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "logger"
    bodies: list[Any] = ["plain", {"structured": (1, 2.0)}, b"\x01bytes", None, 42]
    for index, body in enumerate(bodies):
        record = scope_logs.log_records.add()
        record.time_unix_nano = START + index if index != 2 else 0
        record.observed_time_unix_nano = START + 100 + index
        record.severity_number, record.severity_text = 9 + index, f"SEV{index}"
        record.body.CopyFrom(value(body))
        if body is None:
            record.body.SetInParent()  # present but empty
        record.attributes.extend(pairs({"i": index, "kinds": EVERY_KIND["array"]}))
        record.dropped_attributes_count = index
        record.flags = index
        if index == 1:
            record.trace_id, record.span_id = ident(16), ident(8)
    scope_logs.log_records.add(time_unix_nano=START + 50, event_name="app.started")
    by_attribute = scope_logs.log_records.add(time_unix_nano=START + 51)
    by_attribute.attributes.extend(pairs({"event.name": "legacy.event"}))
    both = scope_logs.log_records.add(time_unix_nano=START + 52, event_name="own.name")
    both.attributes.extend(pairs({"event.name": "attribute.name"}))
    return request


def _exemplars(point: Any) -> None:
    exemplar = point.exemplars.add(time_unix_nano=START + 3, as_int=12)
    exemplar.trace_id, exemplar.span_id = ident(16), ident(8)
    exemplar.filtered_attributes.extend(pairs({"user": "u1"}))
    point.exemplars.add(time_unix_nano=START + 4, as_double=0.5)


def metrics() -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(pairs({"service.name": "corpus-metrics"}))
    scope = resource_metrics.scope_metrics.add()
    scope.scope.name = "meter"

    gauge = scope.metrics.add(name="g", description="a gauge", unit="1")
    gauge.metadata.extend(pairs({"meta": True}))
    gauge.gauge.data_points.add(time_unix_nano=START, as_int=-5)
    point = gauge.gauge.data_points.add(time_unix_nano=START + 1, as_double=2.0, flags=1)
    point.attributes.extend(pairs({"host": "h1"}))
    _exemplars(point)

    for monotonic, temporality in ((True, 2), (False, 1)):
        total = scope.metrics.add(name=f"s.{monotonic}", unit="By")
        total.sum.is_monotonic = monotonic
        total.sum.aggregation_temporality = AggregationTemporality.ValueType(temporality)
        total.sum.data_points.add(start_time_unix_nano=START - 10, time_unix_nano=START, as_int=7)

    histogram = scope.metrics.add(name="h", unit="s")
    histogram.histogram.aggregation_temporality = AggregationTemporality.ValueType(2)
    full = histogram.histogram.data_points.add(time_unix_nano=START, count=4, sum=3.5)
    full.min, full.max = 0.1, 2.0
    full.bucket_counts.extend([1, 2, 1])
    full.explicit_bounds.extend([0.5, 1.0])
    _exemplars(full)
    histogram.histogram.data_points.add(time_unix_nano=START + 1, count=0)  # no sum/min/max

    exponential = scope.metrics.add(name="e")
    exponential.exponential_histogram.aggregation_temporality = AggregationTemporality.ValueType(1)
    point = exponential.exponential_histogram.data_points.add(
        time_unix_nano=START, count=9, sum=-4.0, scale=3, zero_count=2, zero_threshold=1e-9
    )
    point.min, point.max = -3.0, 1.5
    point.positive.offset = -2
    point.positive.bucket_counts.extend([1, 0, 3])
    point.negative.offset = 5
    point.negative.bucket_counts.extend([2, 1])

    summary = scope.metrics.add(name="q", description="latency summary")
    point = summary.summary.data_points.add(time_unix_nano=START, count=10, sum=55.0)
    point.quantile_values.add(quantile=0.5, value=5.0)
    point.quantile_values.add(quantile=0.99, value=9.9)
    return request


def genai_requests() -> list[tuple[str, Message]]:
    """The captured payloads of real GenAI instrumentations (spans and log events)."""
    found: list[tuple[str, Message]] = []
    for name in CAPTURED:
        data = fixture(name)
        found += [
            ("traces", ParseDict(body, ExportTraceServiceRequest())) for body in data["traces"]
        ]
        found += [("logs", ParseDict(body, ExportLogsServiceRequest())) for body in data["logs"]]
    return found


def corpus() -> list[tuple[str, Message]]:
    _ids.seed(8)
    return [("traces", traces()), ("logs", logs()), ("metrics", metrics()), *genai_requests()]
