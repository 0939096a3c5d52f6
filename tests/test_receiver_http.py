"""OTLP/HTTP by hand: JSON, compression, response formats, partial success, CORS, idempotence."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from localobs.store.queries import database_summary, list_spans
from tests.conftest import RunningReceiver
from tests.otlp_samples import gauge_request, log_request, trace_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}

OTLP_JSON_TRACE = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]
            },
            "scopeSpans": [
                {
                    "scope": {"name": "hand"},
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "eee19b7ec3c1b174",
                            "parentSpanId": "eee19b7ec3c1b173",
                            "name": "json-span",
                            "kind": 3,
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": "1544712661000000000",
                            "attributes": [
                                {"key": "big", "value": {"intValue": "9007199254740993"}},
                                {"key": "raw", "value": {"bytesValue": "AAEC"}},
                                {
                                    "key": "nested",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [
                                                {
                                                    "key": "list",
                                                    "value": {
                                                        "arrayValue": {
                                                            "values": [
                                                                {"doubleValue": 1.5},
                                                                {"boolValue": True},
                                                            ]
                                                        }
                                                    },
                                                }
                                            ]
                                        }
                                    },
                                },
                            ],
                            "status": {"code": 2, "message": "bad"},
                            "unknownField": {"ignored": True},
                        }
                    ],
                }
            ],
        }
    ]
}


def test_otlp_json_with_hex_ids_int64_strings_and_unknown_fields(
    receiver: RunningReceiver,
) -> None:
    response = httpx.post(f"{receiver.url}/v1/traces", json=OTLP_JSON_TRACE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    (span,) = list_spans(receiver.store.reader())
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert span.parent_span_id == "eee19b7ec3c1b173"
    assert (span.kind, span.status_code, span.service_name) == (3, 2, "json-svc")
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.attributes == {
        "big": 9007199254740993,
        "raw": {"$bytes": "AAEC"},
        "nested": {"list": [1.5, True]},
    }


def test_gzip_and_deflate_bodies(receiver: RunningReceiver) -> None:
    first = trace_request(2, name_prefix="gz").SerializeToString()
    second = trace_request(3, name_prefix="deflate").SerializeToString()
    for body, encoding in ((gzip.compress(first), "gzip"), (zlib.compress(second), "deflate")):
        response = httpx.post(
            f"{receiver.url}/v1/traces",
            content=body,
            headers={**PROTOBUF, "Content-Encoding": encoding},
        )
        assert response.status_code == 200, response.content
        assert response.headers["content-type"] == "application/x-protobuf"
        assert ExportTraceServiceResponse.FromString(response.content) == (
            ExportTraceServiceResponse()
        )
    names = sorted(span.name for span in list_spans(receiver.store.reader()))
    assert names == ["deflate-0", "deflate-1", "deflate-2", "gz-0", "gz-1"]


def test_invalid_items_are_rejected_with_partial_success_and_the_rest_stored(
    receiver: RunningReceiver,
) -> None:
    request = trace_request(3)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].span_id = b"\x01\x02\x03"  # wrong length
    spans[1].trace_id = bytes(16)  # all zero: invalid
    response = httpx.post(
        f"{receiver.url}/v1/traces", content=request.SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "span_id must be 8 bytes" in partial.error_message
    assert [span.name for span in list_spans(receiver.store.reader())] == ["span-2"]


def test_json_with_base64_ids_is_refused_per_item_with_a_clear_message(
    receiver: RunningReceiver,
) -> None:
    body = json.loads(json.dumps(OTLP_JSON_TRACE))
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"] = "W47/95gDgQPSabYzgT/GDA=="  # base64, as protobuf's own JSON would write
    response = httpx.post(f"{receiver.url}/v1/traces", json=body)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "32 hex digits" in partial["errorMessage"]
    assert list_spans(receiver.store.reader()) == []


def test_logs_and_metrics_json_round(receiver: RunningReceiver) -> None:
    logs = httpx.post(
        f"{receiver.url}/v1/logs",
        content=log_request(2).SerializeToString(),
        headers=PROTOBUF,
    )
    assert logs.status_code == 200
    assert ExportLogsServiceResponse.FromString(logs.content) == ExportLogsServiceResponse()
    metrics = httpx.post(
        f"{receiver.url}/v1/metrics",
        json={
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "tokens",
                                    "sum": {
                                        "aggregationTemporality": 2,
                                        "isMonotonic": True,
                                        "dataPoints": [
                                            {"asInt": "12", "timeUnixNano": "5"},
                                            {"asDouble": 2.0, "timeUnixNano": "6"},
                                        ],
                                    },
                                }
                            ]
                        }
                    ]
                }
            ]
        },
    )
    assert metrics.status_code == 200
    conn = receiver.store.reader()
    values = conn.execute(
        "SELECT value, typeof(value), aggregation_temporality FROM metric_points ORDER BY rowid"
    ).fetchall()
    assert values == [(12, "integer", 2), (2.0, "real", 2)]
    assert database_summary(conn).logs == 2


def test_a_retried_body_is_stored_once(receiver: RunningReceiver) -> None:
    bodies = {
        "traces": trace_request(4).SerializeToString(),
        "logs": log_request(3).SerializeToString(),
        "metrics": gauge_request([1.0, 2.0]).SerializeToString(),
    }
    for _attempt in range(2):
        for signal, body in bodies.items():
            response = httpx.post(f"{receiver.url}/v1/{signal}", content=body, headers=PROTOBUF)
            assert response.status_code == 200
    summary = database_summary(receiver.store.reader())
    assert (summary.spans, summary.logs, summary.metric_points) == (4, 3, 2)


def test_cors_preflight_and_response_headers_for_a_local_page(receiver: RunningReceiver) -> None:
    origin = "http://localhost:5173"
    preflight = httpx.options(
        f"{receiver.url}/v1/traces",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    posted = httpx.post(
        f"{receiver.url}/v1/traces", json=OTLP_JSON_TRACE, headers={"Origin": origin}
    )
    assert posted.headers["access-control-allow-origin"] == origin
    foreign = httpx.options(
        f"{receiver.url}/v1/traces",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in foreign.headers


def test_health_reports_status_version_and_counts(receiver: RunningReceiver) -> None:
    httpx.post(
        f"{receiver.url}/v1/traces",
        content=trace_request(2).SerializeToString(),
        headers=PROTOBUF,
    )
    health = httpx.get(f"{receiver.url}/health").json()
    assert health["status"] == "ok"
    assert health["version"]
    assert health["counts"]["spans"] == 2
