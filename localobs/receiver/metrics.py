"""ExportMetricsServiceRequest to one row per data point, for every metric type."""

from __future__ import annotations

import math
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from localobs.receiver.anyvalue import attributes, non_finite
from localobs.receiver.envelope import (
    TIME_RANGE,
    Envelopes,
    Rejections,
    dumps,
    item_failed,
    json_or_none,
    optional_hex,
)
from localobs.store.batch import INT64_MAX, Batch, Row


def _exemplars(point: Any) -> str | None:
    exemplars = []
    for exemplar in point.exemplars:
        kind = exemplar.WhichOneof("value")
        exemplars.append(
            {
                "time_unix_nano": exemplar.time_unix_nano,
                "value": _double(exemplar.as_double)
                if kind == "as_double"
                else _int(exemplar, kind),
                "filtered_attributes": attributes(exemplar.filtered_attributes),
                "trace_id": optional_hex(exemplar.trace_id),
                "span_id": optional_hex(exemplar.span_id),
            }
        )
    return json_or_none(exemplars)


def _double(number: float) -> float | str:
    """A double for a JSON column: NaN and the infinities by their OTLP/JSON names (Prometheus
    summaries send NaN quantiles), which JSON has no number for."""
    return number if math.isfinite(number) else non_finite(number)


def _int(exemplar: Any, kind: str | None) -> int | None:
    return exemplar.as_int if kind == "as_int" else None


def _number_value(point: Any) -> int | float | None:
    kind = point.WhichOneof("value")
    return getattr(point, kind) if kind else None


def _problem(kind: str, point: Any) -> str | None:
    if point.start_time_unix_nano > INT64_MAX or point.time_unix_nano > INT64_MAX:
        return TIME_RANGE
    if kind != "gauge" and kind != "sum" and point.count > INT64_MAX:
        return "count must be below 2^63, the range SQLite stores"
    if kind == "histogram" and not all(map(math.isfinite, point.explicit_bounds)):
        return "explicit_bounds must be finite numbers"  # bucket edges, read by the queries
    return None


def _columns(kind: str, data: Any, point: Any) -> dict[str, Any]:
    """The point's column values; the metric type decides which columns are set."""
    row: dict[str, Any] = {
        "type": kind,
        "aggregation_temporality": getattr(data, "aggregation_temporality", None),
        "is_monotonic": getattr(data, "is_monotonic", None),
    }
    if kind in ("gauge", "sum"):
        row["value"] = _number_value(point)
    elif kind in ("histogram", "exponential_histogram", "summary"):
        row["count"] = point.count
        row["sum"] = point.sum if kind == "summary" or point.HasField("sum") else None
    if kind in ("histogram", "exponential_histogram"):
        row["min"] = point.min if point.HasField("min") else None
        row["max"] = point.max if point.HasField("max") else None
    if kind == "histogram":
        row["bucket_counts"] = dumps(list(point.bucket_counts))
        row["explicit_bounds"] = dumps(list(point.explicit_bounds))
    elif kind == "exponential_histogram":
        row["exponential"] = dumps(
            {
                "scale": point.scale,
                "zero_count": point.zero_count,
                "zero_threshold": _double(point.zero_threshold),
                "positive": {
                    "offset": point.positive.offset,
                    "bucket_counts": list(point.positive.bucket_counts),
                },
                "negative": {
                    "offset": point.negative.offset,
                    "bucket_counts": list(point.negative.bucket_counts),
                },
            }
        )
    elif kind == "summary":
        row["quantiles"] = dumps(
            [
                {"quantile": _double(q.quantile), "value": _double(q.value)}
                for q in point.quantile_values
            ]
        )
    row["attributes"] = dumps(attributes(point.attributes))
    row["exemplars"] = _exemplars(point) if kind != "summary" else None
    return row


def _row(
    metric: Metric,
    metadata: str | None,
    service_name: str | None,
    ids: tuple[int, int],
    kind: str,
    data: Any,
    point: Any,
) -> Row:
    columns = _columns(kind, data, point)
    return (
        metric.name,
        metric.description or None,
        metric.unit or None,
        kind,
        service_name,
        *ids,
        point.start_time_unix_nano,
        point.time_unix_nano,
        columns["attributes"],
        columns.get("value"),
        columns.get("count"),
        columns.get("sum"),
        columns.get("min"),
        columns.get("max"),
        columns.get("bucket_counts"),
        columns.get("explicit_bounds"),
        columns.get("exponential"),
        columns.get("quantiles"),
        columns["aggregation_temporality"],
        columns["is_monotonic"],
        point.flags,
        columns["exemplars"],
        metadata,
    )


def decode_metrics(request: ExportMetricsServiceRequest, digest: str) -> tuple[Batch, Rejections]:
    envelopes = Envelopes()
    rejections = Rejections()
    rows: list[Row] = []
    for resource_metrics in request.resource_metrics:
        resource_id, service_name = envelopes.resource(
            resource_metrics.resource, resource_metrics.schema_url
        )
        for scope_metrics in resource_metrics.scope_metrics:
            ids = (resource_id, envelopes.scope(scope_metrics.scope, scope_metrics.schema_url))
            for metric in scope_metrics.metrics:
                if not metric.name:
                    rejections.add("metric without a name")
                    continue
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                metadata = json_or_none(attributes(metric.metadata))
                for point in data.data_points:
                    problem = _problem(kind, point)
                    if problem is None:
                        try:
                            rows.append(
                                _row(metric, metadata, service_name, ids, kind, data, point)
                            )
                        except Exception as exc:
                            problem = item_failed("data point", exc)
                    if problem is not None:
                        rejections.add(f"metric {metric.name!r}: {problem}")
    batch = Batch(
        "metrics", digest, rows, list(envelopes.resources.values()), list(envelopes.scopes.values())
    )
    return batch, rejections
