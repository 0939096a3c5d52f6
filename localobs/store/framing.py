"""Length-prefixed marshal frames over a stream socket, between the front and the writer process.

marshal is the fastest stdlib serializer for plain tuples of str/int/float/None (about half of
pickle's cost per span), and both ends are the same Python build, which marshal requires.
"""

from __future__ import annotations

import marshal
import socket
import struct
from typing import Any

_HEADER = struct.Struct("<I")
_RECV_SIZE = 1 << 20


def send_frame(sock: socket.socket, message: Any) -> None:
    payload = marshal.dumps(message)
    sock.sendall(_HEADER.pack(len(payload)))
    sock.sendall(payload)


class FrameReader:
    """Reads whole frames; `read(block=False)` returns only what has already arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self.closed = False

    def read(self, *, block: bool) -> list[Any]:
        """Frames available now; with `block`, waits for at least one (or the peer closing)."""
        frames = self._parse()
        while not frames and not self.closed:
            if not self._receive(block=block):
                break
            frames = self._parse()
        if frames and not self.closed:
            while self._receive(block=False):
                frames.extend(self._parse())
        return frames

    def _receive(self, *, block: bool) -> bool:
        try:
            self._sock.settimeout(None if block else 0.0)
            chunk = self._sock.recv(_RECV_SIZE)
        except (BlockingIOError, TimeoutError):
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self._buffer += chunk
        return True

    def _parse(self) -> list[Any]:
        frames = []
        offset = 0
        with memoryview(self._buffer) as view:
            while len(view) - offset >= _HEADER.size:
                (size,) = _HEADER.unpack_from(view, offset)
                end = offset + _HEADER.size + size
                if end > len(view):
                    break
                frames.append(marshal.loads(view[offset + _HEADER.size : end]))
                offset = end
        if offset:
            del self._buffer[:offset]
        return frames
