"""ExportLogsServiceRequest to log rows; GenAI log events to patches of their call, and coding
agents' events to the call and tool rows they stand for (see genai/client_events.py)."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from localobs.receiver.anyvalue import any_value, attributes
from localobs.receiver.envelope import (
    TIME_RANGE,
    Envelopes,
    Rejections,
    dumps,
    item_failed,
    optional_hex,
)
from localobs.receiver.genai import normalize_log_event
from localobs.receiver.genai.client_events import CALLS_FROM_EVENTS, derive
from localobs.receiver.genai.derived import LogEvent, span_row
from localobs.store.batch import INT64_MAX, Batch, Row


def _problem(record: LogRecord) -> str | None:
    if record.trace_id and len(record.trace_id) != 16:
        return "log record: trace_id must be empty or 16 bytes (32 hex digits)"
    if record.span_id and len(record.span_id) != 8:
        return "log record: span_id must be empty or 8 bytes (16 hex digits)"
    if record.time_unix_nano > INT64_MAX or record.observed_time_unix_nano > INT64_MAX:
        return f"log record: {TIME_RANGE}"
    return None


def _event_name(record: LogRecord, attrs: dict[str, object]) -> str | None:
    """The record's event name: its `event_name` field, unless that field is a source location
    (Rust's tracing bridge, as in Codex, sends `event path/to/file.rs:123` there and the event's
    name in the `event.name` attribute), or empty; then the `event.name` attribute."""
    named = attrs.get("event.name")
    attribute = named if isinstance(named, str) and named else None
    field = record.event_name
    if field and (attribute is None or not _is_location(field)):
        return field
    return attribute


def _is_location(name: str) -> bool:
    """`event src/x.rs:12`: whitespace, or a trailing `:<line>`, is never part of an event name."""
    head, colon, line = name.rpartition(":")
    return any(char.isspace() for char in name) or bool(colon and head and line.isdigit())


def _row(
    record: LogRecord, service_name: str | None, scope_name: str | None, ids: tuple[int, int]
) -> tuple[Row, Row | None, list[Row]]:
    """The record's row, the patch it brings to its span's call when it is a GenAI event, and the
    span rows derived from it when it is a coding agent's event."""
    attrs = attributes(record.attributes)
    event_name = _event_name(record, attrs)
    has_body = record.HasField("body")  # present but empty is stored as null
    body = any_value(record.body) if has_body else None
    genai = None
    # A client whose calls come from its own events (CALLS_FROM_EVENTS) patches no span.
    if event_name and record.trace_id and record.span_id and scope_name not in CALLS_FROM_EVENTS:
        patch = normalize_log_event(event_name, attrs, body)
        if patch is not None:
            genai = (record.trace_id.hex(), record.span_id.hex(), patch)
    derived: list[Row] = []
    if event_name:
        time_ns = record.time_unix_nano or record.observed_time_unix_nano
        event = LogEvent(
            event_name=event_name,
            attributes=attrs,
            body=body,
            time_unix_nano=time_ns,
            service_name=service_name,
            trace_id=optional_hex(record.trace_id),
            span_id=optional_hex(record.span_id),
        )
        derived = [span_row(span, service_name, scope_name, ids) for span in derive(event)]
    row = (
        record.time_unix_nano,
        record.observed_time_unix_nano,
        record.severity_number,
        record.severity_text or None,
        dumps(body) if has_body else None,
        event_name,
        optional_hex(record.trace_id),
        optional_hex(record.span_id),
        record.flags,
        dumps(attrs),
        record.dropped_attributes_count,
        service_name,
        *ids,
    )
    return row, genai, derived


def decode_logs(request: ExportLogsServiceRequest, digest: str) -> tuple[Batch, Rejections]:
    envelopes = Envelopes()
    rejections = Rejections()
    rows: list[Row] = []
    genai: list[Row] = []
    derived: list[Row] = []
    for resource_logs in request.resource_logs:
        resource_id, service_name = envelopes.resource(
            resource_logs.resource, resource_logs.schema_url
        )
        for scope_logs in resource_logs.scope_logs:
            ids = (resource_id, envelopes.scope(scope_logs.scope, scope_logs.schema_url))
            scope_name = scope_logs.scope.name or None
            for record in scope_logs.log_records:
                problem = _problem(record)
                if problem is None:
                    try:
                        row, patch, spans = _row(record, service_name, scope_name, ids)
                    except Exception as exc:
                        problem = item_failed("log record", exc)
                    else:
                        rows.append(row)
                        if patch is not None:
                            genai.append(patch)
                        derived.extend(spans)
                if problem is not None:
                    rejections.add(problem)
    batch = Batch(
        "logs",
        digest,
        rows,
        list(envelopes.resources.values()),
        list(envelopes.scopes.values()),
        genai=genai,
        derived=derived,
    )
    return batch, rejections
