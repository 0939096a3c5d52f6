"""Starting `localobs up --headless` for a benchmark, as a user would run it."""

from __future__ import annotations

import subprocess
import sys
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
