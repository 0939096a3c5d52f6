"""The single SQLite writer, in a process of its own.

Why a process: decoding OTLP is Python work, and so is driving SQLite; in one process the GIL
serializes both on one core. Here the front decodes on one core while this process commits on the
other (see shared notes: +30 % throughput). It reads batches from a socket, commits every batch
that is waiting in one transaction (group commit), and only then acknowledges their ids: the front
answers 200 after the acknowledgement, so a 200 means the data is on disk.

Started by `WriterClient` as `python -m localobs.store.writer_process --db PATH --fd N`; it exits
when the socket closes, after committing what it received. No write failure ends it: see
`writer_health` for what each failure is answered with.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import select
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localobs.store.database import connect
from localobs.store.framing import FrameReader, send_frame
from localobs.store.idle_jobs import IdleJobs, writer_jobs
from localobs.store.ingest import BatchApplier
from localobs.store.writer_health import PROBE_INTERVAL_S, WriterHealth
from localobs.store.writer_protocol import Ack

CHECKPOINT_INTERVAL_S = 0.1
MAX_FRAMES_PER_COMMIT = 256


def _checkpoint_loop(db_path: str, stop: threading.Event, report: _Reporter) -> None:
    """Passive WAL checkpoints off the commit path, so commits never pay for them.

    A checkpoint that fails (a lock held elsewhere, a full disk) is tried again at the next tick:
    with automatic checkpoints off, this thread stopping would let the WAL grow without limit.
    """
    conn = connect(db_path)
    failing: str | None = None
    try:
        while not stop.wait(CHECKPOINT_INTERVAL_S):
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                if failing != str(exc):  # once per kind of failure, not ten times a second
                    failing = str(exc)
                    report.send({"log": f"WAL checkpoint failed, retrying: {exc}"})
            else:
                failing = None
    finally:
        with contextlib.suppress(sqlite3.Error):  # if not, the next start checkpoints it
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


class _Reporter:
    """Status frames to the front, from the main loop and the checkpoint thread alike."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, message: Any) -> None:
        with self._lock:
            send_frame(self._sock, message)


def _commit_group(
    conn: sqlite3.Connection,
    applier: BatchApplier,
    frames: list[tuple[Any, ...]],
    health: WriterHealth,
) -> list[Ack]:
    """Apply each batch under its own savepoint, so one bad batch fails alone; commit once.

    A failure SQLite answers by rolling back the whole transaction (a full disk, an I/O error),
    or a failed BEGIN or COMMIT, fails the whole group with a retry answer: nothing of it stayed.
    """
    acks: list[Ack] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for frame in frames:
            conn.execute("SAVEPOINT batch")
            try:
                applier.apply(frame)
            except Exception as exc:  # whatever one batch raises, it fails alone
                if not conn.in_transaction:
                    raise
                conn.execute("ROLLBACK TO batch")
                applier.forget()
                acks.append((frame[0], health.batch_failed(exc)))
            else:
                acks.append((frame[0], None))
            conn.execute("RELEASE batch")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        applier.forget()
        return health.group_failed(frames, exc)
    health.committed()
    return acks


class _LogToFront(logging.Handler):
    """Log records of the writer's modules go to the front, which logs them where it logs (the
    writer never prints: a viewer may be drawing on the terminal it shares)."""

    def __init__(self, report: _Reporter) -> None:
        super().__init__(logging.WARNING)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):
            self._report.send({"log": record.getMessage()})


def _maintenance_failed(
    conn: sqlite3.Connection, report: _Reporter
) -> Callable[[str, Exception], None]:
    """Maintenance never ends the writer: a failed step is rolled back and tried again later
    (the job waits its idle timeout first), said once per kind of failure."""
    said: set[str] = set()

    def recover(job: str, exc: Exception) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if (key := f"{job}: {type(exc).__name__}") not in said:
            said.add(key)
            report.send({"log": f"maintenance ({job}) failed, will retry: {exc}"})

    return recover


def serve(db_path: str, sock: socket.socket) -> None:
    conn = connect(db_path)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    report = _Reporter(sock)
    root = logging.getLogger("localobs")
    root.addHandler(_LogToFront(report))
    root.propagate = False
    health = WriterHealth(conn, Path(db_path), report.send)
    applier = BatchApplier(conn)
    stop = threading.Event()
    checkpointer = threading.Thread(
        target=_checkpoint_loop, args=(db_path, stop, report), name="checkpoint", daemon=True
    )
    checkpointer.start()
    reader = FrameReader(sock)
    jobs = IdleJobs(writer_jobs(conn, Path(db_path)), on_error=_maintenance_failed(conn, report))
    try:
        while True:
            frames = reader.read(block=False)
            if not frames and not reader.closed:
                if health.locked:  # no write can work, maintenance included, until it goes
                    if not select.select([sock], [], [], PROBE_INTERVAL_S)[0]:
                        health.probe()
                        continue
                else:
                    # Maintenance goes on while the disk is full: retention is what frees it.
                    timeout = jobs.wait_s()
                    if health.full:
                        timeout = min(timeout or PROBE_INTERVAL_S, PROBE_INTERVAL_S)
                    if timeout is not None and not select.select([sock], [], [], timeout)[0]:
                        jobs.run_idle()  # idle: maintenance (rollups, text index, retention)
                        health.probe()
                        continue
                frames = reader.read(block=True)
            if not frames:
                break
            for start in range(0, len(frames), MAX_FRAMES_PER_COMMIT):
                group = frames[start : start + MAX_FRAMES_PER_COMMIT]
                report.send(_commit_group(conn, applier, group, health))
                if not health.locked:
                    jobs.run_overdue()
            jobs.busy()
    finally:
        stop.set()
        checkpointer.join()
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    try:
        serve(args.db, sock)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the front went away; what was committed stays committed
    finally:
        sock.close()


if __name__ == "__main__":
    main()
