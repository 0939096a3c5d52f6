"""The real `localobs up` (not headless) in a real terminal (tmux): one process receives a call
sent by another process and shows it; `q` stops the receiver and exits 0."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localobs.store import Store
from tests import tui_data
from tests.tmux_terminal import Tmux, exit_code

# A few seconds each: not marked slow, so the real terminal path runs with every test run.
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

REPO = Path(__file__).resolve().parent.parent
SEND_CALL = """
from tests.tui_sdk import chat_call, sdk_tracer
with sdk_tracer("other-process") as tracer:
    chat_call(tracer, "Is the tmux test live?", "It is.")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_localobs_up(tmux: Tmux, tmp_path: Path) -> tuple[str, Path]:
    """Run `localobs up` in the tmux terminal; returns its URL and where its exit code lands."""
    port = free_port()
    exit_file = tmp_path / "exit-code"
    command = (
        f"env -u COLUMNS -u LINES {sys.executable} -m localobs up --port {port} --grpc-port 0"
        f" --db {tmp_path / 'db'}; echo $? > {exit_file}; sleep 30"
    )
    tmux.run(
        "new-session", "-d", "-s", tmux.session, "-x", "120", "-y", "35", "-c", str(REPO), command
    )
    url = f"http://127.0.0.1:{port}"
    # The viewer's empty state (the banner printed before it says the same lines).
    tmux.wait_for(
        lambda shown: (
            "No model calls yet" in shown and f"export OTEL_EXPORTER_OTLP_ENDPOINT={url}" in shown
        )
    )
    return url, exit_file


def test_localobs_up_shows_calls_from_another_process_and_q_exits(
    tmux: Tmux, tmp_path: Path
) -> None:
    url, exit_file = start_localobs_up(tmux, tmp_path)
    subprocess.run(
        [sys.executable, "-c", SEND_CALL],
        cwd=REPO,
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": url},
        check=True,
        timeout=60,
    )
    shown = tmux.wait_for(lambda shown: "Is the tmux test live?" in shown)
    assert "other-process" in shown and "llama-3.1-8b" in shown

    # uvicorn warns about a malformed request: the line goes to the log, not over the screen.
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"NOT HTTP\x00\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    log = tmp_path / "localobs.log"
    deadline = time.monotonic() + 10
    while "Invalid HTTP request" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the warning did not reach the log file"
        time.sleep(0.1)
    assert "Invalid HTTP request" not in tmux.screen()

    tmux.run("send-keys", "-t", tmux.session, "q")
    assert exit_code(exit_file) == "0"
    with socket.socket() as sock:  # the receiver stopped with the process: nothing listens
        # SO_REUSEADDR: connections of the export may linger in TIME_WAIT; a listener may not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        sock.listen()


def test_sigterm_stops_the_viewer_and_the_receiver_with_exit_code_0(
    tmux: Tmux, tmp_path: Path
) -> None:
    _, exit_file = start_localobs_up(tmux, tmp_path)
    shell = tmux.run("list-panes", "-t", tmux.session, "-F", "#{pane_pid}").strip()
    localobs = subprocess.run(
        ["pgrep", "-P", shell], capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(localobs) == 1
    os.kill(int(localobs[0]), signal.SIGTERM)
    assert exit_code(exit_file) == "0"


def test_localobs_view_browses_an_existing_database(tmux: Tmux, tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = Store(db)
    store.start_writer()
    tui_data.submit(store, tui_data.sample_spans())
    store.close()
    exit_file = tmp_path / "exit-code"
    command = (
        f"env -u COLUMNS -u LINES {sys.executable} -m localobs view --db {db}"
        f"; echo $? > {exit_file}; sleep 30"
    )
    tmux.run(
        "new-session", "-d", "-s", tmux.session, "-x", "120", "-y", "35", "-c", str(REPO), command
    )
    tmux.wait_for(lambda shown: "Where can I get coffee?" in shown and "7 calls" in shown)
    tmux.run("send-keys", "-t", tmux.session, "q")
    assert exit_code(exit_file) == "0"
