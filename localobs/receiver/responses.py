"""OTLP/HTTP responses: success with partial success, and google.rpc.Status errors.

Both are answered in the request's format. google.rpc.Status is not part of opentelemetry-proto;
its two fields used here (code = 1, message = 2) are encoded by hand rather than pulling in
googleapis-common-protos for them.
"""

from __future__ import annotations

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.responses import Response

from localobs.receiver.bodies import Format

# google.rpc.Code values for the HTTP statuses the receiver sends.
_RPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,
    421: 7,  # PERMISSION_DENIED: a Host the receiver does not answer to
    500: 13,  # INTERNAL
    503: 14,  # UNAVAILABLE
}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _status_protobuf(code: int, message: str) -> bytes:
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def error_response(
    status: int, message: str, fmt: Format, headers: dict[str, str] | None = None
) -> Response:
    code = _RPC_CODES.get(status, 2)  # 2 = UNKNOWN
    if fmt is Format.JSON:
        body = orjson.dumps({"code": code, "message": message})
    else:
        body = _status_protobuf(code, message)
    return Response(body, status_code=status, media_type=fmt.value, headers=headers)


def success_response(message: Message, fmt: Format) -> Response:
    if fmt is Format.JSON:
        body = json_format.MessageToJson(message, indent=None).encode()
    else:
        body = message.SerializeToString()
    return Response(body, status_code=200, media_type=fmt.value)
