"""What the writer process makes of a failed write: retry later, or refuse the batch for good.

The writer never dies of a write. A lock held by another program or a full disk fails the whole
group with a *retry* answer (HTTP 503 with Retry-After, gRPC UNAVAILABLE) and raises a condition
that the front shows in `/health`, `localobs info` and the viewer; the first commit that works
again clears it. Anything else a single batch raises refuses that batch alone (HTTP 400).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from localobs.store.writer_protocol import Ack, Failure, StatusReport

BUSY_TIMEOUT_MS = 5000
# While another program holds the lock, each group gives up fast: clients get their 503 at once.
LOCKED_BUSY_TIMEOUT_MS = 100
PROBE_INTERVAL_S = 0.25

# Primary SQLite result codes of conditions that pass: retry, and report what they are.
_BUSY, _LOCKED, _NOMEM, _READONLY, _IOERR, _FULL, _CANTOPEN, _PROTOCOL = 5, 6, 7, 8, 10, 13, 14, 15
_TRANSIENT = {_BUSY, _LOCKED, _NOMEM, _READONLY, _IOERR, _FULL, _CANTOPEN, _PROTOCOL}


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_transient(exc: BaseException) -> bool:
    """A failure that says nothing about the data: the same batch may well be stored later."""
    return _primary_code(exc) in _TRANSIENT


def lock_holders(db_path: Path) -> list[str]:
    """Other processes that have the database open: the likely holders of a lock (Linux only).

    SQLite cannot say who holds a lock; the processes with one of its files open are the best
    guess there is. This process and the front (its parent) are left out.
    """
    names = {str(db_path.resolve()) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    skip = {os.getpid(), os.getppid()}
    found: list[str] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                command = (entry / "comm").read_text().strip()
                found.append(f"{command} (pid {entry.name})")
        except OSError:
            continue  # gone, or not ours to look at
    return sorted(found)


class WriterHealth:
    """Turns write failures into answers and conditions, and notices when they pass."""

    def __init__(
        self, conn: sqlite3.Connection, db_path: Path, report: Callable[[StatusReport], None]
    ) -> None:
        self._conn = conn
        self._db_path = db_path
        self._report = report
        self._locked = False
        self._full = False
        self._last_probe = 0.0

    @property
    def full(self) -> bool:
        """The disk was full at the last write: maintenance runs often (retention frees it)."""
        return self._full

    @property
    def locked(self) -> bool:
        """Another program holds the lock: no write can work, maintenance included."""
        return self._locked

    def group_failed(self, frames: Sequence[tuple[Any, ...]], exc: BaseException) -> list[Ack]:
        """The whole group was rolled back: every batch in it gets the same retry answer."""
        failure = self._classify(exc)
        return [(frame[0], failure) for frame in frames]

    def batch_failed(self, exc: BaseException) -> Failure:
        """One batch failed under its savepoint; the rest of the group goes on."""
        if is_transient(exc):
            return self._classify(exc)
        return ("reject", f"this batch cannot be stored ({type(exc).__name__}: {exc})")

    def committed(self) -> None:
        """A commit worked: whatever stood in the way has gone."""
        if self._locked:
            self._locked = False
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._report({"clear": "lock"})
            self._report({"log": "the database lock was released; writing again"})
        if self._full:
            self._full = False
            self._report({"clear": "disk"})
            self._report({"log": "there is space on the disk again; writing again"})

    def probe(self) -> None:
        """While idle: has the lock gone? (A full disk shows at the next commit.)"""
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL_S:
            return
        self._last_probe = now
        if self._locked:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error:
                self._report_lock()
                return
            self._conn.execute("ROLLBACK")
            self.committed()
        elif self._full:
            self._report_full()  # keeps the free space shown up to date

    def _classify(self, exc: BaseException) -> Failure:
        code = _primary_code(exc)
        if code in (_BUSY, _LOCKED):
            if not self._locked:
                self._locked = True
                self._conn.execute(f"PRAGMA busy_timeout = {LOCKED_BUSY_TIMEOUT_MS}")
                self._report({"log": "another program holds the database's write lock"})
            return ("retry", self._report_lock())
        if code == _FULL:
            if not self._full:
                self._full = True
                self._report({"log": f"the disk is full: {exc}"})
            return ("retry", self._report_full())
        return ("retry", f"storage error, nothing of this batch was stored: {exc}")

    def _report_lock(self) -> str:
        holders = lock_holders(self._db_path)
        who = ", ".join(holders) if holders else "another program"
        message = f"the database is locked by {who}; retry later"
        self._report(
            {
                "set": "lock",
                "level": "error",
                "message": "another program holds the database's write lock: not storing",
                "details": {"holders": holders, "database": str(self._db_path)},
            }
        )
        return message

    def _report_full(self) -> str:
        directory = self._db_path.parent
        free = shutil.disk_usage(directory).free
        message = (
            f"the disk is full ({free / 2**20:.1f} MiB free in {directory}): "
            "free some space; retry later"
        )
        self._report(
            {
                "set": "disk",
                "level": "error",
                "message": "the disk is full: not storing until space is freed",
                "details": {"free_bytes": free, "directory": str(directory)},
            }
        )
        return message
