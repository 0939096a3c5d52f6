"""`localobs up` serves OTLP/gRPC next to OTLP/HTTP, and says so."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from localobs.store.queries import database_summary
from tests.conftest import start_localobs
from tests.otlp_samples import trace_request
from tests.test_grpc_receiver import export_traces


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_up_serves_both_listeners_and_the_banner_names_both(tmp_path: Path) -> None:
    grpc_port = free_port()
    running = start_localobs(tmp_path / "a.db", "--grpc-port", str(grpc_port))
    try:
        export_traces(f"127.0.0.1:{grpc_port}", trace_request(2).SerializeToString())
        response = httpx.post(
            f"{running.url}/v1/traces",
            content=trace_request(3).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200
        assert httpx.get(f"{running.url}/health").json()["counts"]["spans"] == 5
    finally:
        assert running.stop() == 0
    assert running.process.stdout is not None
    rest_of_banner = running.process.stdout.read()  # start_localobs read up to the HTTP line
    assert f"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{grpc_port}" in rest_of_banner


def test_a_taken_grpc_port_is_a_clear_error_and_stores_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "localobs", "up", "--headless", "--port", "0"]
            + ["--grpc-port", str(taken.getsockname()[1]), "--db", str(tmp_path / "b.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "--grpc-port 0" in result.stderr
    assert database_summary(sqlite3.connect(tmp_path / "b.db")).spans == 0
