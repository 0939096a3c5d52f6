"""Bytes on disk per span against the OTLP bytes that arrived, and search over every message.

    .venv/bin/python bench/storage.py [--spans 51200] [--conversations 20]

Two loads, each sent to a fresh `localobs up --headless` (no size cap, no retention):
(1) bench/ingest.py's load: 512 chat spans of ~1 KB per request, 4 senders. The files
(database + WAL + shm) are sampled every 20 ms: their peak during the load, and their size once
`localobs up` stopped, everything folded into the rollups and the text index and the WAL
checkpointed into the database; per span and as a ratio to the protobuf bytes per span.
(2) 20-turn conversations, one call a request, each call re-sending the history, a 1 KB system
prompt and 5 tool definitions: the same ratio once stopped, and the load's own share (the files
less those of a new empty database, ~170 KiB of tables' first pages that weigh on a small load);
then every user message is searched for (the viewer's search) and must be found. The machine may
be shared: sizes do not depend on it, the peak a little (how far the checkpoints fall behind).
"""

from __future__ import annotations

import argparse
import http.client
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import send_in_parallel, start_localobs
from bench.otlp_load import SPANS_PER_REQUEST, conversation_bodies, trace_body
from localobs.store.call_filter import CallFilter
from localobs.store.calls import list_calls
from localobs.store.database import connect
from localobs.store.rollups import roll_up_all
from localobs.store.store import Store

SENDERS = 4


def _files(db: Path) -> int:
    return sum(
        Path(f"{db}{suffix}").stat().st_size
        for suffix in ("", "-wal", "-shm")
        if Path(f"{db}{suffix}").exists()
    )


def _post_all(url: str, bodies: list[bytes], failures: list[str]) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    for body in bodies:
        conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            failures.append(f"HTTP {response.status}")


def _store(db: Path, bodies: list[bytes], senders: int) -> tuple[int, int]:
    """Send `bodies`; the files' peak size during the load and their size once stopped."""
    process, url = start_localobs(db, "--max-db-size", "0", "--retention", "0")
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _files(db))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        if senders > 1:
            _seconds, failures = send_in_parallel(_post_all, url, bodies, senders)
        else:
            failures = []
            _post_all(url, bodies, failures)
        if failures:
            raise SystemExit(f"{len(failures)} requests failed: {failures[0]}")
    finally:
        done.set()
        sampler.join()
        process.terminate()
        process.wait()
    # As a running instance holds it once idle: rollups and the text index folded, the WAL
    # checkpointed into the database.
    conn = connect(db)
    roll_up_all(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return max(peak, _files(db)), _files(db)


def _empty_database(db: Path) -> int:
    """The files of a database as `localobs up` creates it, before anything arrives."""
    Store(db).close()
    conn = connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return _files(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=51_200)
    parser.add_argument("--conversations", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    bodies = [trace_body(rng) for _ in range(max(1, args.spans // SPANS_PER_REQUEST))]
    spans = len(bodies) * SPANS_PER_REQUEST
    wire = sum(map(len, bodies)) / spans
    with tempfile.TemporaryDirectory() as workdir:
        peak, stopped = _store(Path(workdir) / "ingest.db", bodies, SENDERS)
        print(f"ingest load: {spans} spans, {wire:.0f} protobuf bytes a span")
        for label, size in (("at their peak during the load", peak), ("once stopped", stopped)):
            ratio = size / spans / wire
            print(f"  files {label}: {size / spans:6.0f} B/span = {ratio:.2f}x")

        calls = conversation_bodies(args.conversations)
        chat_wire = sum(len(body) for body, _words in calls)
        db = Path(workdir) / "chats.db"
        _peak, stopped = _store(db, [body for body, _words in calls], 1)
        print(
            f"{args.conversations} conversations of 20 turns: {len(calls)} calls,"
            f" {chat_wire / 2**20:.1f} MiB of protobuf"
        )
        print(f"  files once stopped: {stopped / 2**20:.2f} MiB = {stopped / chat_wire:.2f}x")
        empty = _empty_database(Path(workdir) / "empty.db")
        print(
            f"  of which a new empty database's: {empty / 2**10:.0f} KiB (its tables' first"
            f" pages); the load's own bytes: {(stopped - empty) / chat_wire:.2f}x"
        )
        conn = connect(db, readonly=True)
        begin = time.perf_counter()
        missing = [
            word
            for _body, words in calls
            for word in words
            if not list_calls(conn, CallFilter(text=word), limit=1)
        ]
        conn.close()
        print(
            f"  search: {len(calls) - len(missing)} of {len(calls)} user messages found"
            f" ({time.perf_counter() - begin:.1f} s)"
        )


if __name__ == "__main__":
    main()
