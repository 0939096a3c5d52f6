"""OTLP/JSON bodies to protobuf messages.

OTLP/JSON differs from protobuf's canonical JSON mapping in one way that matters: trace and span
ids are hex strings, while protobuf's parser reads bytes fields as base64. Ids are therefore
rewritten before parsing; an id that is not hex becomes a wrong-length id, so that item alone is
refused with partial success instead of being stored under a garbled id.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message

_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_NOT_HEX = base64.b64encode(b"\x00").decode()

M = TypeVar("M", bound=Message)


class JsonBodyError(ValueError):
    """The body is not OTLP/JSON of the expected message."""


def _hex_to_base64(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        return _NOT_HEX


def _convert_ids(document: Any) -> None:
    """Rewrite every id in place. A loop, not recursion: orjson accepts 1024 levels of nesting,
    more than Python's recursion limit."""
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _ID_KEYS:
                    node[key] = _hex_to_base64(value)
                elif isinstance(value, dict | list):
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(item for item in node if isinstance(item, dict | list))


def parse_json(body: bytes, message: M) -> M:
    """Fill `message` from an OTLP/JSON body; unknown fields are ignored, as the spec asks."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise JsonBodyError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise JsonBodyError("the body must be a JSON object")
    _convert_ids(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    # RecursionError: protobuf's parser describes a deeply nested wrong value recursively.
    except (json_format.ParseError, binascii.Error, ValueError, TypeError, RecursionError) as exc:
        raise JsonBodyError(f"the body is not a valid {message.DESCRIPTOR.name}: {exc}") from exc
    return message
