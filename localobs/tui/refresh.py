"""How the viewer notices new data without reloading it: a cheap change check, then small queries.

A `CommitPoller` thread reads `data_version` on a connection of its own every ~100 ms
(microseconds of work); when it moves, the visible screen gets a `StoreChanged` message and runs
its incremental query on a worker thread with a pooled reader connection. A `RefreshGate` keeps
one query per purpose in flight, so a burst of commits costs one more query, not one per commit.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from textual.message import Message
from textual.worker import NoActiveWorker, Worker, get_current_worker

from localobs.store.changes import data_version

ConnectionFactory = Callable[[], sqlite3.Connection]


class StoreChanged(Message, bubble=False):
    """Something was committed since the last check; screens fetch what concerns them. The
    poller posts it to the app, which hands it to the screen in front only."""


class QueryCancelled(Exception):
    """The worker that ran the query was cancelled (its screen closed, or a newer query of the
    same kind replaced it): nobody wants the result. Not an `sqlite3.Error`, so workers do not
    report it as a failure; Textual ignores what a cancelled worker raises."""


class ReaderPool:
    """Reader connections lent to worker threads, one borrower at a time each, reused.

    At most `size` exist: a worker beyond that waits for one, so queries left running by screens
    the user already closed cannot pile up connections (each with its own page cache).
    `interrupt_cancelled()` (the app calls it on a timer) stops the queries of cancelled workers:
    Textual cannot stop a thread, and a closed screen's long query (the components' tail under an
    ingest flood: most of a second, tens of thousands of rows) kept competing with the screen the
    user moved on to, for the GIL and for the garbage collector.
    """

    def __init__(self, factory: ConnectionFactory, size: int = 4) -> None:
        self._factory = factory
        self._idle: list[sqlite3.Connection] = []
        self._lent: dict[sqlite3.Connection, Worker[object]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            worker: Worker[object] | None = get_current_worker()
        except NoActiveWorker:
            worker = None  # a caller outside Textual's workers (tests, CLI): never interrupted
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._factory()
            if worker is not None:
                with self._lock:
                    self._lent[conn] = worker
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                if worker is not None and worker.is_cancelled:
                    raise QueryCancelled from exc
                raise
            finally:
                with self._lock:
                    self._lent.pop(conn, None)
                    # A cancelled worker's connection may hold an interrupt or an unfinished
                    # statement: a fresh one, not that, for the next borrower.
                    if self._closed or (worker is not None and worker.is_cancelled):
                        conn.close()
                    else:
                        self._idle.append(conn)

    def interrupt_cancelled(self) -> None:
        """Interrupt the statement each cancelled worker is running (SQLite allows this from
        another thread); one between statements is interrupted at a later call. Under the lock,
        so that a connection cannot be lent to another worker meanwhile."""
        with self._lock:
            for conn, worker in self._lent.items():
                if worker.is_cancelled:
                    conn.interrupt()

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


class CommitPoller:
    """Runs a `StoreWatcher` every `interval_s` on a thread of its own; `on_commit()` (which must
    be thread-safe, e.g. Textual's `post_message`) is called when something was committed.

    Not on the event loop: every SQLite call releases the GIL, and under an ingest flood taking it
    back behind the receiver's threads kept the viewer's loop waiting up to 50 ms per check.
    """

    def __init__(
        self, factory: ConnectionFactory, interval_s: float, on_commit: Callable[[], object]
    ) -> None:
        self._factory = factory
        self._interval_s = interval_s
        self._on_commit = on_commit
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="localobs-commit-poller", daemon=True
        )
        self._watcher: StoreWatcher | None = None

    def start(self) -> None:
        """Commits from now on are reported (the version is read here, not on the thread)."""
        self._watcher = StoreWatcher(self._factory())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._watcher is not None:
            self._watcher.close()

    def _run(self) -> None:
        assert self._watcher is not None
        while not self._stop.wait(self._interval_s):
            try:
                changed = self._watcher.changed()
            except sqlite3.Error:
                continue  # e.g. locked or briefly unreadable: the next check tries again
            if changed:
                self._on_commit()


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

    def abandon(self) -> None:
        """The query in flight will not report (its worker was cancelled): whatever asks next
        starts one, as if something had changed."""
        self._running = False
        self._dirty = True

    def pump(self) -> bool:
        now = self._monotonic()
        spacing = max(self.min_interval_s, self._work_spacing)
        if self._running or not self._dirty or now - self._last_start < spacing:
            return False
        self._running = True
        self._dirty = False
        self._last_start = now
        return True
