"""The single SQLite writer, in a process of its own.

Why a process: decoding OTLP is Python work, and so is driving SQLite; in one process the GIL
serializes both on one core. Here the front decodes on one core while this process commits on the
other (see shared notes: +30 % throughput). It reads batches from a socket, commits every batch
that is waiting in one transaction (group commit), and only then acknowledges their ids: the front
answers 200 after the acknowledgement, so a 200 means the data is on disk.

Started by `WriterClient` as `python -m localobs.store.writer_process --db PATH --fd N`; it exits
when the socket closes, after committing what it received.
"""

from __future__ import annotations

import argparse
import select
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

from localobs.store.database import connect
from localobs.store.framing import FrameReader, send_frame
from localobs.store.idle_jobs import IdleJobs, writer_jobs
from localobs.store.ingest import BatchApplier

CHECKPOINT_INTERVAL_S = 0.1
MAX_FRAMES_PER_COMMIT = 256


def _checkpoint_loop(db_path: str, stop: threading.Event) -> None:
    """Passive WAL checkpoints off the commit path, so commits never pay for them."""
    conn = connect(db_path)
    try:
        while not stop.wait(CHECKPOINT_INTERVAL_S):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


def _commit_group(
    conn: sqlite3.Connection, applier: BatchApplier, frames: list[tuple[Any, ...]]
) -> list[tuple[int, str | None]]:
    """Apply each batch under its own savepoint, so one bad batch fails alone; commit once."""
    acks: list[tuple[int, str | None]] = []
    conn.execute("BEGIN IMMEDIATE")
    for frame in frames:
        conn.execute("SAVEPOINT batch")
        try:
            applier.apply(frame)
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK TO batch")
            applier.forget()
            acks.append((frame[0], f"storage error: {exc}"))
        else:
            acks.append((frame[0], None))
        conn.execute("RELEASE batch")
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        applier.forget()
        return [(batch_id, f"commit failed: {exc}") for batch_id, _ in acks]
    return acks


def serve(db_path: str, sock: socket.socket) -> None:
    conn = connect(db_path)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    applier = BatchApplier(conn)
    stop = threading.Event()
    checkpointer = threading.Thread(
        target=_checkpoint_loop, args=(db_path, stop), name="checkpoint", daemon=True
    )
    checkpointer.start()
    reader = FrameReader(sock)
    jobs = IdleJobs(writer_jobs(conn, Path(db_path)))
    try:
        while True:
            frames = reader.read(block=False)
            if not frames and not reader.closed:
                timeout = jobs.wait_s()
                if timeout is not None and not select.select([sock], [], [], timeout)[0]:
                    jobs.run_idle()  # idle: maintenance (rollups, text index, retention)
                    continue
                frames = reader.read(block=True)
            if not frames:
                break
            for start in range(0, len(frames), MAX_FRAMES_PER_COMMIT):
                acks = _commit_group(conn, applier, frames[start : start + MAX_FRAMES_PER_COMMIT])
                send_frame(sock, acks)
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
