"""Hypothesis strategies for hostile OTLP requests, in OTLP/JSON form (dicts), and their encodings.

Every request mixes well-formed items with hostile ones: integers beyond 64 bits or negative where
OTLP says unsigned, NaN and infinities, wrong JSON types in any field and in every GenAI attribute
of every dialect (names taken from the normalizers), deep nesting, strings that are no valid UTF-8
once encoded, empty, all-zero, malformed and duplicate ids, and missing fields. `expect_*`
states what the receiver must do with each item (store it or refuse it alone), so a test can check
that every 200 committed exactly the items it should.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

INT64_MAX = (1 << 63) - 1
START = 1_700_000_000_000_000_000
# Strings holding this are corrupted after encoding: invalid UTF-8 in protobuf, a lone surrogate
# escape or raw invalid bytes in JSON.
BAD_UTF8 = "<<bad-utf8>>"
TAG = "fuzz.example"  # attribute that marks a log record or point with its example's number

HUGE_INTS = (
    INT64_MAX,
    INT64_MAX + 1,
    (1 << 64) - 1,
    1 << 64,
    -(1 << 63),
    -(1 << 63) - 1,
    10**30,
    -1,
    0,
)

# Every attribute a GenAI normalizer reads (receiver/genai/*.py), by dialect, to be sent with any
# type. A span draws its attributes from one dialect (plus any key), so each normalizer is reached.
SEMCONV_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.request.max_tokens",
    "gen_ai.request.temperature",
    "gen_ai.request.top_p",
    "gen_ai.response.finish_reasons",
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.is_streaming",
    "llm.is_streaming",
    "llm.usage.total_tokens",
    "error.type",
    "event.name",
    "localobs.moved",
)
OPENLLMETRY_KEYS = (*SEMCONV_KEYS, "traceloop.span.kind", "llm.request.type")
OPENINFERENCE_KEYS = (
    "openinference.span.kind",
    "llm.invocation_parameters",
    "llm.model_name",
    "llm.request.model_name",
    "llm.response.model_name",
    "embedding.model_name",
    "llm.provider",
    "llm.system",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.finish_reason",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "localobs.moved",
)
# The attributes each dialect is recognized by, with the values that pick its branches.
MARKERS = {
    "semconv": (
        ("gen_ai.operation.name", ("chat", "embeddings", "execute_tool", "text_completion")),
    ),
    "legacy": (("gen_ai.system", ("openai", "anthropic")),),
    "openllmetry": (
        ("llm.request.type", ("chat", "completion", "embedding", "rerank")),
        ("traceloop.span.kind", ("workflow", "task", "agent", "tool")),
    ),
    "openinference": (("openinference.span.kind", ("LLM", "EMBEDDING", "AGENT", "TOOL")),),
}
# Indexed attributes: prefix, index, field (nested tool calls and content blocks included).
INDEXED_PREFIXES = {
    "semconv": (),
    "legacy": (),
    "openllmetry": ("gen_ai.prompt", "gen_ai.completion"),
    "openinference": (
        "llm.input_messages",
        "llm.output_messages",
        "llm.prompts",
        "llm.choices",
        "embedding.embeddings",
    ),
}
DIALECT_KEYS = {
    "semconv": SEMCONV_KEYS,
    "legacy": SEMCONV_KEYS,
    "openllmetry": OPENLLMETRY_KEYS,
    "openinference": OPENINFERENCE_KEYS,
}
INDEXED_FIELDS = (
    "role",
    "content",
    "tool_call_id",
    "refusal",
    "finish_reason",
    "tool_calls.0.id",
    "tool_calls.0.name",
    "tool_calls.1.arguments",
    "message.role",
    "message.content",
    "message.tool_call_id",
    "message.name",
    "message.function_call_name",
    "message.function_call_arguments_json",
    "message.contents.0.message_content.type",
    "message.contents.0.message_content.text",
    "message.contents.1.message_content.image.image.url",
    "message.tool_calls.0.tool_call.id",
    "message.tool_calls.0.tool_call.function.name",
    "message.tool_calls.0.tool_call.function.arguments",
    "prompt.text",
    "completion.text",
    "embedding.text",
)
INDICES = ("0", "1", "2", "00", "10", "²", "٣", "-1", "99999999999999999999", "9" * 5000, "")
EVENT_NAMES = (
    "exception",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "First Token Stream Event",
    "gen_ai.content.completion.chunk",
    "llm.content.completion.chunk",
)
EVENT_KEYS = ("exception.type", "gen_ai.prompt", "gen_ai.completion")
LOG_EVENT_NAMES = (
    "gen_ai.client.inference.operation.details",
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
    "gen_ai.other",
)
# Keys of the JSON documents (messages, parameters, bodies) the normalizers look into.
DOCUMENT_KEYS = (
    "role",
    "content",
    "parts",
    "type",
    "text",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "id",
    "tool_call_id",
    "finish_reason",
    "message",
    "messages",
    "index",
    "image_url",
    "url",
    "model",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "response",
)
KIND_NAMES = (
    "LLM",
    "EMBEDDING",
    "AGENT",
    "TOOL",
    "chat",
    "completion",
    "embedding",
    "rerank",
    "workflow",
    "text_completion",
    "embeddings",
    "invoke_agent",
    "execute_tool",
    "text/plain",
    "application/json",
)


def rarely(
    usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any], one_in: int = 100
) -> st.SearchStrategy[Any]:
    """`other` once in `one_in` draws, roughly (Hypothesis favours the first choice a few times
    over, which keeps that case well covered). Values that make the whole body unreadable (a wrong
    JSON type, a number beyond the field's type) must stay rare: a request carries dozens of
    fields, and one such value turns it into a 400 that exercises nothing behind the parser."""
    return st.sampled_from(range(one_in)).flatmap(lambda n: other if n == 0 else usual)


def _in_range(low: int, high: int, *edges: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), st.sampled_from((low, high, 0, *edges)))


# Numbers within each protobuf field type (the parser takes them), edges included; beyond (rare).
out_of_range = st.sampled_from(HUGE_INTS)
int64s = rarely(_in_range(-(1 << 63), INT64_MAX, -1, 1 << 40, (1 << 40) + 1), out_of_range)
uint64s = rarely(_in_range(0, (1 << 64) - 1, INT64_MAX, INT64_MAX + 1), out_of_range)
uint32s = rarely(_in_range(0, (1 << 32) - 1), out_of_range)
int32s = rarely(_in_range(-(1 << 31), (1 << 31) - 1, 1, 2, 3, 5), out_of_range)
ints = st.one_of(int64s, out_of_range)
texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ("", "0", "42", "²", "9" * 30, "[{", "{", "null", "NaN", "chat", BAD_UTF8, "\x00")
        + KIND_NAMES
    ),
)
# JSON documents as text (stdlib json writes any int, NaN and Infinity: all of them hostile).
documents = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(1 << 70), 1 << 70),
        st.floats(),
        texts,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(DOCUMENT_KEYS), texts), inner, max_size=4),
    ),
    max_leaves=10,
)
# JSON nested deeper than orjson writes back (254) or Python recurses (~1000), up to orjson's
# reading limit (1024), in the shapes the normalizers look into.
DEEP_SHAPES = (
    '[{{"role":"user","parts":[{}]}}]',
    '[{{"role":"user","content":{}}}]',
    '{{"messages":[{{"role":"user","content":{}}}]}}',
    '[{{"type":"text","text":{}}}]',
    "{}",
)
deep_json_texts = st.builds(
    lambda shape, depth: shape.format("[" * depth + '"deep"' + "]" * depth),
    st.sampled_from(DEEP_SHAPES),
    st.sampled_from((300, 1000, 1015)),
)
json_texts = st.one_of(
    documents.map(lambda document: json.dumps(document, ensure_ascii=False)), deep_json_texts
)
# Anything at all where a typed field is expected.
junk = st.one_of(
    st.none(), st.booleans(), ints, st.floats(allow_nan=False), texts, st.just([]), st.just({})
)


def _tagged(kind: str) -> Any:
    return lambda value: {kind: value}


scalar_values = rarely(
    st.one_of(
        texts.map(_tagged("stringValue")),
        json_texts.map(_tagged("stringValue")),
        int64s.map(_tagged("intValue")),
        int64s.map(lambda number: {"intValue": str(number)}),  # OTLP/JSON's usual int64 form
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from(("NaN", "Infinity", "-Infinity")),
            int64s,
        ).map(_tagged("doubleValue")),
        st.booleans().map(_tagged("boolValue")),
        st.binary(max_size=8).map(lambda raw: {"bytesValue": base64.b64encode(raw).decode()}),
        st.just({}),
    ),
    # A value of the wrong JSON type for its field, or beyond it: the body is unreadable.
    st.builds(
        lambda kind, value: {kind: value},
        st.sampled_from(
            (
                "stringValue",
                "intValue",
                "doubleValue",
                "boolValue",
                "bytesValue",
                "arrayValue",
                "kvlistValue",
            )
        ),
        junk,
    ),
    one_in=300,
)


def _nested(depth: int) -> dict[str, Any]:
    """An AnyValue nested `depth` levels deep, alternating arrays and kvlists."""
    value: dict[str, Any] = {"stringValue": "bottom"}
    for level in range(depth):
        if level % 2:
            value = {"arrayValue": {"values": [value]}}
        else:
            value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


any_values = rarely(
    st.recursive(
        scalar_values,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda values: {"arrayValue": {"values": values}}),
            st.lists(st.tuples(texts, inner), max_size=3).map(
                lambda pairs: {
                    "kvlistValue": {"values": [{"key": k, "value": v} for k, v in pairs]}
                }
            ),
        ),
        max_leaves=6,
    ),
    # Beyond ~100 levels protobuf refuses: a span attribute its span alone, anything else the body.
    rarely(st.integers(1, 90), st.integers(95, 140), one_in=10).map(_nested),
)


def _indexed_key(prefix: str, index: str, name: str) -> str:
    return f"{prefix}.{index}.{name}"


def _keys(dialect: str) -> st.SearchStrategy[str]:
    keys = st.one_of(st.sampled_from(DIALECT_KEYS[dialect]), texts)
    if not INDEXED_PREFIXES[dialect]:
        return keys
    indexed = st.builds(
        _indexed_key,
        st.sampled_from(INDEXED_PREFIXES[dialect]),
        rarely(st.sampled_from(("0", "1", "2")), st.sampled_from(INDICES), one_in=5),
        st.sampled_from(INDEXED_FIELDS),
    )
    return st.one_of(keys, indexed, indexed)


def _pair(key: Any, value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


# Attributes whose string value the normalizers parse as JSON: they get JSON text more often.
JSON_KEYS = {
    "semconv": (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    ),
    "openllmetry": ("gen_ai.prompt.0.content", "gen_ai.completion.0.content"),
    "openinference": ("llm.invocation_parameters", "input.value", "output.value"),
}
JSON_KEYS["legacy"] = JSON_KEYS["semconv"]


def _attributes(dialect: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    pair = st.one_of(
        st.builds(_pair, _keys(dialect), any_values),
        st.builds(
            _pair, st.sampled_from(JSON_KEYS[dialect]), json_texts.map(_tagged("stringValue"))
        ),
    )
    pairs = st.lists(pair, max_size=10)
    if dialect in MARKERS:
        # The marker's value is of another type now and then: kinds are looked up in tables.
        marker = st.sampled_from(MARKERS[dialect]).flatmap(
            lambda known: st.builds(
                _pair,
                st.just(known[0]),
                rarely(st.sampled_from(known[1]).map(_tagged("stringValue")), any_values, one_in=3),
            )
        )
        pairs = st.builds(lambda first, rest: [first, *rest], marker, pairs)
    # A key of the wrong JSON type (rare: the body is then unreadable).
    return pairs.flatmap(
        lambda items: rarely(st.just(items), st.just([*items, _pair(1, [])]), one_in=300)
    )


# "legacy": semconv keys marked by `gen_ai.system` only (semconv before 1.27).
attribute_lists = st.sampled_from(("semconv", "openllmetry", "openinference", "legacy")).flatmap(
    _attributes
)
# Resource and scope attributes: any keys.
plain_attributes = st.lists(st.builds(_pair, texts, any_values), max_size=4)


# Ids as hex text: valid, empty, all zero, odd or wrong length, not hex, or shared (duplicates).
SHARED_TRACE = "5" * 32
SHARED_SPAN = "6" * 16


def _ids(size: int, shared: str) -> st.SearchStrategy[Any]:
    return rarely(
        st.one_of(
            st.binary(min_size=size, max_size=size).map(bytes.hex),
            st.binary(min_size=size, max_size=size).map(lambda raw: raw.hex().upper()),
            st.just(shared),
        ),
        st.sampled_from(("", "0" * 2 * size, "abc", "zz" * size, "0" * (2 * size + 2))),
        one_in=20,
    )


trace_ids = _ids(16, SHARED_TRACE)
span_ids = _ids(8, SHARED_SPAN)
# OTLP times are fixed64: up to 2^64 - 1 parses, but SQLite stores only up to 2^63 - 1.
times = rarely(
    rarely(
        st.one_of(
            st.integers(START, START + 10**12),
            st.integers(START, START + 10**12).map(str),
            st.sampled_from((0, INT64_MAX)),
        ),
        st.sampled_from((INT64_MAX + 1, (1 << 64) - 1)).flatmap(
            lambda edge: st.sampled_from((edge, str(edge)))
        ),
        one_in=15,
    ),
    st.one_of(out_of_range, junk),
    one_in=100,
)


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object where every field may be missing."""
    return st.fixed_dictionaries({}, optional=fields)


events = st.lists(
    _optional(
        name=st.one_of(st.sampled_from(EVENT_NAMES), texts),
        timeUnixNano=times,
        attributes=st.lists(
            st.builds(
                lambda key, value: {"key": key, "value": value},
                st.sampled_from(EVENT_KEYS),
                any_values,
            ),
            max_size=2,
        ),
        droppedAttributesCount=uint32s,
    ),
    max_size=3,
)
links = st.lists(
    _optional(
        traceId=trace_ids,
        spanId=span_ids,
        traceState=texts,
        attributes=attribute_lists,
        flags=uint32s,
    ),
    max_size=2,
)
spans = st.builds(
    lambda ids, rest: {**ids, **rest},
    rarely(
        st.fixed_dictionaries({"traceId": trace_ids, "spanId": span_ids}),
        _optional(traceId=trace_ids, spanId=span_ids),  # missing ids
        one_in=30,
    ),
    _optional(
        parentSpanId=st.one_of(span_ids, st.just("")),
        name=texts,
        kind=rarely(
            st.one_of(st.integers(0, 5), int32s, st.just("SPAN_KIND_CLIENT")), st.just("NOPE")
        ),
        startTimeUnixNano=times,
        endTimeUnixNano=times,
        attributes=attribute_lists,
        events=events,
        links=links,
        status=_optional(code=st.one_of(st.integers(0, 2), int32s), message=texts),
        droppedAttributesCount=uint32s,
        droppedEventsCount=uint32s,
        droppedLinksCount=uint32s,
        flags=uint32s,
        traceState=texts,
    ),
)


resources = _optional(attributes=plain_attributes, droppedAttributesCount=uint32s)
scopes = _optional(name=texts, version=texts, attributes=plain_attributes)


def trace_requests() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda resource, scope, items: {
            "resourceSpans": [
                {"resource": resource, "scopeSpans": [{"scope": scope, "spans": items}]}
            ]
        },
        resources,
        scopes,
        st.lists(spans, min_size=1, max_size=5),
    )


log_bodies = st.one_of(
    any_values,
    st.dictionaries(st.sampled_from(DOCUMENT_KEYS), any_values, max_size=4).map(
        lambda fields: {
            "kvlistValue": {"values": [{"key": k, "value": v} for k, v in fields.items()]}
        }
    ),
)
log_records = st.builds(
    lambda ids, rest: {**ids, **rest},
    rarely(
        st.fixed_dictionaries(
            {
                "traceId": trace_ids,
                "spanId": span_ids,
                "eventName": st.sampled_from(LOG_EVENT_NAMES),
            }
        ),
        _optional(traceId=trace_ids, spanId=span_ids, eventName=texts),
        one_in=4,
    ),
    _optional(
        timeUnixNano=times,
        observedTimeUnixNano=times,
        severityNumber=st.one_of(st.integers(0, 24), int32s),
        severityText=texts,
        body=log_bodies,
        attributes=attribute_lists,
        flags=uint32s,
        droppedAttributesCount=uint32s,
    ),
)


def log_requests() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda resource, scope, items: {
            "resourceLogs": [
                {"resource": resource, "scopeLogs": [{"scope": scope, "logRecords": items}]}
            ]
        },
        resources,
        scopes,
        st.lists(log_records, min_size=1, max_size=5),
    )


doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(("NaN", "Infinity", "-Infinity")),
    int64s,
)
exemplars = st.lists(
    _optional(
        timeUnixNano=times,
        asDouble=doubles,
        filteredAttributes=attribute_lists,
        traceId=trace_ids,
        spanId=span_ids,
    ),
    max_size=2,
)
_POINT = {
    "startTimeUnixNano": times,
    "timeUnixNano": times,
    "attributes": attribute_lists,
    "flags": uint32s,
}
number_points = _optional(**_POINT, asInt=int64s, exemplars=exemplars) | _optional(
    **_POINT, asDouble=doubles, exemplars=exemplars
)
histogram_points = _optional(
    **_POINT,
    count=uint64s,
    sum=doubles,
    min=doubles,
    max=doubles,
    bucketCounts=st.lists(uint64s, max_size=3),
    explicitBounds=st.lists(doubles, max_size=3),
    exemplars=exemplars,
)
exponential_points = _optional(
    **_POINT,
    count=uint64s,
    sum=doubles,
    scale=int32s,
    zeroCount=uint64s,
    zeroThreshold=doubles,
    positive=_optional(offset=int32s, bucketCounts=st.lists(uint64s, max_size=3)),
    negative=_optional(offset=int32s, bucketCounts=st.lists(uint64s, max_size=3)),
)
summary_points = _optional(
    **_POINT,
    count=uint64s,
    sum=doubles,
    quantileValues=st.lists(_optional(quantile=doubles, value=doubles), max_size=3),
)


def _metric(kind: str, points: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    data = st.fixed_dictionaries(
        {"dataPoints": st.lists(points, max_size=3)},
        optional={"aggregationTemporality": st.one_of(st.integers(0, 2), int32s)},
    )
    return st.builds(
        lambda name, unit, body: {"name": name, "unit": unit, kind: body}, texts, texts, data
    )


metrics = st.one_of(
    _metric("gauge", number_points),
    _metric("sum", number_points),
    _metric("histogram", histogram_points),
    _metric("exponentialHistogram", exponential_points),
    _metric("summary", summary_points),
    _optional(name=texts, unit=texts),  # a metric without data
)


def metric_requests() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda resource, scope, items: {
            "resourceMetrics": [
                {"resource": resource, "scopeMetrics": [{"scope": scope, "metrics": items}]}
            ]
        },
        resources,
        scopes,
        st.lists(metrics, min_size=1, max_size=4),
    )


# --- Encodings ---------------------------------------------------------------------------------

MESSAGES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def _id_bytes(text: str) -> bytes:
    """Hex text as bytes; text that is no hex becomes a 1-byte id (refused, as in OTLP/JSON)."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b"\x00"


def _ids_to_base64(node: Any) -> Any:
    """protobuf's JSON parser reads bytes as base64, OTLP/JSON writes ids as hex."""
    if isinstance(node, dict):
        converted = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                value = base64.b64encode(_id_bytes(value)).decode()
            converted[key] = _ids_to_base64(value)
        return converted
    if isinstance(node, list):
        return [_ids_to_base64(item) for item in node]
    return node


def json_body(document: dict[str, Any], corrupt: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=False).encode()
    return text.replace(BAD_UTF8.encode(), b"\\ud800\xff" if corrupt else b"ok")


def protobuf_body(signal: str, document: dict[str, Any]) -> bytes | None:
    """The same request as protobuf, with BAD_UTF8 turned into invalid UTF-8 (same length, so the
    framing stays valid); None when the document holds values protobuf cannot carry at all (those
    are sent as OTLP/JSON only)."""
    message = MESSAGES[signal]()
    try:
        json_format.ParseDict(_ids_to_base64(document), message, max_recursion_depth=1000)
    except (json_format.ParseError, ValueError, TypeError):
        return None
    marker = BAD_UTF8.encode()
    return message.SerializeToString().replace(marker, b"\xff" * len(marker))


@dataclass
class Expected:
    """What the receiver must do with a request it accepts (200)."""

    span_ids: set[tuple[str, str]] = field(default_factory=set)  # stored, read back by id
    items: int = 0  # log records or points stored (tagged with the example's number)
    rejected: int = 0  # refused one by one, in partial_success


def _hex(value: Any, size: int, *, zero_ok: bool) -> str | None:
    """The id as stored, or None when the item must be refused for it ("" -> "")."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    if len(raw) != size or (not zero_ok and raw == bytes(size)):
        return None
    return raw.hex()


def _time_ok(value: Any) -> bool:
    return value is None or int(value) <= INT64_MAX


def _attributes_readable(span: dict[str, Any], corrupted: bool) -> bool:
    """Whether protobuf decodes each of the span's attributes on its own, as sent (`corrupted`:
    with BAD_UTF8 as invalid UTF-8). The receiver reads a span's attributes one by one: one
    nested past protobuf's depth limit, or holding invalid UTF-8, refuses its span alone."""
    for attribute in span.get("attributes", []):
        try:
            encoded = json_format.ParseDict(
                _ids_to_base64(attribute), KeyValue(), max_recursion_depth=1000
            ).SerializeToString()
        except (json_format.ParseError, ValueError, TypeError):
            continue  # not a KeyValue protobuf can carry: the whole body is refused instead
        if corrupted:
            marker = BAD_UTF8.encode()
            encoded = encoded.replace(marker, b"\xff" * len(marker))
        try:
            KeyValue.FromString(encoded)
        except DecodeError:
            return False
    return True


def bad_utf8_only_in_span_attributes(document: dict[str, Any]) -> bool:
    """Whether BAD_UTF8 occurs in the spans' own attributes and nowhere else in the request."""
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    if BAD_UTF8 not in json.dumps([span.get("attributes", []) for span in spans]):
        return False
    rest = json.loads(json.dumps(document))
    for span in rest["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span.pop("attributes", None)
    return BAD_UTF8 not in json.dumps(rest)


def expect_traces(document: dict[str, Any], corrupted: bool = False) -> Expected:
    expected = Expected()
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        trace_id = _hex(span.get("traceId"), 16, zero_ok=False)
        span_id = _hex(span.get("spanId"), 8, zero_ok=False)
        parent = _hex(span.get("parentSpanId"), 8, zero_ok=True)
        times_ok = _time_ok(span.get("startTimeUnixNano")) and _time_ok(span.get("endTimeUnixNano"))
        readable = _attributes_readable(span, corrupted)
        if trace_id and span_id and parent is not None and times_ok and readable:
            expected.span_ids.add((trace_id, span_id))
        else:
            expected.rejected += 1
    return expected


def expect_logs(document: dict[str, Any]) -> Expected:
    expected = Expected()
    for record in document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
        ids_ok = (
            _hex(record.get("traceId"), 16, zero_ok=True) is not None
            and _hex(record.get("spanId"), 8, zero_ok=True) is not None
        )
        if (
            ids_ok
            and _time_ok(record.get("timeUnixNano"))
            and _time_ok(record.get("observedTimeUnixNano"))
        ):
            expected.items += 1
        else:
            expected.rejected += 1
    return expected


def expect_metrics(document: dict[str, Any]) -> Expected:
    expected = Expected()
    for metric in document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]:
        if not metric.get("name"):
            expected.rejected += 1
            continue
        for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
            for point in metric.get(kind, {}).get("dataPoints", []):
                bounds = [float(bound) for bound in point.get("explicitBounds", [])]
                valid = (
                    int(point.get("count", 0)) <= INT64_MAX
                    and all(map(math.isfinite, bounds))
                    and _time_ok(point.get("startTimeUnixNano"))
                    and _time_ok(point.get("timeUnixNano"))
                )
                if valid:
                    expected.items += 1
                else:
                    expected.rejected += 1
    return expected


def tag(signal: str, document: dict[str, Any], number: int) -> None:
    """Mark every log record or data point of the request with the example's number (last, so it
    wins over a hostile attribute of the same key)."""
    pair = {"key": TAG, "value": {"intValue": number}}
    if signal == "logs":
        for record in document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
            record["attributes"] = [*record.get("attributes", []), pair]
    elif signal == "metrics":
        for metric in document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]:
            for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
                for point in metric.get(kind, {}).get("dataPoints", []):
                    point["attributes"] = [*point.get("attributes", []), pair]
