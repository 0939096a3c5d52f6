"""google.rpc.Status with a RetryInfo detail, encoded and read by hand.

Neither message is part of opentelemetry-proto; the few fields used here (Status: code = 1,
message = 2, details = 3; Any: type_url = 1, value = 2; RetryInfo: retry_delay = 1) are
encoded directly, as responses.py does, so googleapis-common-protos is not a runtime dependency.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError

RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def retry_info(delay_s: float) -> bytes:
    """A serialized google.rpc.RetryInfo."""
    delay = Duration(seconds=int(delay_s), nanos=round(delay_s % 1 * 1e9))
    return _length_delimited(1, delay.SerializeToString())


def rpc_status(code: int, message: str, retry_delay_s: float | None = None) -> bytes:
    """A serialized google.rpc.Status, with a RetryInfo detail when a delay is given."""
    out = _varint(1 << 3 | _VARINT) + _varint(code)
    out += _length_delimited(2, message.encode())
    if retry_delay_s is not None:
        detail = _length_delimited(1, RETRY_INFO_TYPE.encode())
        detail += _length_delimited(2, retry_info(retry_delay_s))
        out += _length_delimited(3, detail)
    return out


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field of a serialized message; skips fixed-width ones."""
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        wire_type = key & 7
        if wire_type == _VARINT:
            value, position = _read_varint(data, position)
            yield key >> 3, value
        elif wire_type == _LENGTH_DELIMITED:
            size, position = _read_varint(data, position)
            if position + size > len(data):
                raise ValueError("truncated field")
            yield key >> 3, data[position : position + size]
            position += size
        elif wire_type in (_FIXED64, _FIXED32):
            position += 8 if wire_type == _FIXED64 else 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")


def retry_delay_of_info(info: bytes) -> float | None:
    """The delay of a serialized RetryInfo, in seconds; None when it cannot be read."""
    try:
        for number, value in _fields(info):
            if number == 1 and isinstance(value, bytes):
                delay = Duration.FromString(value)
                return float(delay.seconds + delay.nanos / 1e9)
    except (ValueError, DecodeError):
        return None
    return None


def retry_delay_of_status(status: bytes) -> float | None:
    """The RetryInfo delay among a serialized google.rpc.Status's details, in seconds; None when
    there is none or it cannot be read."""
    try:
        for number, detail in _fields(status):
            if number != 3 or not isinstance(detail, bytes):
                continue
            fields = dict(_fields(detail))
            if fields.get(1) == RETRY_INFO_TYPE.encode() and isinstance(fields.get(2), bytes):
                return retry_delay_of_info(fields[2])  # type: ignore[arg-type]
    except ValueError:
        return None
    return None
