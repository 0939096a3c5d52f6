"""A 200 means committed: acknowledged batches survive SIGKILL; SIGTERM finishes in-flight work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from localobs.store import Store
from localobs.store.queries import database_summary
from tests.conftest import start_localobs
from tests.otlp_samples import trace_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _send_until_stopped(
    url: str, stop: threading.Event, acknowledged: list[bytes], sender: int
) -> None:
    with httpx.Client(timeout=10) as client:
        sequence = 0
        while not stop.is_set():
            trace_id = (sender + 1).to_bytes(2, "big") + sequence.to_bytes(14, "big")
            body = trace_request(64, trace_id=trace_id).SerializeToString()
            try:
                response = client.post(f"{url}/v1/traces", content=body, headers=PROTOBUF)
            except httpx.HTTPError:
                return
            if response.status_code == 200:
                acknowledged.append(trace_id)
            sequence += 1


def test_every_acknowledged_batch_survives_sigkill_of_the_whole_process_group(
    tmp_path: Path,
) -> None:
    db = tmp_path / "crash.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "localobs", "up", "--headless", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the writer process dies with it
    )
    assert process.stdout is not None
    url = ""
    while "OTEL_EXPORTER_OTLP_ENDPOINT=" not in url:
        url = process.stdout.readline()
        assert url, "localobs up exited early"
    url = url.strip().split("=", 1)[1]
    stop = threading.Event()
    acknowledged: list[bytes] = []
    senders = [
        threading.Thread(target=_send_until_stopped, args=(url, stop, acknowledged, index))
        for index in range(4)
    ]
    for thread in senders:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stop.set()
    for thread in senders:
        thread.join()
    assert len(acknowledged) >= 40, "too little load reached the receiver before the kill"

    store = Store(db)  # opens and recovers the WAL after the crash
    conn = store.reader()
    stored = {
        bytes.fromhex(trace_id)
        for (trace_id,) in conn.execute("SELECT DISTINCT trace_id FROM spans")
    }
    missing = [trace_id.hex() for trace_id in acknowledged if trace_id not in stored]
    assert missing == []
    for trace_id in acknowledged:
        count = conn.execute(
            "SELECT count(*) FROM spans WHERE trace_id = ?", (trace_id.hex(),)
        ).fetchone()[0]
        assert count == 64

    restarted = start_localobs(db)
    try:
        health = httpx.get(f"{restarted.url}/health").json()
        assert health["counts"]["spans"] >= 64 * len(acknowledged)
    finally:
        assert restarted.stop() == 0


def test_sigterm_finishes_in_flight_writes_and_exits_zero(tmp_path: Path) -> None:
    running = start_localobs(tmp_path / "term.db")
    stop = threading.Event()
    acknowledged: list[bytes] = []
    sender = threading.Thread(target=_send_until_stopped, args=(running.url, stop, acknowledged, 9))
    sender.start()
    while len(acknowledged) < 5:
        time.sleep(0.02)
    assert running.stop(signal.SIGTERM) == 0
    stop.set()
    sender.join()
    conn = Store(running.db).reader()
    assert database_summary(conn).spans >= 64 * len(acknowledged)
    assert not Path(f"{running.db}-wal").exists() or Path(f"{running.db}-wal").stat().st_size == 0


def test_sigint_exits_zero(tmp_path: Path) -> None:
    running = start_localobs(tmp_path / "int.db")
    assert running.stop(signal.SIGINT) == 0
