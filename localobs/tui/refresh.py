"""How the viewer notices new data without reloading it: a cheap change check, then small queries.

The app polls `data_version` on a connection of its own every ~100 ms (microseconds of work); when
it moves, the visible screen gets a `StoreChanged` message and runs its incremental query on a
worker thread with a pooled reader connection. A `RefreshGate` keeps one query per purpose in
flight, so a burst of commits costs one more query, not one per commit.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from textual.message import Message

from localobs.store.changes import data_version

ConnectionFactory = Callable[[], sqlite3.Connection]


class StoreChanged(Message):
    """Something was committed since the last check; screens fetch what concerns them."""


class ReaderPool:
    """Reader connections lent to worker threads, one borrower at a time each, reused.

    At most `size` exist: a worker beyond that waits for one, so queries left running by screens
    the user already closed cannot pile up connections (each with its own page cache).
    """

    def __init__(self, factory: ConnectionFactory, size: int = 4) -> None:
        self._factory = factory
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._factory()
            try:
                yield conn
            finally:
                with self._lock:
                    if self._closed:
                        conn.close()
                    else:
                        self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class StoreWatcher:
    """Answers "was anything committed since I last asked?" from SQLite's data_version."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._version = data_version(conn)

    def changed(self) -> bool:
        version = data_version(self._conn)
        if version == self._version:
            return False
        self._version = version
        return True

    def close(self) -> None:
        self._conn.close()


class RefreshGate:
    """At most one query of a kind in flight; changes seen meanwhile cause exactly one more.

    `request()` and `finished()` return True when the caller should start the query now;
    `min_interval_s` (which the owner may change) spaces out queries, and a query that took
    `took_s` is not started again for `took_s / max_share` seconds, so one that grows slow (a
    long unfolded tail under heavy ingest) takes at most that share of a core away from ingest.
    `pump()` (called from a timer) starts the one that was held back.
    """

    def __init__(
        self,
        min_interval_s: float = 0.0,
        *,
        max_share: float = 0.25,
        last_start: float = float("-inf"),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval_s = min_interval_s
        self._max_share = max_share
        self._monotonic = monotonic
        self._running = False
        self._dirty = False
        self._last_start = last_start
        self._work_spacing = 0.0

    @property
    def running(self) -> bool:
        return self._running

    def request(self, *, skip_interval: bool = False) -> bool:
        """Something changed; `skip_interval` for the user's own actions, which must not wait."""
        self._dirty = True
        if skip_interval:
            self._last_start = float("-inf")
        return self.pump()

    def finished(self, took_s: float = 0.0) -> bool:
        self._running = False
        self._work_spacing = took_s / self._max_share
        return self.pump()

    def pump(self) -> bool:
        now = self._monotonic()
        spacing = max(self.min_interval_s, self._work_spacing)
        if self._running or not self._dirty or now - self._last_start < spacing:
            return False
        self._running = True
        self._dirty = False
        self._last_start = now
        return True
