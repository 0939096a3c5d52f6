"""OTLP JSON lines: one Export*ServiceRequest per line, in the shape the Collector's file exporter
writes (OTLP/JSON: camelCase names, hex trace and span ids, int64 as strings, enums as ints)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message

from localobs.store import Signal

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})
_TOP_KEYS: dict[str, Signal] = {
    "resourceSpans": "traces",
    "resource_spans": "traces",
    "resourceLogs": "logs",
    "resource_logs": "logs",
    "resourceMetrics": "metrics",
    "resource_metrics": "metrics",
}


def _ids_to_hex(node: Any) -> None:
    """protobuf's JSON writes bytes as base64; OTLP/JSON wants trace and span ids in hex."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def to_json_line(request: Message, note: dict[str, Any] | None = None) -> bytes:
    """One line; `note` adds top-level fields after the request's own, which OTLP/JSON readers
    (this importer, the Collector's) ignore as unknown fields, as the specification asks."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    _ids_to_hex(document)
    if note:
        document.update(note)
    return orjson.dumps(document) + b"\n"


class NotOtlpJson(ValueError):
    """A line that is no OTLP/JSON export request."""


def signal_of(line: bytes) -> Signal:
    """Which request a line holds, from its top-level key (cheap: no full parse)."""
    head = line[:64]
    for key, signal in _TOP_KEYS.items():
        if b'"' + key.encode() + b'"' in head:
            return signal
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise NotOtlpJson(f"not JSON: {exc}") from exc
    if isinstance(document, dict):
        for key in document:
            if key in _TOP_KEYS:
                return _TOP_KEYS[key]
    raise NotOtlpJson("no resourceSpans, resourceLogs or resourceMetrics at the top")
