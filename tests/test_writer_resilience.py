"""The writer never dies of a write, and comes back if it dies anyway; lock and disk trouble are
answered with 503 + Retry-After, shown in /health and `localobs info`, and pass by themselves."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from localobs.store import Batch, BatchRejected, Store
from localobs.store.queries import list_spans, row_counts
from tests.conftest import LocalobsProcess, RunningReceiver, start_localobs
from tests.otlp_samples import kv, trace_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def post_spans(url: str, count: int, prefix: str, timeout: float = 30) -> httpx.Response:
    body = trace_request(count, name_prefix=prefix).SerializeToString()
    return httpx.post(f"{url}/v1/traces", content=body, headers=PROTOBUF, timeout=timeout)


def wait_for(check: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def health(url: str) -> dict[str, object]:
    data: dict[str, object] = httpx.get(f"{url}/health", timeout=10).json()
    return data


def condition_sources(url: str) -> set[str]:
    conditions = health(url)["conditions"]
    assert isinstance(conditions, list)
    return {each["source"] for each in conditions}


def info_json(db: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "localobs", "info", "--json", "--db", str(db)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    data: dict[str, object] = orjson.loads(done.stdout)
    return data


def test_a_batch_the_writer_cannot_store_fails_alone(store: Store) -> None:
    """Handed straight to the store: the receiver validates values, but the writer must not
    depend on that. An int beyond SQLite's range made the writer process die before."""
    good = store.submit(_span_batch("good", 1))
    bad = store.submit(_span_batch("bad", 2**70))
    good.result(30)
    with pytest.raises(BatchRejected, match="cannot be stored"):
        bad.result(30)
    store.submit(_span_batch("after", 3)).result(30)
    names = sorted(span.name for span in list_spans(store.reader()))
    assert names == ["after", "good"]


def _span_batch(name: str, start: int) -> Batch:
    """One span row in the column order of the spans table, as the receiver builds them."""
    from localobs.store.schema import SPAN_COLUMNS

    values = {
        "trace_id": os.urandom(16).hex(),
        "span_id": os.urandom(8).hex(),
        "name": name,
        "kind": 1,
        "start_time_unix_nano": start,
        "end_time_unix_nano": 10,
        "status_code": 0,
        "resource_id": None,
        "scope_id": None,
    }
    row = tuple(values.get(column) for column in SPAN_COLUMNS)
    return Batch("traces", digest=os.urandom(8).hex(), rows=[row], weight=100)


def test_a_killed_writer_is_restarted_and_keeps_every_committed_row(
    receiver: RunningReceiver,
) -> None:
    assert post_spans(receiver.url, 3, "before").status_code == 200
    first_pid = receiver.store.writer_pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: "writer" in condition_sources(receiver.url), what="the restart condition")
    wait_for(lambda: receiver.store.writer_pid not in (None, first_pid), what="a new writer")
    # Answers during the restart are 503 with Retry-After, never a lost 200.
    response = post_spans(receiver.url, 2, "after")
    while response.status_code == 503:
        assert response.headers["Retry-After"]
        time.sleep(0.1)
        response = post_spans(receiver.url, 2, "after")
    assert response.status_code == 200
    names = sorted(span.name for span in list_spans(receiver.store.reader()))
    assert names == ["after-0", "after-1", "before-0", "before-1", "before-2"]
    condition = receiver.store.conditions.get("writer")
    assert condition is not None and condition.details["restarts"] == 1
    assert "restarted" in condition.message


@pytest.fixture
def running(tmp_path: Path) -> Iterator[LocalobsProcess]:
    process = start_localobs(tmp_path / "live.db")
    yield process
    process.stop()


def test_an_outside_lock_gets_503_is_shown_and_passes_by_itself(running: LocalobsProcess) -> None:
    """The real sqlite3 shell holds the write lock for longer than the writer's busy timeout."""
    assert post_spans(running.url, 2, "before").status_code == 200
    holder = subprocess.Popen(
        ["sqlite3", str(running.db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert holder.stdin is not None
    holder.stdin.write("BEGIN EXCLUSIVE;\n")
    holder.stdin.flush()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        response = post_spans(running.url, 2, "locked")
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert "locked" in response.text
        assert time.monotonic() - started < 8  # the busy timeout (5 s), not a hang
        # The next answers come at once while the lock stays.
        started = time.monotonic()
        assert post_spans(running.url, 1, "still-locked").status_code == 503
        assert time.monotonic() - started < 2
        state = health(running.url)
        assert state["status"] == "degraded"
        [lock] = [c for c in state["conditions"] if c["source"] == "lock"]  # type: ignore[union-attr]
        assert any("sqlite3" in holder for holder in lock["details"]["holders"])
        live = info_json(running.db)
        assert "lock" in {each["source"] for each in live["conditions"]}  # type: ignore[union-attr]
    finally:
        holder.stdin.write("ROLLBACK;\n.quit\n")
        holder.stdin.flush()
        holder.wait(10)
    wait_for(lambda: "lock" not in condition_sources(running.url), 5, "the lock to clear")
    assert post_spans(running.url, 2, "after").status_code == 200
    names = {span.name for span in list_spans(Store(running.db).reader(), limit=100)}
    assert names == {"before-0", "before-1", "after-0", "after-1"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB filesystem of the test's own (tmpfs), so the disk really fills up."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr!r}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    """Leave almost no space in `directory`'s filesystem; the ballast file is returned."""
    ballast = directory / "ballast"
    with ballast.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return ballast


def test_a_full_disk_gets_503_is_shown_and_recovers_once_space_is_freed(
    small_disk: Path,
) -> None:
    db = small_disk / "full.db"
    running = start_localobs(db)
    try:
        assert post_spans(running.url, 5, "before").status_code == 200
        ballast = _fill(small_disk)
        refused, refused_prefix = None, ""
        for attempt in range(50):  # the WAL may still hold a little room: fill it
            response = post_spans(running.url, 200, f"fill{attempt}")
            if response.status_code != 200:
                refused, refused_prefix = response, f"fill{attempt}"
                break
        assert refused is not None and refused.status_code == 503, "the disk never filled"
        assert refused.headers["Retry-After"]
        assert "disk is full" in refused.text and "MiB free" in refused.text
        assert "disk" in condition_sources(running.url)
        assert "disk" in {c["source"] for c in info_json(db)["conditions"]}  # type: ignore[union-attr]
        ballast.unlink()
        response = post_spans(running.url, 3, "after")
        assert response.status_code == 200, response.text
        assert "disk" not in condition_sources(running.url)
        counts = row_counts(Store(db).reader())
        assert counts.spans >= 8
        names = {span.name for span in list_spans(Store(db).reader(), limit=10_000)}
        assert {"before-0", "after-0", "after-2"} <= names
        assert f"{refused_prefix}-0" not in names  # a 503 stored nothing
    finally:
        assert running.stop() == 0


def test_an_outside_lock_is_unavailable_with_retry_info_over_grpc(tmp_path: Path) -> None:
    """Held past the writer's busy timeout by another connection, as the sqlite3 shell would."""
    import grpc
    from google.rpc.error_details_pb2 import RetryInfo
    from google.rpc.status_pb2 import Status

    from localobs.receiver.grpc_server import GrpcReceiver
    from tests.test_grpc_receiver import export_traces

    store = Store(tmp_path / "grpc-lock.db")
    store.start_writer()
    server = GrpcReceiver(store, "127.0.0.1", 0, max_body=1 << 20)
    server.start()
    blocker = sqlite3.connect(store.path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(grpc.RpcError) as raised:
            export_traces(f"127.0.0.1:{server.port}", trace_request(2).SerializeToString())
    finally:
        blocker.rollback()
        blocker.close()
    error = raised.value
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert "locked" in error.details()
    status = Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    assert status.details[0].Unpack(RetryInfo())
    wait_for(lambda: store.conditions.get("lock") is None, 5, "the lock to clear")
    export_traces(f"127.0.0.1:{server.port}", trace_request(2).SerializeToString())
    assert len(list_spans(store.reader())) == 2
    server.stop(5)
    store.close()


def test_a_size_cap_keeps_a_small_disk_from_filling_under_a_steady_load(small_disk: Path) -> None:
    """Three times the disk's size sent at a steady ~400 KB/s, with the cap at a third of the
    disk: retention prunes the oldest traces as data arrives, so no batch meets a full disk and
    the files end under the cap. (Sent back to back with no pause at all, ingest outruns
    pruning and can still fill such a small disk: that case is answered 503, tested above.)"""
    db = small_disk / "capped.db"
    running = start_localobs(db, "--max-db-size", "2MiB", "--retention", "0")
    try:
        for batch in range(180):  # 100 spans of ~1 KB that nothing can share: ~18 MB in all
            request = trace_request(100, name_prefix=f"b{batch}")
            for span in request.resource_spans[0].scope_spans[0].spans:
                span.attributes.append(kv("payload", os.urandom(512).hex()))
            response = httpx.post(
                f"{running.url}/v1/traces",
                content=request.SerializeToString(),
                headers=PROTOBUF,
                timeout=30,
            )
            assert response.status_code == 200, f"batch {batch}: {response.text}"
            time.sleep(0.25)
        assert "disk" not in condition_sources(running.url)
        retention = health(running.url)["retention"]
        assert isinstance(retention, dict) and retention["pruned"]["traces"] > 100
        wait_for(lambda: health(running.url)["retention"]["size_bytes"] <= 2 << 20, 30, "the cap")  # type: ignore[index]
        names = {span.name for span in list_spans(Store(db).reader(), limit=100_000)}
        assert "b179-99" in names and "b0-0" not in names  # the newest kept, the oldest pruned
    finally:
        assert running.stop() == 0
