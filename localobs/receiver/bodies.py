"""Reading request bodies: content types, decompression, the size limit and the memory budget."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from enum import Enum

from localobs.receiver.budget import BodyHold, OverBudget

# Inflate at most this much per step, so that the budget is checked before memory is taken.
_INFLATE_STEP = 1 << 20


class Format(Enum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


class BodyError(Exception):
    """The body cannot be read; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def content_format(content_type: str | None) -> Format:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    for fmt in Format:
        if media_type == fmt.value:
            return fmt
    raise BodyError(
        415,
        f"unsupported Content-Type {content_type!r}: send application/x-protobuf "
        "or application/json",
    )


def _decompressor(encoding: str) -> zlib._Decompress | None:
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS)  # zlib-wrapped, as the Python exporter sends
    raise BodyError(415, f"unsupported Content-Encoding {encoding!r}: use gzip or deflate")


async def read_body(
    chunks: AsyncIterator[bytes], encoding: str | None, limit: int, hold: BodyHold
) -> bytes:
    """The decompressed body, refused with 413 as soon as it would exceed `limit` bytes, and
    with 503 as soon as it would take the memory budget (`hold`'s) beyond its limit.

    Decompression is bounded per step (`max_length`), so a gzip bomb never expands in memory
    beyond either limit.
    """
    decompressor = _decompressor(encoding or "")
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            if decompressor is None:
                size = _keep(parts, chunk, size, limit, hold)
                continue
            data = chunk
            while data:
                piece, data = _inflate_step(decompressor, data, limit - size)
                size = _keep(parts, piece, size, limit, hold)
                await asyncio.sleep(0)  # a small chunk may inflate for long: let others run
    except OverBudget as exc:
        raise BodyError(503, str(exc)) from exc
    if decompressor is not None and not decompressor.eof:
        raise BodyError(400, f"truncated {encoding} body: the compressed stream ends early")
    return b"".join(parts)


def _keep(parts: list[bytes], piece: bytes, size: int, limit: int, hold: BodyHold) -> int:
    """Append `piece` after checking both limits; the new size."""
    size += len(piece)
    if size > limit:
        raise BodyError(413, f"request body exceeds the limit of {limit} bytes")
    hold.add(len(piece))
    parts.append(piece)
    return size


def _inflate_step(decompressor: zlib._Decompress, data: bytes, room: int) -> tuple[bytes, bytes]:
    """At most one step of output (one byte past `room`, to notice a body over the limit) and
    the input left for the next step."""
    if decompressor.eof:
        raise BodyError(400, "data after the end of the compressed stream")
    try:
        piece = decompressor.decompress(data, min(max(room, 0) + 1, _INFLATE_STEP))
    except zlib.error as exc:
        raise BodyError(400, f"the body is not valid compressed data: {exc}") from exc
    return piece, decompressor.unconsumed_tail
