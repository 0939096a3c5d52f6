"""Spans parsed with their attributes as encoded KeyValues (span_wire.py) read exactly as OTLP's
own types read them, whatever the values, from the first span and from the cache alike."""

from __future__ import annotations

import base64
import math

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from localobs.receiver.anyvalue import attributes
from localobs.receiver.bodies import Format
from localobs.receiver.faults import FAULTS
from localobs.receiver.pipeline import decode_body
from localobs.receiver.span_wire import TracesRequest, UnreadableAttribute, span_attributes
from localobs.store.schema import SPAN_COLUMNS
from tests.otlp_samples import trace_request

_ATTRIBUTES = SPAN_COLUMNS.index("attributes")


def _values() -> list[KeyValue]:
    nested = AnyValue()
    nested.kvlist_value.values.add(key="inner", value=AnyValue(int_value=-3))
    array = AnyValue()
    array.array_value.values.extend([AnyValue(string_value="a"), AnyValue(bool_value=False)])
    return [
        KeyValue(key="text", value=AnyValue(string_value="chat ✓")),
        KeyValue(key="empty text", value=AnyValue(string_value="")),
        KeyValue(key="no value", value=AnyValue()),
        KeyValue(key="negative", value=AnyValue(int_value=-(1 << 63))),
        KeyValue(key="big", value=AnyValue(int_value=(1 << 63) - 1)),
        KeyValue(key="zero", value=AnyValue(int_value=0)),
        KeyValue(key="double", value=AnyValue(double_value=0.2)),
        KeyValue(key="minus zero", value=AnyValue(double_value=-0.0)),
        KeyValue(key="nan", value=AnyValue(double_value=math.nan)),
        KeyValue(key="infinite", value=AnyValue(double_value=-math.inf)),
        KeyValue(key="true", value=AnyValue(bool_value=True)),
        KeyValue(key="false", value=AnyValue(bool_value=False)),
        KeyValue(key="bytes", value=AnyValue(bytes_value=b"\x00\xff")),
        KeyValue(key="array", value=array),
        KeyValue(key="map", value=nested),
        KeyValue(key="long", value=AnyValue(string_value="x" * 5000)),
        KeyValue(key="text", value=AnyValue(string_value="the last of a repeated key wins")),
        KeyValue(key="", value=AnyValue(string_value="an empty key")),
    ]


def _both(request: ExportTraceServiceRequest) -> tuple[list[object], list[object]]:
    """Each span's attributes as OTLP's types read them, and as span_wire reads them."""
    wire = TracesRequest.FromString(request.SerializeToString())
    otlp = [
        attributes(span.attributes)
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    mirrored = [
        span_attributes(span.attributes)
        for resource in wire.resource_spans  # type: ignore[attr-defined]
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    return otlp, mirrored


def test_every_kind_of_value_reads_as_otlps_own_types_read_it_first_time_and_cached() -> None:
    request = trace_request(3)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.attributes.extend(_values())
    for _ in range(2):  # the second time, the small values come from the cache
        otlp, mirrored = _both(request)
        assert repr(mirrored) == repr(otlp)  # repr: NaN markers and -0.0 compared exactly
        assert mirrored[0]["text"] == "the last of a repeated key wins"


def test_a_cached_value_is_never_shared_mutably_between_spans() -> None:
    request = trace_request(2)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.attributes.extend(_values())
    _, mirrored = _both(request)
    first, second = mirrored
    assert isinstance(first, dict) and isinstance(second, dict)
    first["array"].append("changed by normalization")
    first["map"]["inner"] = 99
    assert second["array"] == ["a", False] and second["map"] == {"inner": -3}
    _, again = _both(request)
    assert again[0]["array"] == ["a", False]  # type: ignore[index]


def test_the_mirror_numbers_every_field_as_otlp_does() -> None:
    """A field renumbered or missing would read another field's bytes, silently."""
    mirror = TracesRequest.DESCRIPTOR.fields_by_name["resource_spans"].message_type
    otlp = ExportTraceServiceRequest.DESCRIPTOR.fields_by_name["resource_spans"].message_type
    pairs = [(mirror, otlp)]
    while pairs:
        ours, theirs = pairs.pop()
        assert {f.name: f.number for f in ours.fields} == {
            f.name: f.number for f in theirs.fields
        }, theirs.full_name
        for field in ours.fields:
            other = theirs.fields_by_name[field.name]
            if theirs is Span.DESCRIPTOR and field.name == "attributes":
                assert field.type == field.TYPE_BYTES and other.type == other.TYPE_MESSAGE
                continue
            assert (field.type, field.is_repeated) == (other.type, other.is_repeated), (
                field.full_name
            )
            if field.message_type is not None and field.message_type is not other.message_type:
                pairs.append((field.message_type, other.message_type))


def _nested(depth: int) -> bytes:
    """An encoded attribute whose value is arrays nested `depth` deep."""
    value: dict[str, object] = {"stringValue": "bottom"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    document = {"key": "deep", "value": value}
    return json_format.ParseDict(document, KeyValue(), max_recursion_depth=1000).SerializeToString()


def test_a_broken_attribute_refuses_its_span_alone_with_a_clear_error() -> None:
    """OTLP's types refused the whole body for it; the mirror reads attributes per span. Such
    input is foreseen: refused with a reason, not counted as a decoder's failure."""
    wire = TracesRequest.FromString(trace_request(4).SerializeToString())
    spans = wire.resource_spans[0].scope_spans[0].spans  # type: ignore[attr-defined]
    spans[2].attributes.append(_nested(40))  # deep, within protobuf's limit: read
    spans[3].attributes.append(_nested(200))  # past protobuf's depth limit
    spans[0].attributes.append(b"\x0a\x02\xff\xfe")  # a key that is not UTF-8
    spans[1].attributes.append(b"\x0a\x40short")  # a key longer than the record
    faults = FAULTS.counts()
    batch, rejections = decode_body("traces", wire.SerializeToString(), Format.PROTOBUF)
    assert rejections.count == 3
    assert rejections.message.startswith("span 'span-0': an attribute could not be decoded")
    assert [row[5] for row in batch.rows] == ["span-2"]
    assert '"deep"' in batch.rows[0][_ATTRIBUTES]  # its attributes were read
    assert FAULTS.counts() == faults


def test_json_bodies_reach_the_same_rows_as_protobuf() -> None:
    request = trace_request(2)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.attributes.extend(_values()[:8])
    document = json_format.MessageToDict(request)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:  # OTLP/JSON ids are hex
                for key in ("traceId", "spanId"):
                    span[key] = base64.b64decode(span[key]).hex()
    from_json, _ = decode_body("traces", orjson.dumps(document), Format.JSON)
    from_protobuf, _ = decode_body("traces", request.SerializeToString(), Format.PROTOBUF)
    assert from_json.rows == from_protobuf.rows


def _as_protobuf_reads(raw: bytes) -> dict[str, object] | None:
    """The attribute as OTLP's own KeyValue reads it; None when protobuf refuses it."""
    try:
        return attributes([KeyValue.FromString(raw)])
    except DecodeError:
        return None


def _reads_the_same(raw: bytes) -> None:
    expected = _as_protobuf_reads(raw)
    if expected is None:
        with pytest.raises(UnreadableAttribute):
            span_attributes([raw])
    else:
        assert repr(span_attributes([raw])) == repr(expected)


# The encodings SDKs send are read without protobuf; these look like them but are not: each must
# read as protobuf reads it, or be refused as protobuf refuses it.
_NEAR_CANONICAL = [
    b"\x0a\x01k\x12\x02\x18\x05",  # int 5
    b"\x0a\x01k\x12\x04\x18\x05\x18\x07",  # two ints: the last wins
    b"\x0a\x01k\x12\x04\x18\x85\x01\x00",  # a varint that ends before the record
    b"\x0a\x01k\x12\x0b\x18" + b"\xff" * 9 + b"\x01",  # -1
    b"\x0a\x01k\x12\x0b\x18" + b"\xff" * 9 + b"\x7f",  # past 64 bits
    b"\x0a\x01k\x12\x0c\x18" + b"\x80" * 10 + b"\x00",  # eleven bytes
    b"\x0a\x01k\x12\x03\x18\x80\x00",  # 0, not in its shortest form
    b"\x0a\x01k\x12\x02\x18\x85",  # a varint cut short
    b"\x0a\x01k\x12\x09\x21" + b"\x00" * 7 + b"\xf8\x7f",  # NaN
    b"\x0a\x01k\x12\x09\x21" + b"\x00" * 8,  # 0.0
    b"\x0a\x01k\x12\x08\x21" + b"\x00" * 7,  # a double cut short
    b"\x0a\x01k\x12\x03\x0a\x01\xff",  # a value that is not UTF-8
    b"\x0a\x01\xff\x12\x03\x0a\x01v",  # a key that is not UTF-8
    b"\x0a\x01k\x12\x03\x0a\x02v",  # a string longer than its value
    b"\x0a\x01k\x12\x04\x0a\x01v\x00",  # a byte after the string
    b"\x0a\x01k\x12\x02\x0a\x00",  # the empty string
    b"\x0a\x00\x12\x03\x0a\x01v",  # the empty key, sent
    b"\x12\x03\x0a\x01v\x0a\x01k",  # the value before the key
    b"\x0a\x01k\x12\x03\x0a\x01v\x0a\x01j",  # a second key: the last wins
    b"\x0a\x01k\x12\x03\x0a\x01v\x12\x02\x18\x01",  # a second value: merged
    b"\x0a\x01k\x12\x04\x0a\x81\x00v",  # a string length not in its shortest form
    b"\x0a\x01k\x12\x80\x01\x0a\x7e" + b"v" * 126,  # a two-byte value length
    b"\x0a\x01k\x12\x80\x00",  # an empty value, its length not in its shortest form
    b"\x0a\x01k\x12\x00",  # an empty value
]


@pytest.mark.parametrize("raw", _NEAR_CANONICAL, ids=lambda raw: raw.hex())
def test_an_attribute_encoded_unlike_the_sdks_reads_as_protobuf_reads_it(raw: bytes) -> None:
    _reads_the_same(raw)


@settings(max_examples=400, deadline=None)
@given(
    key=st.text(max_size=140),
    value=st.one_of(
        st.text(max_size=20_000),
        st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
        st.floats(),
        st.booleans(),
    ),
    cut=st.integers(min_value=0, max_value=12),
)
def test_any_scalar_attribute_and_any_cut_of_it_reads_as_protobuf_reads_it(
    key: str, value: object, cut: int
) -> None:
    """Whole, as an SDK encodes it, and cut short (which protobuf refuses or reads otherwise)."""
    field = {str: "string_value", int: "int_value", float: "double_value", bool: "bool_value"}
    raw = KeyValue(key=key, value=AnyValue(**{field[type(value)]: value})).SerializeToString()
    _reads_the_same(raw)
    _reads_the_same(raw[: max(len(raw) - cut, 0)])


@settings(max_examples=400, deadline=None)
@given(value=st.binary(max_size=24), key_size=st.integers(min_value=0, max_value=3))
def test_any_bytes_after_a_key_read_as_protobuf_reads_them(value: bytes, key_size: int) -> None:
    """Whatever follows the key (a value of any tag, length or content) reads as protobuf reads
    it: the direct reader takes only what it fully checked."""
    key = b"\x0a" + bytes([key_size]) + b"k" * key_size
    _reads_the_same(key + b"\x12" + bytes([len(value)]) + value)
    _reads_the_same(key + b"\x12" + value)
