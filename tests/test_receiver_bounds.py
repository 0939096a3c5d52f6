"""Neighbours on the machine cannot exhaust the receiver's memory or its file descriptors.

Real `localobs up` processes on loopback ports; memory is the process's peak resident size
(VmHWM), descriptors are limited with a real rlimit as a desktop's `ulimit -n 1024`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import random
import resource
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc.error_details_pb2 import RetryInfo

from localobs.connections import QuietLoopErrors
from tests.conftest import LocalobsProcess, start_localobs
from tests.otlp_samples import trace_request
from tests.test_grpc_receiver import export_traces
from tests.test_grpc_up import free_port

PROTOBUF = {"Content-Type": "application/x-protobuf"}
GZIP = {**PROTOBUF, "Content-Encoding": "gzip"}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc: not Linux?")


def test_concurrent_gzip_bodies_stay_within_the_memory_budget(tmp_path: Path) -> None:
    """Eight bodies of 60 MB once inflated (each under the 64 MiB body limit) at once: beyond
    the default 256 MiB budget they get 503 with Retry-After, and the process stays small
    (it reached about 1 GiB without the budget)."""
    running = start_localobs(tmp_path / "memory.db")
    # 60 MB once inflated, ~270 KB as sent: zeros with a random byte in every KiB. Not a valid
    # request: it is refused once inflated.
    rng = random.Random(16)
    body = gzip.compress(b"".join(bytes(1023) + rng.randbytes(1) for _ in range(58_600)))
    barrier = threading.Barrier(8)

    def paced() -> Iterator[bytes]:
        """The body in small pieces, as over a slow link: all eight are read at once."""
        for start in range(0, len(body), 16 << 10):
            yield body[start : start + (16 << 10)]
            time.sleep(0.05)

    def post(_: int) -> httpx.Response:
        barrier.wait()
        return httpx.post(f"{running.url}/v1/traces", content=paced(), headers=GZIP, timeout=120)

    try:
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, range(8)))
        peak = peak_rss_mib(running.process.pid)
        statuses = sorted(response.status_code for response in responses)
        refused = [response for response in responses if response.status_code == 503]
        assert refused, f"no request was refused for memory: {statuses}"
        assert all(response.headers["Retry-After"] for response in refused)
        # The others were inflated whole, then found invalid: nothing else happens to them.
        assert set(statuses) <= {400, 503}, statuses
        assert 400 in statuses, "the budget must let some bodies through"
        print(f"statuses {statuses}, peak resident size {peak:.0f} MiB")
        assert peak < 400, f"peak resident size {peak:.0f} MiB"
        assert httpx.get(f"{running.url}/health").json()["counts"]["spans"] == 0
    finally:
        assert running.stop() == 0


def test_the_budget_is_an_option_and_gRPC_honours_it_too(tmp_path: Path) -> None:
    grpc_port = free_port()
    running = start_localobs(
        tmp_path / "budget.db", "--max-inflight", "1MiB", "--grpc-port", str(grpc_port)
    )
    small = trace_request(1).SerializeToString()
    large = trace_request(16_000).SerializeToString()
    assert len(large) > 1 << 20
    try:
        response = httpx.post(f"{running.url}/v1/traces", content=large, headers=PROTOBUF)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        with pytest.raises(grpc.RpcError) as refused:
            export_traces(f"127.0.0.1:{grpc_port}", large)
        error = refused.value
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        trailers = dict(error.trailing_metadata())  # type: ignore[attr-defined]
        assert RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]).retry_delay.seconds == 1
        # Small requests pass on both, and the budget is all given back after each.
        for _ in range(3):
            response = httpx.post(f"{running.url}/v1/traces", content=small, headers=PROTOBUF)
            assert response.status_code == 200
            export_traces(f"127.0.0.1:{grpc_port}", small)
    finally:
        assert running.stop() == 0


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    running = start_localobs(tmp_path / "limit.db", open_files=(1024, 4096))
    try:
        limits = Path(f"/proc/{running.process.pid}/limits").read_text().splitlines()
        (open_files,) = [line.split()[3:5] for line in limits if line.startswith("Max open files")]
        assert open_files == ["4096", "4096"]
    finally:
        assert running.stop() == 0


@dataclass
class HealthProbe:
    """Asks /health over a new connection every 0.1 s, each with a 1 s timeout."""

    url: str
    failures: list[str] = field(default_factory=list)
    answered: int = 0
    slowest_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            started = time.monotonic()
            try:
                httpx.get(f"{self.url}/health", timeout=1.0).raise_for_status()
                self.answered += 1
                self.slowest_s = max(self.slowest_s, time.monotonic() - started)
            except httpx.HTTPError as exc:
                self.failures.append(f"{time.monotonic() - started:.2f} s: {exc!r}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def is_closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1 << 16) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def drain(running: LocalobsProcess) -> list[str]:
    """Collect the process's output from now on (a flood must not block it on a full pipe)."""
    lines: list[str] = []
    stdout = running.process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
    return lines


def test_idle_and_slow_connections_neither_deafen_nor_flood_it(tmp_path: Path) -> None:
    """With `ulimit -n 1024` (soft and hard), 1,100 idle sockets, slow headers, a stalled body
    and 200 idle sockets on the gRPC port: /health answers within 1 s throughout, the HTTP ones
    all get closed, the log stays short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1400:
        pytest.skip(f"this test needs 1,400 open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1400), hard))
    timeout_s = 3.0
    grpc_port = free_port()
    running = start_localobs(
        tmp_path / "fd.db",
        "--idle-timeout",
        str(timeout_s),
        "--read-timeout",
        str(timeout_s),
        "--grpc-port",
        str(grpc_port),
        open_files=(1024, 1024),  # soft and hard: raising the soft limit is no way out
    )
    output = drain(running)
    address = ("127.0.0.1", int(running.url.rsplit(":", 1)[1]))
    probe = HealthProbe(running.url)
    probe.start()
    sockets: list[socket.socket] = []
    try:
        stalled = socket.create_connection(address)
        stalled.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789"
        )
        slow = [socket.create_connection(address) for _ in range(5)]
        # The gRPC listener holds a bounded number (grpc never closes silent ones: not checked).
        on_grpc = [socket.create_connection(("127.0.0.1", grpc_port)) for _ in range(200)]
        idle = [socket.create_connection(address, timeout=5) for _ in range(1100)]
        sockets = [stalled, *slow, *idle, *on_grpc]
        head = b"POST /v1/traces HTTP/1.1\r\nHost: localhost\r\n"
        for index in range(int(timeout_s * 2) + 2):  # a byte a second, past the timeout
            for each in slow:
                with contextlib.suppress(OSError):  # closed by the receiver
                    each.send(head[index : index + 1])
            time.sleep(1.0)
        deadline = time.monotonic() + timeout_s + 5
        while time.monotonic() < deadline and not all(map(is_closed_by_peer, [stalled, *idle])):
            time.sleep(0.5)
        assert is_closed_by_peer(stalled), "the stalled body is still open"
        assert all(map(is_closed_by_peer, slow)), "slow headers are still open"
        still_open = sum(not is_closed_by_peer(each) for each in idle)
        assert still_open == 0, f"{still_open} idle sockets are still open"
        probe.stop()
        assert not probe.failures, (probe.failures[:5], output[:10])
        assert probe.answered > 20
        assert probe.slowest_s < 1.0
    finally:
        probe.stop()
        for each in sockets:
            each.close()
        code = running.stop()
    assert code == 0
    time.sleep(0.5)  # the drain thread reads the last lines
    assert len(output) < 20, f"{len(output)} lines of output, e.g. {output[:5]}"


def test_event_loop_errors_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """What asyncio reports for each failed accept once descriptors run out (the cap above keeps
    it from happening; should something else exhaust them, the log still does not flood)."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(QuietLoopErrors(interval_s=60))
    try:
        for _ in range(4600):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                }
            )
        loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
    messages = [record.getMessage() for record in caplog.records if record.name == "asyncio"]
    assert messages == ["socket.accept() out of system resource", "something else"]
