"""ExportTraceServiceRequest parsed with each span attribute left as its encoded KeyValue bytes.

Reading a span's attributes through protobuf objects makes two wrappers per attribute (the
KeyValue and its AnyValue): a third of the front's work per span on a GenAI load. Most of an
app's attributes repeat exactly from span to span (operation, provider, models, temperature,
finish reasons, a system prompt), so here the request is parsed by a mirror of the OTLP types
whose `Span.attributes` is `repeated bytes` (the same wire format: one length-delimited record per
KeyValue), and a small cache maps an attribute's bytes to its decoded (key, value). An attribute
not in the cache is read directly when it is encoded as SDKs encode it (a key, then one string,
int or double), and by protobuf itself otherwise, which validates it as the full parse did.

Every other field, and every other message (resource, scope, events, links, status), is OTLP's
own type, with OTLP's own field numbers, so the rest of the receiver reads a span unchanged.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from localobs.receiver.anyvalue import any_value

_PACKAGE = "localobs.wire"
_Field = descriptor_pb2.FieldDescriptorProto
_SCALAR = frozenset({str, int, float, bool})
# Small values repeat (a model name, a finish reason); large ones (messages) rarely do, and
# bytes are hashed whole on every lookup.
_CACHED_BYTES = 256
_CACHE_ENTRIES = 8192


def _message(
    file: descriptor_pb2.FileDescriptorProto,
    name: str,
    fields: list[tuple[str, int, int, str | None, bool]],
) -> None:
    message = file.message_type.add(name=name)
    for field_name, number, kind, type_name, repeated in fields:
        field = message.field.add(
            name=field_name,
            number=number,
            type=kind,
            label=_Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL,
        )
        if type_name is not None:
            field.type_name = type_name


def _request_type() -> type[Message]:
    """The mirror of ExportTraceServiceRequest: every field as OTLP's trace.proto numbers it."""
    file = descriptor_pb2.FileDescriptorProto(
        name="localobs/wire/traces.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[
            trace_pb2.DESCRIPTOR.name,
            common_pb2.DESCRIPTOR.name,
            resource_pb2.DESCRIPTOR.name,
        ],
    )
    otlp = ".opentelemetry.proto"
    b, s, m = _Field.TYPE_BYTES, _Field.TYPE_STRING, _Field.TYPE_MESSAGE
    u32 = _Field.TYPE_UINT32
    _message(
        file,
        "Span",
        [
            ("trace_id", 1, b, None, False),
            ("span_id", 2, b, None, False),
            ("trace_state", 3, s, None, False),
            ("parent_span_id", 4, b, None, False),
            ("flags", 16, _Field.TYPE_FIXED32, None, False),
            ("name", 5, s, None, False),
            ("kind", 6, _Field.TYPE_ENUM, f"{otlp}.trace.v1.Span.SpanKind", False),
            ("start_time_unix_nano", 7, _Field.TYPE_FIXED64, None, False),
            ("end_time_unix_nano", 8, _Field.TYPE_FIXED64, None, False),
            ("attributes", 9, b, None, True),  # each an encoded KeyValue
            ("dropped_attributes_count", 10, u32, None, False),
            ("events", 11, m, f"{otlp}.trace.v1.Span.Event", True),
            ("dropped_events_count", 12, u32, None, False),
            ("links", 13, m, f"{otlp}.trace.v1.Span.Link", True),
            ("dropped_links_count", 14, u32, None, False),
            ("status", 15, m, f"{otlp}.trace.v1.Status", False),
        ],
    )
    # Each envelope: its own message (field 1), what it holds (2) and schema_url (3), as in OTLP.
    for name, outer, outer_type, inner, inner_type in (
        ("ScopeSpans", "scope", f"{otlp}.common.v1.InstrumentationScope", "spans", "Span"),
        ("ResourceSpans", "resource", f"{otlp}.resource.v1.Resource", "scope_spans", "ScopeSpans"),
    ):
        _message(
            file,
            name,
            [
                (outer, 1, m, outer_type, False),
                (inner, 2, m, f".{_PACKAGE}.{inner_type}", True),
                ("schema_url", 3, s, None, False),
            ],
        )
    # The same short name as OTLP's: errors and redaction name the request the sender sent.
    _message(
        file,
        "ExportTraceServiceRequest",
        [("resource_spans", 1, m, f".{_PACKAGE}.ResourceSpans", True)],
    )
    pool = descriptor_pool.Default()
    pool.Add(file)
    request: type[Message] = message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.ExportTraceServiceRequest")
    )
    return request


TracesRequest = _request_type()


class WireSpan(Protocol):
    """A span of a TracesRequest as the receiver reads it (the class is made at run time)."""

    trace_id: bytes
    span_id: bytes
    trace_state: str
    parent_span_id: bytes
    flags: int
    name: str
    kind: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: Sequence[bytes]
    dropped_attributes_count: int
    events: Sequence[trace_pb2.Span.Event]
    dropped_events_count: int
    links: Sequence[trace_pb2.Span.Link]
    dropped_links_count: int
    status: trace_pb2.Status


_decoded: dict[bytes, tuple[str, Any]] = {}


class UnreadableAttribute(ValueError):
    """An attribute protobuf cannot decode: not a valid KeyValue, or nested past protobuf's
    depth limit. Input the receiver foresees: its span alone is refused."""


def span_attributes(encoded: Iterable[bytes]) -> dict[str, Any]:
    """A span's attributes (its encoded KeyValues) as `anyvalue.attributes` gives them; raises
    UnreadableAttribute for one protobuf cannot decode."""
    converted = {}
    known = _decoded.get
    for raw in encoded:
        small = len(raw) <= _CACHED_BYTES
        pair = known(raw) if small else None
        if pair is None:
            pair = _canonical(raw) or _decode(raw)
            # Only immutable values are shared between spans: normalization edits lists.
            if small and type(pair[1]) in _SCALAR:
                if len(_decoded) >= _CACHE_ENTRIES:
                    _decoded.clear()
                _decoded[raw] = pair
        converted[pair[0]] = pair[1]
    return converted


def _decode(raw: bytes) -> tuple[str, Any]:
    """Any KeyValue, by protobuf."""
    try:
        kv = common_pb2.KeyValue.FromString(raw)
    except DecodeError as exc:
        raise UnreadableAttribute(f"an attribute could not be decoded: {exc}") from exc
    value = kv.value
    text = value.string_value
    return kv.key, text if text else any_value(value)


_DOUBLE = struct.Struct("<d")
_KEY_TAG, _VALUE_TAG = 0x0A, 0x12  # KeyValue: key = 1 (string), value = 2 (AnyValue)
_STRING_TAG, _INT_TAG, _DOUBLE_TAG = 0x0A, 0x18, 0x21  # AnyValue's string, int and double


def _canonical(raw: bytes) -> tuple[str, Any] | None:
    """A KeyValue as SDKs encode it (the key, then one string, int or finite double value, with
    lengths under 16 KiB) read without protobuf's two wrapper objects: on a GenAI load about 40 %
    less time per attribute not in the cache. None for any other encoding, which `_decode` reads
    (it also gives the error for text that is not UTF-8)."""
    size = len(raw)
    if size < 5 or raw[0] != _KEY_TAG or raw[1] > 0x7F:
        return None
    key_end = 2 + raw[1]
    if key_end + 3 > size or raw[key_end] != _VALUE_TAG:
        return None
    end, at = _length(raw, key_end + 1)
    if at + end != size or end == 0:
        return None
    tag = raw[at]
    value: str | float | int | None = None
    try:
        if tag == _STRING_TAG:
            length, text_at = _length(raw, at + 1)
            if text_at + length == size:
                value = raw[text_at:].decode()
        elif tag == _DOUBLE_TAG and at + 9 == size:
            number: float = _DOUBLE.unpack_from(raw, at + 1)[0]
            value = number if math.isfinite(number) else None
        elif tag == _INT_TAG:
            value = _int64(raw, at + 1)
        return None if value is None else (raw[2:key_end].decode(), value)
    except (UnicodeDecodeError, IndexError):
        return None


def _length(raw: bytes, at: int) -> tuple[int, int]:
    """A varint length of one or two bytes at `at`, and where what it measures starts; a longer
    one reads as a length no record here has (-1)."""
    first = raw[at]
    if first < 0x80:
        return first, at + 1
    second = raw[at + 1]
    if second < 0x80:
        return (first & 0x7F) | (second << 7), at + 2
    return -1, at


def _int64(raw: bytes, at: int) -> int | None:
    """The varint from `at` to the end of `raw` as a protobuf int64 (two's complement); None when
    those bytes are not one varint of at most 64 bits."""
    digits = raw[at:]
    if not digits or len(digits) > 10 or digits[-1] >= 0x80:
        return None
    value = 0
    for shift, byte in enumerate(digits):
        if byte < 0x80 and shift < len(digits) - 1:
            return None  # the varint ended before the record did
        value |= (byte & 0x7F) << (7 * shift)
    if value >= 1 << 64:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value
