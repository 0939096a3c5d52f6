"""ExportMetricsServiceRequest to one row per data point, for every metric type."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from localobs.receiver.anyvalue import attributes
from localobs.receiver.envelope import Envelopes, Rejections, dumps, json_or_none, optional_hex
from localobs.store.batch import Batch, Row


def _exemplars(point: Any) -> str | None:
    exemplars = []
    for exemplar in point.exemplars:
        kind = exemplar.WhichOneof("value")
        exemplars.append(
            {
                "time_unix_nano": exemplar.time_unix_nano,
                "value": getattr(exemplar, kind) if kind else None,
                "filtered_attributes": attributes(exemplar.filtered_attributes),
                "trace_id": optional_hex(exemplar.trace_id),
                "span_id": optional_hex(exemplar.span_id),
            }
        )
    return json_or_none(exemplars)


def _number_value(point: Any) -> int | float | None:
    kind = point.WhichOneof("value")
    return getattr(point, kind) if kind else None


def _points(metric: Metric) -> list[dict[str, Any]]:
    """The metric's data points as column dicts; the metric type decides which columns are set."""
    kind = metric.WhichOneof("data")
    if kind is None:
        return []
    data = getattr(metric, kind)
    temporality = getattr(data, "aggregation_temporality", None)
    monotonic = getattr(data, "is_monotonic", None)
    points = []
    for point in data.data_points:
        row: dict[str, Any] = {
            "type": {"exponential_histogram": "exponential_histogram"}.get(kind, kind),
            "aggregation_temporality": temporality,
            "is_monotonic": monotonic,
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
                    "zero_threshold": point.zero_threshold,
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
                [{"quantile": q.quantile, "value": q.value} for q in point.quantile_values]
            )
        row["start_time_unix_nano"] = point.start_time_unix_nano
        row["time_unix_nano"] = point.time_unix_nano
        row["attributes"] = dumps(attributes(point.attributes))
        row["flags"] = point.flags
        row["exemplars"] = _exemplars(point) if kind != "summary" else None
        points.append(row)
    return points


def decode_metrics(request: ExportMetricsServiceRequest, digest: str) -> tuple[Batch, Rejections]:
    envelopes = Envelopes()
    rejections = Rejections()
    rows: list[Row] = []
    for resource_metrics in request.resource_metrics:
        resource_id, service_name = envelopes.resource(
            resource_metrics.resource, resource_metrics.schema_url
        )
        for scope_metrics in resource_metrics.scope_metrics:
            scope_id = envelopes.scope(scope_metrics.scope, scope_metrics.schema_url)
            for metric in scope_metrics.metrics:
                if not metric.name:
                    rejections.add("metric without a name")
                    continue
                metadata = json_or_none(attributes(metric.metadata))
                for point in _points(metric):
                    rows.append(
                        (
                            metric.name,
                            metric.description or None,
                            metric.unit or None,
                            point["type"],
                            service_name,
                            resource_id,
                            scope_id,
                            point["start_time_unix_nano"],
                            point["time_unix_nano"],
                            point["attributes"],
                            point.get("value"),
                            point.get("count"),
                            point.get("sum"),
                            point.get("min"),
                            point.get("max"),
                            point.get("bucket_counts"),
                            point.get("explicit_bounds"),
                            point.get("exponential"),
                            point.get("quantiles"),
                            point["aggregation_temporality"],
                            point["is_monotonic"],
                            point["flags"],
                            point["exemplars"],
                            metadata,
                        )
                    )
    batch = Batch(
        "metrics", digest, rows, list(envelopes.resources.values()), list(envelopes.scopes.values())
    )
    return batch, rejections
