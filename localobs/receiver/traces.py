"""ExportTraceServiceRequest (as span_wire.py parses it) to span rows."""

from __future__ import annotations

from typing import Any

from localobs.receiver.anyvalue import attributes
from localobs.receiver.envelope import (
    TIME_RANGE,
    Envelopes,
    Rejections,
    dumps,
    item_failed,
    optional_hex,
    valid_id,
)
from localobs.receiver.genai import logfire, normalize_span
from localobs.receiver.genai.client_events import calls_from_events
from localobs.receiver.genai.typed import drop_typed
from localobs.receiver.span_wire import UnreadableAttribute, WireSpan, span_attributes
from localobs.store.batch import INT64_MAX, Batch, Row
from localobs.store.schema import SPAN_COLUMNS

_GENAI_WIDTH = len(SPAN_COLUMNS) - SPAN_COLUMNS.index("span_role")
_NO_GENAI: tuple[None, ...] = (None,) * _GENAI_WIDTH


def _events(span: WireSpan) -> list[dict[str, Any]]:
    events = []
    for event in span.events:
        item: dict[str, Any] = {
            "name": event.name,
            "time_unix_nano": event.time_unix_nano,
            "attributes": attributes(event.attributes),
        }
        if event.dropped_attributes_count:
            item["dropped_attributes_count"] = event.dropped_attributes_count
        events.append(item)
    return events


def _links(span: WireSpan) -> list[dict[str, Any]]:
    links = []
    for link in span.links:
        item: dict[str, Any] = {
            "trace_id": link.trace_id.hex(),
            "span_id": link.span_id.hex(),
            "attributes": attributes(link.attributes),
        }
        if link.trace_state:
            item["trace_state"] = link.trace_state
        if link.flags:
            item["flags"] = link.flags
        if link.dropped_attributes_count:
            item["dropped_attributes_count"] = link.dropped_attributes_count
        links.append(item)
    return links


def _problem(span: WireSpan) -> str | None:
    if not valid_id(span.trace_id, 16):
        return f"span {span.name!r}: trace_id must be 16 bytes (32 hex digits), not all zero"
    if not valid_id(span.span_id, 8):
        return f"span {span.name!r}: span_id must be 8 bytes (16 hex digits), not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return f"span {span.name!r}: parent_span_id must be empty or 8 bytes"
    if span.start_time_unix_nano > INT64_MAX or span.end_time_unix_nano > INT64_MAX:
        return f"span {span.name!r}: {TIME_RANGE}"
    return None


def _row(
    span: WireSpan, service_name: str | None, scope_name: str | None, ids: tuple[int, int]
) -> tuple[Row, Row | None]:
    """The span's row, and the row of a call derived from it (Logfire's streamed calls)."""
    attrs = span_attributes(span.attributes)
    events = _events(span) if span.events else []
    # Moves message content out of attrs into the call columns: before dumps(attrs).
    call = None
    if not calls_from_events(scope_name, span.name):  # else they come from its log events
        call = normalize_span(
            span.name,
            attrs,
            events,
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.status.code,
        )
    derived = None
    if call is not None and "logfire.span_type" in attrs:
        if logfire.is_stream_response(attrs):
            derived = logfire.stream_call(
                span.trace_id.hex(),
                span.span_id.hex(),
                optional_hex(span.parent_span_id),
                span.end_time_unix_nano,
                (span.status.code, span.status.message or None),
                attrs,
                call,
                (service_name, scope_name, ids),
            )
        if derived is not None or logfire.is_stream_request(attrs, call, span.status.code):
            call = logfire.not_a_call(call)
    if call is not None:  # the row's final columns: what they hold is left out of attrs
        drop_typed(attrs, call)
    row = (
        span.trace_id.hex(),
        span.span_id.hex(),
        optional_hex(span.parent_span_id),
        span.trace_state or None,
        span.flags,
        span.name,
        span.kind,
        service_name,
        scope_name,
        *ids,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        span.status.code,
        span.status.message or None,
        dumps(attrs),
        dumps(events) if events else None,
        dumps(_links(span)) if span.links else None,
        span.dropped_attributes_count,
        span.dropped_events_count,
        span.dropped_links_count,
        *(call or _NO_GENAI),
    )
    return row, derived


def decode_traces(request: Any, digest: str) -> tuple[Batch, Rejections]:
    """`request` is a span_wire.TracesRequest (a class protobuf makes at run time)."""
    envelopes = Envelopes()
    rejections = Rejections()
    rows: list[Row] = []
    derived: list[Row] = []
    for resource_spans in request.resource_spans:
        resource_id, service_name = envelopes.resource(
            resource_spans.resource, resource_spans.schema_url
        )
        for scope_spans in resource_spans.scope_spans:
            ids = (resource_id, envelopes.scope(scope_spans.scope, scope_spans.schema_url))
            scope_name = scope_spans.scope.name or None
            for span in scope_spans.spans:
                problem = _problem(span)
                if problem is None:
                    try:
                        row, call = _row(span, service_name, scope_name, ids)
                        rows.append(row)
                        if call is not None:
                            derived.append(call)
                    except UnreadableAttribute as exc:
                        problem = f"span {span.name!r}: {exc}"
                    except Exception as exc:
                        problem = item_failed(f"span {span.name!r}", exc)
                if problem is not None:
                    rejections.add(problem)
    batch = Batch(
        "traces",
        digest,
        rows,
        list(envelopes.resources.values()),
        list(envelopes.scopes.values()),
        derived=derived,
    )
    return batch, rejections
