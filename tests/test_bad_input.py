"""Bad input gets a clear error, loses nothing else, and the process keeps serving."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.queries import list_spans
from tests.conftest import LocalobsProcess, RunningReceiver, start_localobs
from tests.otlp_samples import trace_request

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def rpc_status(body: bytes) -> tuple[int, str]:
    """google.rpc.Status fields 1 (code) and 2 (message), read with a known message type."""
    from google.rpc.status_pb2 import Status

    status = Status.FromString(body)
    return status.code, status.message


@pytest.fixture
def seeded(receiver: RunningReceiver) -> Iterator[RunningReceiver]:
    response = httpx.post(
        f"{receiver.url}/v1/traces",
        content=trace_request(3, name_prefix="kept").SerializeToString(),
        headers=PROTOBUF,
    )
    assert response.status_code == 200
    yield receiver
    # Afterwards: the earlier data is intact and the receiver still stores new batches.
    after = httpx.post(
        f"{receiver.url}/v1/traces",
        content=trace_request(1, name_prefix="after").SerializeToString(),
        headers=PROTOBUF,
    )
    assert after.status_code == 200
    names = sorted(span.name for span in list_spans(receiver.store.reader()))
    assert names == ["after-0", "kept-0", "kept-1", "kept-2"]


def post(receiver: RunningReceiver, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{receiver.url}/v1/traces", content=body, headers={**PROTOBUF, **headers})


def test_garbage_bytes_get_400_with_a_status_body(seeded: RunningReceiver) -> None:
    response = post(seeded, b"\xff\xfe not protobuf at all \x00\x01")
    assert response.status_code == 400
    code, message = rpc_status(response.content)
    assert code == 3 and "not a valid ExportTraceServiceRequest" in message


def test_truncated_protobuf_gets_400(seeded: RunningReceiver) -> None:
    body = trace_request(5).SerializeToString()
    with pytest.raises(DecodeError):
        ExportTraceServiceRequest.FromString(body[:-7])
    assert post(seeded, body[:-7]).status_code == 400


def test_truncated_gzip_gets_400(seeded: RunningReceiver) -> None:
    body = gzip.compress(trace_request(5).SerializeToString())
    response = post(seeded, body[: len(body) // 2], **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "truncated" in rpc_status(response.content)[1]


def test_a_gzip_bomb_gets_413_without_expanding_in_memory(seeded: RunningReceiver) -> None:
    bomb = gzip.compress(b"\x00" * (256 << 20), compresslevel=9)  # 256 MiB in ~250 KiB
    assert len(bomb) < 1 << 20
    response = post(seeded, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "exceeds the limit" in rpc_status(response.content)[1]


def test_a_body_over_the_limit_gets_413(seeded: RunningReceiver) -> None:
    assert post(seeded, b"\x0a" * ((1 << 20) + 1)).status_code == 413
    deflated = zlib.compress(b"\x0a" * (2 << 20))
    assert post(seeded, deflated, **{"Content-Encoding": "deflate"}).status_code == 413


def test_wrong_content_type_and_encoding_get_415(seeded: RunningReceiver) -> None:
    response = post(seeded, b"{}", **{"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "application/x-protobuf" in rpc_status(response.content)[1]
    assert post(seeded, b"", **{"Content-Encoding": "br"}).status_code == 415


def test_json_that_is_broken_or_of_the_wrong_shape_gets_400(seeded: RunningReceiver) -> None:
    url = f"{seeded.url}/v1/traces"
    broken = httpx.post(
        url, content=b'{"resourceSpans": [', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.headers["content-type"].startswith("application/json")
    assert "not valid JSON" in broken.json()["message"]
    wrong = httpx.post(url, json={"resourceSpans": "nope"})
    assert wrong.status_code == 400
    missing_ids = httpx.post(
        url, json={"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "no ids"}]}]}]}
    )
    assert missing_ids.status_code == 200
    assert missing_ids.json()["partialSuccess"]["rejectedSpans"] == "1"


def test_an_empty_body_stores_nothing_and_is_answered(seeded: RunningReceiver) -> None:
    # An empty protobuf body is a valid, empty request (as the Collector treats it).
    assert post(seeded, b"").status_code == 200
    empty_json = httpx.post(
        f"{seeded.url}/v1/traces", content=b"", headers={"Content-Type": "application/json"}
    )
    assert empty_json.status_code == 400


def test_non_post_methods_get_405(seeded: RunningReceiver) -> None:
    for method in ("GET", "PUT", "DELETE"):
        assert httpx.request(method, f"{seeded.url}/v1/traces").status_code == 405


def test_a_full_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    """The fault is caused for real: another connection holds SQLite's write lock."""
    db = tmp_path / "busy.db"
    store = Store(db)
    store.start_writer(max_pending_bytes=1)
    server = ReceiverServer(create_receiver_app(store), "127.0.0.1", 0)
    server.start()
    blocker = sqlite3.connect(db)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        body = trace_request(2).SerializeToString()
        first: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: first.append(
                httpx.post(f"{server.url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)
            )
        )
        waiting.start()
        for _ in range(200):
            if store.pending_bytes:
                break
            threading.Event().wait(0.01)
        second = httpx.post(
            f"{server.url}/v1/traces",
            content=trace_request(2).SerializeToString(),
            headers=PROTOBUF,
        )
        assert second.status_code == 503
        assert second.headers["retry-after"] == "1"
    finally:
        blocker.rollback()
        blocker.close()
    waiting.join()
    assert first[0].status_code == 200
    assert len(list_spans(store.reader())) == 2
    server.stop()
    store.close()


def test_a_file_that_is_not_a_localobs_db_is_refused_at_start(tmp_path: Path) -> None:
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("just some text, long enough to not be an empty database file" * 20)
    for path in (foreign, not_sqlite):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "localobs",
                "up",
                "--headless",
                "--port",
                "0",
                "--db",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0
        assert "localobs did not create" in result.stderr or "not an SQLite" in result.stderr
    tables = sqlite3.connect(foreign).execute("SELECT name FROM sqlite_schema").fetchall()
    assert tables == [("customers",)]


def test_a_second_localobs_on_a_busy_port_says_so(localobs_up: LocalobsProcess) -> None:
    port = localobs_up.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "localobs", "up", "--headless", "--port", port]
        + ["--db", str(localobs_up.db.with_name("second.db"))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Address already in use" in result.stderr
    assert httpx.get(f"{localobs_up.url}/health").status_code == 200


def test_binding_off_loopback_requires_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localobs", "up", "--headless", "--host", "0.0.0.0"]
        + ["--port", "0", "--db", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "--token" in result.stderr


def test_with_a_token_requests_without_it_get_401(tmp_path: Path) -> None:
    running = start_localobs(tmp_path / "auth.db", "--token", "s3cret")
    try:
        body = trace_request(1).SerializeToString()
        url = f"{running.url}/v1/traces"
        assert httpx.post(url, content=body, headers=PROTOBUF).status_code == 401
        wrong = {**PROTOBUF, "Authorization": "Bearer nope"}
        assert httpx.post(url, content=body, headers=wrong).status_code == 401
        right = {**PROTOBUF, "Authorization": "Bearer s3cret"}
        assert httpx.post(url, content=body, headers=right).status_code == 200
    finally:
        assert running.stop() == 0
