"""The one ingest path shared by every transport: body bytes -> validated batch -> response message.

HTTP (and any other transport) only reads bytes and maps outcomes to its own status codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from localobs.receiver.bodies import BodyError, Format
from localobs.receiver.envelope import Rejections, body_digest, item_failed
from localobs.receiver.logs import decode_logs
from localobs.receiver.metrics import decode_metrics
from localobs.receiver.otlp_json import JsonBodyError, parse_json
from localobs.receiver.redact import decode_redacted
from localobs.receiver.span_wire import TracesRequest
from localobs.receiver.traces import decode_traces
from localobs.store import Batch, Signal


@dataclass(frozen=True)
class SignalKind:
    request_type: type[Message]
    response_type: type[Message]
    decode: Callable[[Any, str], tuple[Batch, Rejections]]
    rejected_field: str
    parsed_type: type[Message] | None = None
    """What `decode` reads when it is not `request_type` itself: a mirror with the same wire
    format (span_wire.py); protobuf bodies are parsed into it directly."""


SIGNALS: dict[Signal, SignalKind] = {
    "traces": SignalKind(
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
        decode_traces,
        "rejected_spans",
        TracesRequest,
    ),
    "logs": SignalKind(
        ExportLogsServiceRequest, ExportLogsServiceResponse, decode_logs, "rejected_log_records"
    ),
    "metrics": SignalKind(
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
        decode_metrics,
        "rejected_data_points",
    ),
}


def decode_body(
    signal: Signal, body: bytes, fmt: Format, *, redact: bool = True
) -> tuple[Batch, Rejections]:
    """Decode and validate one request body; raise BodyError(400) when it cannot be read.

    With `redact`, credentials in it are replaced by marks before anything is stored (redact.py).
    """
    kind = SIGNALS[signal]
    message = (kind.parsed_type or kind.request_type)()
    if fmt is Format.JSON:
        try:
            parsed = parse_json(body, kind.request_type())
        except JsonBodyError as exc:
            raise BodyError(400, str(exc)) from exc
        if kind.parsed_type is None:
            message = parsed
        else:
            message.ParseFromString(parsed.SerializeToString())
    else:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise BodyError(
                400, f"the body is not a valid {kind.request_type.__name__}: {exc}"
            ) from exc
    try:
        if redact:
            batch, rejections = decode_redacted(kind.decode, message, body_digest(body), body, fmt)
        else:
            batch, rejections = kind.decode(message, body_digest(body))
    except Exception as exc:
        # Items fail alone (partial success); this is the last resort for the request's own
        # parts (resource, scope): a clear 400, never a 500 the exporter would retry forever.
        raise BodyError(400, item_failed(f"the {kind.request_type.__name__}", exc)) from exc
    batch.weight = len(body)
    return batch, rejections


def export_response(signal: Signal, rejections: Rejections) -> Message:
    """The Export*ServiceResponse, with partial success when items were refused."""
    kind = SIGNALS[signal]
    response = kind.response_type()
    if rejections.count:
        partial = response.partial_success
        setattr(partial, kind.rejected_field, rejections.count)
        partial.error_message = rejections.message
    return response
