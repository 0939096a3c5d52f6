"""Stored rows back to OTLP requests, field for field: the inverse of the receiver's decoders.

Every typed column goes back where it came from: attributes JSON to AnyValues (JSON ints to
int_value, floats to double_value, {"$bytes": b64} to bytes_value, {"$double": "NaN"} (etc.) to
double_value, null to an empty value), events, links, status, flags, dropped counts and trace
state; metric points of every type with their exemplars (doubles stored as "NaN", "Infinity" or
"-Infinity" back to those numbers). Message content that GenAI normalization moved into the call
columns is put back into the span attributes (`restore`). Rows are grouped under their resource
and scope in arrival order.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from localobs.receiver.genai import restore
from localobs.store.export import Columns, StoredPage

_NON_FINITE = ("NaN", "Infinity", "-Infinity")


def _double(value: float | str | None) -> float:
    """A double column value; NaN and the infinities are stored by their OTLP/JSON names."""
    return float(value) if value is not None else 0.0


def any_value(value: Any, out: AnyValue | None = None) -> AnyValue:
    """The AnyValue a stored JSON value came from (see receiver/anyvalue.py)."""
    result = AnyValue() if out is None else out
    if value is None:
        return result
    if type(value) is bool:
        result.bool_value = value
    elif type(value) is int:
        result.int_value = value
    elif type(value) is float:
        result.double_value = value
    elif type(value) is str:
        result.string_value = value
    elif type(value) is list:
        values = result.array_value.values
        result.array_value.SetInParent()
        for item in value:
            any_value(item, values.add())
    elif len(value) == 1 and type(value.get("$bytes")) is str:
        result.bytes_value = base64.b64decode(value["$bytes"])
    elif len(value) == 1 and value.get("$double") in _NON_FINITE:
        result.double_value = float(value["$double"])
    else:
        result.kvlist_value.SetInParent()
        _fill(result.kvlist_value.values, value)
    return result


def _fill(pairs: Any, attributes: dict[str, Any] | None) -> None:
    for key, value in (attributes or {}).items():
        pair: KeyValue = pairs.add()
        pair.key = key
        pair.value.SetInParent()  # an empty value is still written, as the Collector does
        any_value(value, pair.value)


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text is not None else None


def _ids(hex_id: str | None) -> bytes:
    return bytes.fromhex(hex_id) if hex_id else b""


class _Grouper:
    """Resource and scope envelopes of one request, created on first use, in arrival order."""

    def __init__(self, page: StoredPage, resource_list: Any, scope_field: str) -> None:
        self._page = page
        self._resource_list = resource_list
        self._scope_field = scope_field
        self._resources: dict[Any, Any] = {}
        self._scopes: dict[tuple[Any, Any], Any] = {}

    def scope_of(self, row: Columns) -> Any:
        key = (row["resource_id"], row["scope_id"])
        envelope = self._scopes.get(key)
        if envelope is None:
            envelope = getattr(self._resource_of(row["resource_id"]), self._scope_field).add()
            scope = self._page.scopes.get(row["scope_id"])
            if scope is not None:
                envelope.scope.name = scope["name"] or ""
                envelope.scope.version = scope["version"] or ""
                _fill(envelope.scope.attributes, _json(scope["attributes"]))
                envelope.scope.dropped_attributes_count = scope["dropped_attributes_count"] or 0
                envelope.schema_url = scope["schema_url"] or ""
            self._scopes[key] = envelope
        return envelope

    def _resource_of(self, resource_id: Any) -> Any:
        envelope = self._resources.get(resource_id)
        if envelope is None:
            envelope = self._resource_list.add()
            resource = self._page.resources.get(resource_id)
            if resource is not None:
                _fill(envelope.resource.attributes, _json(resource["attributes"]))
                envelope.resource.dropped_attributes_count = (
                    resource["dropped_attributes_count"] or 0
                )
                envelope.schema_url = resource["schema_url"] or ""
            self._resources[resource_id] = envelope
        return envelope


def _span_attributes(row: Columns) -> dict[str, Any]:
    stored = _json(row["attributes"]) or {}
    try:
        return restore(
            stored, row["input_messages"], row["output_messages"], row["system_instructions"]
        )
    except (ValueError, KeyError, IndexError, TypeError):
        return stored  # keeps `localobs.moved`: the receiver then leaves these attributes as is


def traces_request(page: StoredPage) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    grouper = _Grouper(page, request.resource_spans, "scope_spans")
    for row in page.rows:
        span = grouper.scope_of(row).spans.add()
        span.trace_id = _ids(row["trace_id"])
        span.span_id = _ids(row["span_id"])
        span.parent_span_id = _ids(row["parent_span_id"])
        span.trace_state = row["trace_state"] or ""
        span.flags = row["flags"] or 0
        span.name = row["name"]
        span.kind = row["kind"] or 0
        span.start_time_unix_nano = row["start_time_unix_nano"]
        span.end_time_unix_nano = row["end_time_unix_nano"]
        span.status.code = row["status_code"] or 0
        span.status.message = row["status_message"] or ""
        _fill(span.attributes, _span_attributes(row))
        for item in _json(row["events"]) or []:
            event = span.events.add()
            event.name = item["name"]
            event.time_unix_nano = item["time_unix_nano"]
            _fill(event.attributes, item.get("attributes"))
            event.dropped_attributes_count = item.get("dropped_attributes_count", 0)
        for item in _json(row["links"]) or []:
            link = span.links.add()
            link.trace_id = _ids(item["trace_id"])
            link.span_id = _ids(item["span_id"])
            link.trace_state = item.get("trace_state", "")
            link.flags = item.get("flags", 0)
            _fill(link.attributes, item.get("attributes"))
            link.dropped_attributes_count = item.get("dropped_attributes_count", 0)
        span.dropped_attributes_count = row["dropped_attributes_count"] or 0
        span.dropped_events_count = row["dropped_events_count"] or 0
        span.dropped_links_count = row["dropped_links_count"] or 0
    return request


def logs_request(page: StoredPage) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    grouper = _Grouper(page, request.resource_logs, "scope_logs")
    for row in page.rows:
        record = grouper.scope_of(row).log_records.add()
        record.time_unix_nano = row["time_unix_nano"] or 0
        record.observed_time_unix_nano = row["observed_time_unix_nano"] or 0
        record.severity_number = row["severity_number"] or 0
        record.severity_text = row["severity_text"] or ""
        if row["body"] is not None:
            record.body.SetInParent()
            any_value(_json(row["body"]), record.body)
        attributes = _json(row["attributes"]) or {}
        # The column also holds the `event.name` attribute's value: set the field only when
        # the record had one of its own.
        if row["event_name"] is not None and attributes.get("event.name") != row["event_name"]:
            record.event_name = row["event_name"]
        record.trace_id = _ids(row["trace_id"])
        record.span_id = _ids(row["span_id"])
        record.flags = row["flags"] or 0
        _fill(record.attributes, attributes)
        record.dropped_attributes_count = row["dropped_attributes_count"] or 0
    return request


def _number(point: Any, value: int | float | str | None) -> None:
    if type(value) is int:
        point.as_int = value
    elif value is not None:
        point.as_double = _double(value)


def _exemplars(point: Any, text: str | None) -> None:
    for item in _json(text) or []:
        exemplar = point.exemplars.add()
        exemplar.time_unix_nano = item["time_unix_nano"]
        _number(exemplar, item["value"])
        _fill(exemplar.filtered_attributes, item["filtered_attributes"])
        exemplar.trace_id = _ids(item["trace_id"])
        exemplar.span_id = _ids(item["span_id"])


def _histogram_fields(point: Any, row: Columns) -> None:
    point.count = row["count"] or 0
    if row["sum"] is not None:
        point.sum = row["sum"]
    if row["min"] is not None:
        point.min = row["min"]
    if row["max"] is not None:
        point.max = row["max"]


def _gauge_or_sum(point: Any, row: Columns) -> None:
    _number(point, row["value"])


def _histogram(point: Any, row: Columns) -> None:
    _histogram_fields(point, row)
    point.bucket_counts.extend(_json(row["bucket_counts"]) or [])
    point.explicit_bounds.extend(_json(row["explicit_bounds"]) or [])


def _exponential(point: Any, row: Columns) -> None:
    _histogram_fields(point, row)
    shape = _json(row["exponential"]) or {}
    point.scale = shape.get("scale", 0)
    point.zero_count = shape.get("zero_count", 0)
    point.zero_threshold = _double(shape.get("zero_threshold"))
    for side in ("positive", "negative"):
        buckets = shape.get(side) or {}
        getattr(point, side).offset = buckets.get("offset", 0)
        getattr(point, side).bucket_counts.extend(buckets.get("bucket_counts", []))


def _summary(point: Any, row: Columns) -> None:
    point.count = row["count"] or 0
    point.sum = row["sum"] or 0.0
    for item in _json(row["quantiles"]) or []:
        quantile = point.quantile_values.add()
        quantile.quantile = _double(item["quantile"])
        quantile.value = _double(item["value"])


_POINT_FILLERS: dict[str, Callable[[Any, Columns], None]] = {
    "gauge": _gauge_or_sum,
    "sum": _gauge_or_sum,
    "histogram": _histogram,
    "exponential_histogram": _exponential,
    "summary": _summary,
}
_METRIC_KEY = (
    "resource_id",
    "scope_id",
    "name",
    "description",
    "unit",
    "type",
    "aggregation_temporality",
    "is_monotonic",
    "metadata",
)


def _new_metric(scope_metrics: Any, row: Columns) -> Metric:
    metric: Metric = scope_metrics.metrics.add()
    metric.name = row["name"]
    metric.description = row["description"] or ""
    metric.unit = row["unit"] or ""
    _fill(metric.metadata, _json(row["metadata"]))
    data = getattr(metric, row["type"])
    data.SetInParent()
    if row["aggregation_temporality"] is not None:
        data.aggregation_temporality = row["aggregation_temporality"]
    if row["is_monotonic"] is not None:
        data.is_monotonic = bool(row["is_monotonic"])
    return metric


def metrics_request(page: StoredPage) -> ExportMetricsServiceRequest:
    """Points of the same metric (same envelope, name, type and metric fields) in one Metric."""
    request = ExportMetricsServiceRequest()
    grouper = _Grouper(page, request.resource_metrics, "scope_metrics")
    metrics: dict[tuple[Any, ...], Metric] = {}
    for row in page.rows:
        key = tuple(row[column] for column in _METRIC_KEY)
        metric = metrics.get(key)
        if metric is None:
            metric = metrics[key] = _new_metric(grouper.scope_of(row), row)
        point = getattr(metric, row["type"]).data_points.add()
        point.start_time_unix_nano = row["start_time_unix_nano"] or 0
        point.time_unix_nano = row["time_unix_nano"] or 0
        _fill(point.attributes, _json(row["attributes"]))
        point.flags = row["flags"] or 0
        _POINT_FILLERS[row["type"]](point, row)
        if row["type"] != "summary":
            _exemplars(point, row["exemplars"])
    return request


REBUILDERS: dict[str, Callable[[StoredPage], Message]] = {
    "traces": traces_request,
    "logs": logs_request,
    "metrics": metrics_request,
}
