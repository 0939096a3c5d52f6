"""Retention: whole traces go oldest first with logs and points of the same age, kept traces
never go, rollups, text index and outbox stay consistent, and the files shrink on disk; by hand
(`localobs prune`) on a stopped or a live database, and by the writer under a size cap."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localobs.store import Batch, Store
from localobs.store.database import connect
from localobs.store.outbox import register_upstreams
from localobs.store.retention import (
    PruneGoal,
    RetentionJob,
    RetentionPolicy,
    files_size,
    keep_trace,
    prune,
    retention_status,
    set_policy,
    wal_limit,
)
from localobs.store.rollups import roll_up_all
from localobs.store.schema import LOG_COLUMNS, METRIC_POINT_COLUMNS
from localobs.store.wal_size import WalTruncation
from tests.conftest import start_localobs
from tests.otlp_samples import trace_request
from tests.query_rows import MS, T0, call, span, submit, trace_id

DAY_MS = 86_400_000


def localobs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localobs", *args], capture_output=True, text=True, timeout=120
    )


def log_row(at_ms: float, trace: int | None, body: str) -> tuple[Any, ...]:
    values = {
        "time_unix_nano": T0 + round(at_ms * MS),
        "observed_time_unix_nano": 0,
        "severity_number": 9,
        "body": f'"{body}"',
        "trace_id": trace_id(trace) if trace is not None else None,
        "attributes": "{}",
    }
    return tuple(values.get(column) for column in LOG_COLUMNS)


def point_row(at_ms: float, value: float) -> tuple[Any, ...]:
    values = {
        "name": "queue.depth",
        "type": "gauge",
        "time_unix_nano": T0 + round(at_ms * MS),
        "attributes": "{}",
        "value": value,
    }
    return tuple(values.get(column) for column in METRIC_POINT_COLUMNS)


def submit_rows(store: Store, signal: str, rows: list[tuple[Any, ...]], digest: str) -> None:
    batch = Batch(signal, digest)  # type: ignore[arg-type]
    batch.rows = rows
    store.submit(batch).result(timeout=30)


def old_traces() -> list[tuple[Any, ...]]:
    """Traces 1 and 2 (2 will be kept), and the root of trace 3."""
    rows = []
    for trace in (1, 2):
        rows += [
            span(trace, trace * 10, "agent", 0, 50),
            call(trace, trace * 10 + 1, 10, 30, parent=trace * 10, prompt=f"ancient{trace} words"),
        ]
    return [*rows, span(3, 30, "agent", 0, 50)]


def new_traces() -> list[tuple[Any, ...]]:
    """Trace 3's child (so trace 3 is not all old), and trace 4."""
    return [
        call(3, 31, 10, 30, parent=30, prompt="straddling words"),
        span(4, 40, "agent", DAY_MS, 50),
        call(4, 41, DAY_MS + 10, 30, parent=40, prompt="recent words"),
    ]


@pytest.fixture
def forwarding_store(tmp_path: Path) -> Iterator[Store]:
    """A store that records every batch in the outbox, as `localobs up --forward-to` does."""
    store = Store(tmp_path / "r.db")
    conn = connect(store.path)
    register_upstreams(conn, ["http://127.0.0.1:9/"])
    conn.close()
    store.start_writer(forwarding=True)
    yield store
    store.close()


def rollups(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: [
                tuple(round(v, 6) if isinstance(v, float) else v for v in row)
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6, 7")
            ]
            for table in ("span_rollup", "call_rollup")
        }
    finally:
        conn.close()


def fts_rowids(conn: sqlite3.Connection, word: str) -> list[int]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT rowid FROM llm_call_text WHERE llm_call_text MATCH ?", (f'"{word}"',)
        )
    ]


def test_old_whole_traces_go_kept_ones_stay_and_derived_data_follows(
    forwarding_store: Store, tmp_path: Path
) -> None:
    store = forwarding_store
    submit(store, old_traces())
    submit_rows(store, "logs", [log_row(5, 1, "old"), log_row(5, 2, "old kept")], "l1")
    submit_rows(store, "metrics", [point_row(5, 1.0)], "m1")
    cutoff = time.time_ns()  # age is arrival: what came before this is old
    time.sleep(0.01)
    submit(store, new_traces())
    submit_rows(store, "logs", [log_row(0, None, "new")], "l2")
    submit_rows(store, "metrics", [point_row(0, 2.0)], "m2")
    conn = connect(store.path)
    roll_up_all(conn)
    keep_trace(conn, trace_id(2), T0)
    assert fts_rowids(conn, "ancient1")

    pruned = prune(conn, store.path, PruneGoal(older_than_unix_nano=cutoff))

    assert (pruned.traces, pruned.spans, pruned.logs, pruned.metric_points) == (1, 2, 1, 1)
    traces = {row[0] for row in conn.execute("SELECT trace_id FROM spans")}
    assert traces == {trace_id(2), trace_id(3), trace_id(4)}
    assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == 6  # whole traces
    assert [row[0] for row in conn.execute("SELECT body FROM logs ORDER BY rowid")] == [
        '"old kept"',
        '"new"',
    ]
    assert [row[0] for row in conn.execute("SELECT value FROM metric_points")] == [2.0]
    # The text index forgot the deleted call (and is intact); the others are still found.
    assert fts_rowids(conn, "ancient1") == []
    assert fts_rowids(conn, "ancient2") and fts_rowids(conn, "recent")
    conn.execute("INSERT INTO llm_call_text (llm_call_text, rank) VALUES ('integrity-check', 0)")
    # The outbox names only rows that still exist: the first logs batch lost one of two rows,
    # the spans batch kept most; nothing references nothing.
    for signal, table in (("traces", "spans"), ("logs", "logs"), ("metrics", "metric_points")):
        for first, last in conn.execute(
            "SELECT first_rowid, last_rowid FROM outbox WHERE signal = ?", (signal,)
        ):
            assert conn.execute(
                f"SELECT count(*) FROM {table} WHERE rowid BETWEEN ? AND ?", (first, last)
            ).fetchone()[0]
    status = retention_status(conn, store.path)
    assert (status.pruned.traces, status.pruned.spans, status.kept_traces) == (1, 2, 1)
    conn.close()

    # The rollups are those of a store that only ever held the rows left.
    survivors = Store(tmp_path / "survivors.db")
    survivors.start_writer()
    submit(survivors, [row for row in old_traces() + new_traces() if row[0] != trace_id(1)])
    survivors.close()
    other = connect(survivors.path)
    roll_up_all(other)
    other.close()
    assert rollups(store.path) == rollups(survivors.path)


def fill(store: Store, traces: int, spans_per_trace: int = 20) -> None:
    """About 1 KB a span, in traces of `spans_per_trace` spans, one trace a millisecond apart."""
    for trace in range(1, traces + 1):
        rows = [
            span(
                trace,
                trace * 1000 + index,
                f"step-{index}",
                trace,
                1,
                attributes={"blob": f"{trace}-{index}-" + "x" * 1000},
            )
            for index in range(spans_per_trace)
        ]
        submit(store, rows)


def test_prune_to_size_on_a_stopped_database_shrinks_the_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "big.db")
    store.start_writer()
    fill(store, 300)  # ~6 MB
    store.close()
    conn = connect(store.path)
    keep_trace(conn, trace_id(1), T0)
    conn.close()
    before = files_size(store.path)
    assert before > 5 << 20

    result = localobs("prune", "--db", str(store.path), "--to-size", "2MiB")

    assert result.returncode == 0, result.stderr
    assert "pruned" in result.stdout and "traces" in result.stdout
    assert files_size(store.path) <= 2 << 20
    conn = connect(store.path, readonly=True)
    counts = dict(conn.execute("SELECT trace_id, count(*) FROM spans GROUP BY trace_id"))
    conn.close()
    assert trace_id(1) in counts  # kept, though the oldest
    assert set(counts.values()) == {20}  # no trace half deleted
    assert trace_id(300) in counts and trace_id(2) not in counts  # the oldest went first


def test_the_files_stay_under_the_cap_while_a_steady_load_arrives(tmp_path: Path) -> None:
    """Sampled during the load, not only once idle. Before pruning left freed pages for new rows
    and checkpointed its own steps, the files went to twice the cap here: each step moved the
    file's last pages into the freed ones and wrote MiBs of WAL at once."""
    db = tmp_path / "steady.db"
    cap = 4 << 20
    running = start_localobs(db, "--max-db-size", "4MiB", "--retention", "0")
    sizes: list[int] = []
    try:
        now = time.time_ns()
        began = time.monotonic()
        with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
            for index in range(500):  # ~10 MB of spans at ~2 MB/s: the cap is reached at once
                time.sleep(max(0.0, began + index * 0.01 - time.monotonic()))
                request = trace_request(20, start_ns=now + index * MS)
                for each in request.resource_spans[0].scope_spans[0].spans:
                    each.attributes.add(key="blob").value.string_value = "z" * 1000
                response = client.post(
                    f"{running.url}/v1/traces", content=request.SerializeToString()
                )
                assert response.status_code == 200
                sizes.append(files_size(db))
    finally:
        assert running.stop() in (0, 143)
    pruned = sizes[len(sizes) // 2 :]  # pruning is under way by then
    # Measured here: 1.00-1.08x the cap (what ingest writes to the WAL between two checkpoints
    # weighs on a cap this small); 1.47x before.
    assert max(pruned) <= cap * 1.15, f"files peaked at {max(pruned) / 2**20:.1f} MiB"


def test_the_writer_holds_the_files_under_the_cap(tmp_path: Path) -> None:
    db = tmp_path / "capped.db"
    cap = 3 << 20
    running = start_localobs(db, "--max-db-size", "3MiB", "--retention", "0")
    try:
        kept = os.urandom(16)
        assert localobs("keep", kept.hex(), "--db", str(db)).returncode == 0
        now = time.time_ns()
        with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
            for index in range(400):  # ~8 MB of spans, 20 a trace
                request = trace_request(
                    20, trace_id=kept if index == 0 else None, start_ns=now + index * MS
                )
                for each in request.resource_spans[0].scope_spans[0].spans:
                    each.attributes.add(key="blob").value.string_value = "y" * 1000
                response = client.post(
                    f"{running.url}/v1/traces", content=request.SerializeToString()
                )
                assert response.status_code == 200
        deadline = time.monotonic() + 30
        while files_size(db) > cap and time.monotonic() < deadline:
            time.sleep(0.2)
        assert files_size(db) <= cap
        health = httpx.get(f"{running.url}/health").json()["retention"]
        assert health["max_db_bytes"] == cap and health["retention_s"] == 0
        assert health["pruned"]["traces"] > 100 and health["size_bytes"] <= cap
    finally:
        assert running.stop() in (0, 143)
    conn = connect(db, readonly=True)
    counts = dict(conn.execute("SELECT trace_id, count(*) FROM spans GROUP BY trace_id"))
    conn.close()
    assert counts[kept.hex()] == 20 and set(counts.values()) == {20}
    info = localobs("info", "--db", str(db))
    assert "3.0 MiB" in info.stdout and "pruned" in info.stdout


def test_prune_older_than_on_a_live_database(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    running = start_localobs(db)
    try:
        with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
            old = trace_request(5, start_ns=time.time_ns()).SerializeToString()
            assert client.post(f"{running.url}/v1/traces", content=old).status_code == 200
            time.sleep(2.5)
            # Sent as if ten days ago: age is arrival, not what the sender says.
            young = trace_request(5, start_ns=time.time_ns() - 10 * DAY_MS * MS)
            body = young.SerializeToString()
            assert client.post(f"{running.url}/v1/traces", content=body).status_code == 200
        result = localobs("prune", "--db", str(db), "--older-than", "2s")
        assert result.returncode == 0, result.stderr
        assert "pruned 1 traces (5 spans)" in result.stdout
        health = httpx.get(f"{running.url}/health").json()
        assert health["retention"]["pruned"]["spans"] == 5
        assert health["retention"]["retention_s"] == 30 * 86400
    finally:
        running.stop()
    conn = connect(db, readonly=True)
    remaining = {row[0] for row in conn.execute("SELECT trace_id FROM spans")}
    conn.close()
    assert remaining == {young.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()}


def test_keep_lists_and_removes(tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    first, second = "ab" * 16, "CD" * 16
    assert "kept" in localobs("keep", first, "--db", db).stdout
    assert "already kept" in localobs("keep", first, "--db", db).stdout
    assert localobs("keep", second, "--db", db).returncode == 0
    listed = localobs("keep", "--list", "--db", db).stdout
    assert first in listed and second.lower() in listed
    assert "no longer kept" in localobs("keep", first, "--remove", "--db", db).stdout
    assert first not in localobs("keep", "--list", "--db", db).stdout
    bad = localobs("keep", "not-a-trace", "--db", db)
    assert bad.returncode == 2 and "32 hex digits" in bad.stderr


def test_the_job_marks_pruning_while_over_the_cap_and_stops_below_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "job.db")
    store.start_writer()
    fill(store, 150)  # ~3 MB
    store.close()
    conn = connect(store.path)
    set_policy(conn, RetentionPolicy(max_db_bytes=1 << 20, retention_s=0))
    job = RetentionJob(conn, store.path)
    assert job.overdue()  # over the cap: one step after each commit group
    assert retention_status(conn, store.path).pruning
    steps = 0
    while job.step():
        steps += 1
        assert steps < 1000
    status = retention_status(conn, store.path)
    assert not status.pruning and status.pruned.traces > 0
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the writer's checkpoints do this
    assert files_size(store.path) <= 1 << 20
    assert job.idle_timeout() == RetentionJob.CHECK_S
    conn.close()


def test_a_wal_grown_past_its_share_of_the_cap_is_truncated(tmp_path: Path) -> None:
    store = Store(tmp_path / "wal.db")
    conn = connect(store.path)
    set_policy(conn, RetentionPolicy(max_db_bytes=1 << 20, retention_s=0))
    reader = connect(store.path, readonly=True)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM spans").fetchone()  # holds the WAL: it only grows
    for number in range(50):  # 50 commits, a WAL frame or more each
        keep_trace(conn, trace_id(number), 0)
    job = WalTruncation(conn, store.path)
    wal = Path(f"{store.path}-wal")
    assert wal.stat().st_size > wal_limit(1 << 20)
    job.step()  # a reader still uses the WAL: gives up within BUSY_MS, nothing lost
    reader.execute("COMMIT")
    reader.close()
    job.step()
    assert wal.stat().st_size == 0
    conn.close()


def test_the_window_counts_from_arrival_not_from_the_senders_clock(tmp_path: Path) -> None:
    """Spans stamped years ago (an imported file, a wrong clock) that arrive now are not older
    than the window: the default 30 days keep them, under a cap they fit in, after the load."""
    db = tmp_path / "stamped-old.db"
    running = start_localobs(db, "--max-db-size", "64MiB")
    try:
        long_ago = 1_672_531_200 * 10**9  # 2023-01-01
        with httpx.Client(headers={"Content-Type": "application/x-protobuf"}) as client:
            for index in range(60):
                request = trace_request(5, start_ns=long_ago + index * MS)
                response = client.post(
                    f"{running.url}/v1/traces", content=request.SerializeToString()
                )
                assert response.status_code == 200
        time.sleep(3)  # a few of the retention job's checks (every second of idle time)
        health = httpx.get(f"{running.url}/health").json()["retention"]
        assert health["retention_s"] == 30 * 86_400
    finally:
        assert running.stop() in (0, 143)
    conn = connect(db, readonly=True)
    traces = conn.execute("SELECT count(DISTINCT trace_id) FROM spans").fetchone()[0]
    conn.close()
    assert traces == 60 and health["pruned"]["traces"] == 0
