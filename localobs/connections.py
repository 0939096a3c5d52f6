"""Bounds on the receiver's HTTP connections, so that broken or hostile clients cannot hold it.

uvicorn closes a keep-alive connection left idle after a response, but not one that never sends
a request, sends its head a byte a second or stops mid-body; and it accepts connections until the
process runs out of file descriptors, after which every failed accept is logged. Here:

- `GuardedH11Protocol`, uvicorn's h11 protocol with deadlines: a connection without a request in
  progress is closed after `idle_timeout_s`; a request's head must arrive within `read_timeout_s`
  of its first byte; a body may not pause for longer than `read_timeout_s`.
- At most `cap` connections at once, kept below the open-file limit: one more displaces the
  connection idle the longest (or is closed itself when every one is busy with a request), so a
  flood of idle sockets can lock out neither /health nor an exporter.
- `QuietLoopErrors` logs each kind of event-loop error at most once per interval.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# Connections accepted in one go (asyncio's accept loop). Accepting runs up to about four bursts
# ahead of `connection_made`, where the cap is applied; the cap leaves room for those, for the
# gRPC listener's connections (grpc holds no more) and for the rest (SQLite, logs, pipes).
ACCEPT_BURST = 16
GRPC_CONNECTIONS = 128
_RESERVED_FILES = 4 * ACCEPT_BURST + GRPC_CONNECTIONS + 96
_MOST_CONNECTIONS = 4096


@dataclass(frozen=True)
class ConnectionLimits:
    """Timeouts for OTLP/HTTP connections (`localobs up --idle-timeout / --read-timeout`)."""

    idle_timeout_s: float = 15.0
    read_timeout_s: float = 10.0


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard one (desktops often start at 1,024);
    returns the soft limit in force."""
    if sys.platform == "win32":
        return _MOST_CONNECTIONS + _RESERVED_FILES
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # e.g. macOS refuses "unlimited": keep what we have
            pass
    return soft if soft != resource.RLIM_INFINITY else _MOST_CONNECTIONS + _RESERVED_FILES


def connection_cap(open_file_limit: int) -> int:
    """How many HTTP connections to hold at once under `open_file_limit` descriptors."""
    return max(16, min(_MOST_CONNECTIONS, open_file_limit - _RESERVED_FILES))


# What a connection is doing, for its deadline and for choosing one to displace.
_IDLE, _HEAD, _BODY, _BUSY = "idle", "head", "body", "busy"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the deadlines and the cap (subclassed by `guarded_protocol`
    to set them)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    cap: ClassVar[int] = _MOST_CONNECTIONS

    _phase = _BUSY
    _since = 0.0
    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch(data_arrived=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _watch(self, data_arrived: bool = False) -> None:
        """Arm the deadline of the phase the connection is in now."""
        if self.transport.is_closing():
            self._cancel()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            phase = _HEAD if self.conn.trailing_data[0] else _IDLE
        elif state is h11.SEND_BODY:
            phase = _BODY
        else:
            phase = _BUSY  # the request is in: the app's turn, no deadline for the client
        if phase == self._phase and not (phase == _BODY and data_arrived):
            return  # a head's deadline runs from its first byte; a body's from its last
        self._cancel()
        self._phase = phase
        self._since = self.loop.time()
        if phase != _BUSY:
            timeout = self.limits.idle_timeout_s if phase == _IDLE else self.limits.read_timeout_s
            self._timer = self.loop.call_later(timeout, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self._phase == _BODY and self.flow.read_paused:  # the app is behind, not the client
            self._timer = self.loop.call_later(self.limits.read_timeout_s, self._expire)
            return
        self._close()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    @property
    def _displaceable(self) -> bool:
        return self._phase in (_IDLE, _HEAD) and not self.transport.is_closing()

    def _make_room(self) -> None:
        """Beyond the cap, close the connection idle the longest (this one when all are busy)."""
        if len(self.connections) <= self.cap:
            return
        open_now = [each for each in self.connections if not each.transport.is_closing()]
        if len(open_now) <= self.cap:
            return
        idle = [
            each
            for each in open_now
            if isinstance(each, GuardedH11Protocol) and each is not self and each._displaceable
        ]
        oldest = min(idle, key=lambda each: each._since, default=self)
        oldest._close()


def guarded_protocol(limits: ConnectionLimits, cap: int) -> type[GuardedH11Protocol]:
    """The protocol class for one server, with its limits."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits, "cap": cap})


class QuietLoopErrors:
    """An asyncio exception handler logging each kind of error at most once per `interval_s`,
    with the count of those left out (running out of descriptors fails thousands of accepts a
    second; a log of each fills the disk, not the reader's understanding)."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self._interval_s = interval_s
        self._logged_at: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        kind = str(context.get("message", "error in the event loop"))
        now = time.monotonic()
        if now - self._logged_at.get(kind, -self._interval_s) < self._interval_s:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return
        self._logged_at[kind] = now
        if left_out := self._left_out.pop(kind, 0):
            context = {**context, "message": f"{kind} (and {left_out} more since the last one)"}
        loop.default_exception_handler(context)
