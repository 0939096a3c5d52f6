"""Shared fixtures: a real store, a real receiver on a loopback port, a real `localobs up`."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from tests.tmux_terminal import Tmux


@dataclass
class RunningReceiver:
    url: str
    store: Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "localobs.db")
    opened.start_writer()
    yield opened
    opened.close()


@pytest.fixture
def receiver(store: Store) -> Iterator[RunningReceiver]:
    """The real receiver app under uvicorn on an ephemeral loopback port, in this process."""
    server = ReceiverServer(create_receiver_app(store, max_body=1 << 20), "127.0.0.1", 0)
    server.start()
    yield RunningReceiver(server.url, store)
    server.stop()


_ENDPOINT_LINE = re.compile(r"OTEL_EXPORTER_OTLP_ENDPOINT=(\S+)")


@dataclass
class LocalobsProcess:
    """A `localobs up --headless` subprocess, as a user would run it."""

    process: subprocess.Popen[str]
    url: str
    db: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def start_localobs(
    db: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    open_files: tuple[int, int] | None = None,
) -> LocalobsProcess:
    """Start `localobs up --headless` on an ephemeral port and wait until it answers /health.

    `open_files`: its (soft, hard) limit on open files, as a desktop's `ulimit -n`."""

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

    process = subprocess.Popen(
        [sys.executable, "-m", "localobs", "up", "--headless", "--port", "0", "--db", str(db)]
        + ["--grpc-port", "0"]  # off unless a test asks for it: 4317 may be taken
        + list(extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=limit_open_files,
    )
    assert process.stdout is not None
    url = None
    deadline = time.monotonic() + 30
    lines = []
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"localobs up exited early:\n{''.join(lines)}")
        lines.append(line)
        if match := _ENDPOINT_LINE.search(line):
            url = match.group(1)
    assert url, "localobs up printed no endpoint line"
    token = extra[extra.index("--token") + 1] if "--token" in extra else None
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    httpx.get(f"{url}/health", headers=auth, timeout=10).raise_for_status()
    return LocalobsProcess(process, url, db)


@pytest.fixture
def localobs_up(tmp_path: Path) -> Iterator[LocalobsProcess]:
    running = start_localobs(tmp_path / "localobs.db")
    yield running
    running.stop(signal.SIGKILL if running.process.poll() is None else signal.SIGTERM)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A tmux session name for the test to start a command in; the session is killed after."""
    terminal = Tmux(f"localobs-test-{os.getpid()}")
    yield terminal
    terminal.close()
