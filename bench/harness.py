"""What the ingest benchmarks share: starting `localobs up --headless` as a user would, sending
bodies from concurrent senders, and reading what its processes used (Linux /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def start_localobs(db: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """The process and its OTLP/HTTP endpoint URL, once it listens.

    HTTP is on an ephemeral port and gRPC is off, unless `extra` says otherwise (click keeps the
    last value of an option). Status lines are off, so the unread stdout pipe never fills up.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "localobs", "up", "--headless", "--port", "0", "--grpc-port", "0"]
        + ["--db", str(db), "--status-interval", "3600", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = ""
    while "OTEL_EXPORTER_OTLP_ENDPOINT=" not in line:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"localobs up did not start (exit code {process.wait()})")
    return process, line.strip().split("=", 1)[1]


def send_in_parallel(
    send: Callable[[str, list[bytes], list[str]], None],
    target: str,
    bodies: list[bytes],
    senders: int,
) -> tuple[float, list[str]]:
    """Share `bodies` among `senders` threads running `send(target, share, failures)`.

    Returns the seconds from the first request to the last answer, and the failures reported.
    """
    failures: list[str] = []
    shares = [bodies[index::senders] for index in range(senders)]
    threads = [threading.Thread(target=send, args=(target, s, failures)) for s in shares]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - begin, failures


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (the receiver's writer process), from any of its threads."""
    children = []
    for thread in Path(f"/proc/{pid}/task").iterdir():
        children += (thread / "children").read_text().split()
    return [int(child) for child in children]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time `pid` has used so far, all its threads together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
