"""Reading request bodies: content types, decompression, and the size limit."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from enum import Enum


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


async def read_body(chunks: AsyncIterator[bytes], encoding: str | None, limit: int) -> bytes:
    """The decompressed body, refused with 413 as soon as it would exceed `limit` bytes.

    Decompression is bounded per step (`max_length`), so a gzip bomb never expands in memory
    beyond the limit.
    """
    decompressor = _decompressor(encoding or "")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        pieces = [chunk] if decompressor is None else _inflate(decompressor, chunk, limit - size)
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise BodyError(413, f"request body exceeds the limit of {limit} bytes")
            parts.append(piece)
    if decompressor is not None and not decompressor.eof:
        raise BodyError(400, f"truncated {encoding} body: the compressed stream ends early")
    return b"".join(parts)


def _inflate(decompressor: zlib._Decompress, data: bytes, room: int) -> list[bytes]:
    pieces = []
    try:
        while data:
            if decompressor.eof:
                raise BodyError(400, "data after the end of the compressed stream")
            piece = decompressor.decompress(data, max(room, 0) + 1)
            pieces.append(piece)
            room -= len(piece)
            if room < 0:
                break
            data = decompressor.unconsumed_tail
    except zlib.error as exc:
        raise BodyError(400, f"the body is not valid compressed data: {exc}") from exc
    return pieces
