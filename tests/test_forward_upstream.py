"""Forwarding to a second real `localobs up` as the upstream: everything arrives, exactly once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LocalobsProcess, start_localobs
from tests.otlp_samples import gauge_request, log_request, trace_request
from tests.test_grpc_up import free_port

PROTOBUF = {"Content-Type": "application/x-protobuf"}
FAST_RETRIES = ("--forward-max-backoff", "0.3")


def send_traffic(url: str, batches: int, *, spans: int = 3, prefix: str = "b") -> None:
    """`batches` trace requests, plus one log and one metric request per 5 batches."""
    with httpx.Client(headers=PROTOBUF, timeout=30) as client:
        for index in range(batches):
            body = trace_request(spans, name_prefix=f"{prefix}{index}").SerializeToString()
            assert client.post(f"{url}/v1/traces", content=body).status_code == 200
            if index % 5 == 0:
                logs = log_request(2, service=f"{prefix}{index}").SerializeToString()
                assert client.post(f"{url}/v1/logs", content=logs).status_code == 200
                gauge = gauge_request([index, index + 0.5], name=f"{prefix}{index}")
                metrics = gauge.SerializeToString()
                assert client.post(f"{url}/v1/metrics", content=metrics).status_code == 200


def counts(db: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM logs),"
            " (SELECT count(*) FROM metric_points)"
        ).fetchone()
    finally:
        conn.close()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
    return result


def forwarding_health(node: LocalobsProcess) -> dict[str, Any]:
    (upstream,) = httpx.get(f"{node.url}/health").json()["forwarding"]
    return upstream


def assert_same_telemetry(a: Path, b: Path) -> None:
    """The upstream holds every span, log and point of A exactly once (logs and points have no
    unique key, so a duplicate delivery would show)."""
    wait_for(lambda: counts(b) == counts(a))
    time.sleep(0.3)  # nothing more arrives late
    assert counts(b) == counts(a)
    spans = "SELECT trace_id, span_id, name FROM spans ORDER BY 1, 2"
    assert (
        sqlite3.connect(b).execute(spans).fetchall() == sqlite3.connect(a).execute(spans).fetchall()
    )


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_every_span_log_and_point_arrives_upstream_exactly_once(
    tmp_path: Path, protocol: str
) -> None:
    grpc_port = free_port()
    upstream = start_localobs(tmp_path / "b.db", "--grpc-port", str(grpc_port))
    target = upstream.url if protocol == "http/protobuf" else f"http://127.0.0.1:{grpc_port}"
    node = start_localobs(
        tmp_path / "a.db", "--forward", target, "--forward-protocol", protocol, *FAST_RETRIES
    )
    try:
        send_traffic(node.url, 20)
        assert counts(tmp_path / "a.db") == (60, 8, 8)
        assert_same_telemetry(tmp_path / "a.db", tmp_path / "b.db")
        state = wait_for(lambda: (s := forwarding_health(node))["pending_batches"] == 0 and s)
        assert state["delivered_batches"] == 28 and state["delivered_items"] == 60 + 8 + 8
        assert state["dropped_batches"] == 0 and not state["failing"]
        assert node.stop() == 0
        # After a clean restart nothing acknowledged is pending, so nothing is sent twice.
        node = start_localobs(
            tmp_path / "a.db", "--forward", target, "--forward-protocol", protocol
        )
        time.sleep(0.5)
        assert forwarding_health(node) == state
    finally:
        node.stop()
        upstream.stop()


def test_everything_arrives_after_the_upstream_was_down_for_a_while(tmp_path: Path) -> None:
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}"
    node = start_localobs(tmp_path / "a.db", "--forward", upstream_url, *FAST_RETRIES)
    try:
        send_traffic(node.url, 10, prefix="down")
        state = wait_for(lambda: (s := forwarding_health(node))["failing"] and s)
        assert state["pending_batches"] == 14 and "ConnectError" in state["last_error"]
        info = subprocess.run(
            [sys.executable, "-m", "localobs", "info", "--db", str(tmp_path / "a.db")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"forwarding      {upstream_url}: delivered 0 items, pending 38" in info.stdout
        assert "failing: ConnectError" in info.stdout
        time.sleep(1)  # a few retries fail meanwhile
        upstream = start_localobs(tmp_path / "b.db", "--port", str(port))
        try:
            send_traffic(node.url, 5, prefix="after")
            assert_same_telemetry(tmp_path / "a.db", tmp_path / "b.db")
            assert not wait_for(lambda: not (s := forwarding_health(node))["failing"] and s)[
                "pending_batches"
            ]
        finally:
            upstream.stop()
    finally:
        node.stop()


def test_nothing_is_lost_when_the_forwarder_is_killed_mid_delivery(tmp_path: Path) -> None:
    port = free_port()
    forward = ("--forward", f"http://127.0.0.1:{port}", *FAST_RETRIES)
    node = start_localobs(tmp_path / "a.db", *forward)
    send_traffic(node.url, 300, spans=2, prefix="k")
    total_spans = counts(tmp_path / "a.db")[0]
    upstream = start_localobs(tmp_path / "b.db", "--port", str(port))
    try:
        wait_for(lambda: counts(tmp_path / "b.db")[0] > 0, timeout=60)
        node.stop(signal.SIGKILL)
        assert counts(tmp_path / "b.db")[0] < total_spans, "the kill came too late to test"
        restarted = start_localobs(tmp_path / "a.db", *forward)
        try:
            assert_same_telemetry(tmp_path / "a.db", tmp_path / "b.db")
        finally:
            restarted.stop()
    finally:
        upstream.stop()


def test_a_full_outbox_drops_the_oldest_with_a_counted_warning(tmp_path: Path) -> None:
    port = free_port()
    node = start_localobs(
        tmp_path / "a.db",
        "--forward",
        f"http://127.0.0.1:{port}",
        "--forward-max-mb",
        "0.02",
        *FAST_RETRIES,
    )
    try:
        send_traffic(node.url, 60, spans=20, prefix="full")  # ~90 KB of bodies
        # Housekeeping trims on its own tick: traffic that arrived after a trim waits for the next.
        state = wait_for(
            lambda: (
                (s := forwarding_health(node))["dropped_batches"]
                and s["pending_bytes"] <= 20_000
                and s
            )
        )
        assert state["dropped_items"] > 0
        upstream = start_localobs(tmp_path / "b.db", "--port", str(port))
        try:
            wait_for(lambda: forwarding_health(node)["pending_batches"] == 0)
            final = forwarding_health(node)
            delivered_spans = counts(tmp_path / "b.db")[0]
            assert 0 < delivered_spans < counts(tmp_path / "a.db")[0]
            assert final["delivered_items"] + final["dropped_items"] == sum(
                counts(tmp_path / "a.db")
            )
        finally:
            upstream.stop()
    finally:
        node.stop()
    assert node.process.stdout is not None
    output = node.process.stdout.read()
    assert "undelivered data is kept up to 0.02 MB" in output  # the banner says where it goes
    assert "dropped" in output and "over its limit of 0.02 MB" in output
