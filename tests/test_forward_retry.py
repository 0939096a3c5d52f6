"""How delivery reads an upstream's refusals: retry or not, and after how long."""

from __future__ import annotations

import gzip
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from localobs.receiver.bodies import Format
from localobs.receiver.grpc_server import GrpcReceiver
from localobs.receiver.pipeline import decode_body
from localobs.receiver.rpc_status import retry_delay_of_status
from localobs.store import Store
from localobs.store.outbox import forwarding_status
from localobs.transfer.forwarder import Forwarder, ForwardOptions, Upstream
from localobs.transfer.senders import DeliveryError, GrpcSender, HttpSender
from tests.otlp_samples import trace_request
from tests.test_grpc_receiver import export_traces


class ScriptedUpstream(BaseHTTPRequestHandler):
    """A stand-in upstream answering from a script: a real collector cannot be made to answer
    429/503 with a chosen Retry-After on demand. Records when each request came."""

    script: ClassVar[list[tuple[int, dict[str, str]]]]
    arrivals: ClassVar[list[float]]
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.arrivals.append(time.monotonic())
        self.received.append((self.path, dict(self.headers), body))
        status, headers = self.script.pop(0) if self.script else (200, {})
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[ScriptedUpstream]]]:
    handler = type("Handler", (ScriptedUpstream,), {"script": [], "arrivals": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_http_refusals_are_read_as_the_spec_says(scripted: tuple[str, type]) -> None:
    url, handler = scripted
    handler.script.extend(
        [
            (503, {"Retry-After": "7"}),
            (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            (400, {}),
            (404, {}),
        ]
    )
    sender = HttpSender(url + "/otlp/", [("X-Api-Key", "k1")], gzip=True, timeout_s=5)
    errors = []
    for _ in range(4):
        with pytest.raises(DeliveryError) as raised:
            sender.send("traces", trace_request(1).SerializeToString())
        errors.append(raised.value)
    sent = trace_request(1).SerializeToString()
    assert sender.send("traces", sent) is None
    sender.close()
    assert (errors[0].invalid, errors[0].retry_after_s) == (False, 7.0)
    assert (errors[1].invalid, errors[1].retry_after_s) == (False, 0.0)  # a date in the past
    assert errors[2].invalid  # the data itself was refused: resending cannot help
    assert (errors[3].invalid, errors[3].retry_after_s) == (False, None)  # retried with backoff
    path, headers, body = handler.received[-1]
    assert path == "/otlp/v1/traces"  # the URL is a base, as OTEL_EXPORTER_OTLP_ENDPOINT
    assert headers["X-Api-Key"] == "k1" and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert gzip.decompress(body) == sent


def test_the_forwarder_waits_as_long_as_retry_after_asks(
    scripted: tuple[str, type], store: Store
) -> None:
    url, handler = scripted
    handler.script.append((503, {"Retry-After": "1"}))
    options = ForwardOptions(initial_backoff_s=0.01, poll_interval_s=0.01)
    forwarder = Forwarder(Path(store.path), [Upstream(url)], options)
    store.forwarding = True
    forwarder.start()
    try:
        body = trace_request(2).SerializeToString()
        store.submit(decode_body("traces", body, Format.PROTOBUF)[0]).result()
        deadline = time.monotonic() + 10
        while len(handler.arrivals) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        forwarder.stop()
    first, second = handler.arrivals[:2]
    assert second - first >= 0.95
    (state,) = forwarding_status(store.reader())
    assert state.delivered_batches == 1 and "HTTP 503" in (state.last_error or "")


def test_grpc_refusals_carry_invalid_or_the_retry_delay(tmp_path: Path) -> None:
    """Both faults are caused for real on a localobs gRPC listener."""
    db = tmp_path / "busy.db"
    store = Store(db)
    store.start_writer(max_pending_bytes=1)
    server = GrpcReceiver(store, "127.0.0.1", 0, max_body=1 << 20)
    server.start()
    sender = GrpcSender(f"http://127.0.0.1:{server.port}", [], gzip=True, timeout_s=10)
    with pytest.raises(DeliveryError) as garbage:
        sender.send("traces", b"\xff\xff not protobuf")
    assert garbage.value.invalid
    blocker = sqlite3.connect(db)
    blocker.execute("BEGIN IMMEDIATE")
    waiting = threading.Thread(
        target=export_traces,
        args=(f"127.0.0.1:{server.port}", trace_request(1).SerializeToString()),
    )
    try:
        waiting.start()
        while not store.pending_bytes:
            time.sleep(0.01)
        with pytest.raises(DeliveryError) as busy:
            sender.send("traces", trace_request(1).SerializeToString())
    finally:
        blocker.rollback()
        blocker.close()
    waiting.join()
    assert (busy.value.invalid, busy.value.retry_after_s) == (False, 1.0)
    sender.close()
    server.stop(5)
    store.close()


def test_retry_info_is_read_from_a_status_encoded_by_googleapis() -> None:
    status = Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message="later")
    status.details.add().Pack(RetryInfo(retry_delay=Duration(seconds=2, nanos=500_000_000)))
    assert retry_delay_of_status(status.SerializeToString()) == 2.5
    assert retry_delay_of_status(Status(code=14).SerializeToString()) is None
    assert retry_delay_of_status(b"\x1a\xff") is None  # truncated: no delay, no crash
