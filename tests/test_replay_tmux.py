"""The real `localobs up` in tmux at 80 columns: `p` on a call replays it on the bundled model,
the spread view fills in as runs finish, escape cancels keeping only whole runs; `s` saves the
screen as SVG beside the database, with sent text as literal as on screen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localobs.store import Store
from localobs.store.replays import replays_of
from tests.test_tui_tmux import REPO, Tmux, free_port

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "tmux"], capture_output=True).returncode != 0, reason="needs tmux"
)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux(f"localobs-replay-test-{os.getpid()}")
    yield terminal
    terminal.close()


SEND = """
from tests.tui_sdk import chat_call, sdk_tracer
with sdk_tracer("quiz-app") as tracer:
    chat_call(tracer, {prompt!r}, {answer!r})
"""


def start_up(tmux: Tmux, tmp_path: Path, prompt: str, answer: str) -> Path:
    port = free_port()
    db = tmp_path / "db"
    command = (
        f"env -u COLUMNS -u LINES {sys.executable} -m localobs up --port {port} --grpc-port 0"
        f" --db {db}; sleep 30"
    )
    tmux.run(
        "new-session", "-d", "-s", tmux.session, "-x", "80", "-y", "30", "-c", str(REPO), command
    )
    tmux.wait_for(lambda shown: "No model calls yet" in shown)
    subprocess.run(
        [sys.executable, "-c", SEND.format(prompt=prompt, answer=answer)],
        cwd=REPO,
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"},
        check=True,
        timeout=60,
    )
    tmux.wait_for(lambda shown: prompt[:12] in shown)
    return db


def keys(tmux: Tmux, *names: str) -> None:
    tmux.run("send-keys", "-t", tmux.session, *names)


def open_detail(tmux: Tmux) -> None:
    """Enter on the newest call (again, if the list was still settling when it was pressed)."""
    for _attempt in range(5):
        keys(tmux, "Enter")
        try:
            tmux.wait_for(lambda shown: "p Replay" in shown, 3)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the call detail did not open:\n{tmux.screen()}")


@pytest.mark.slow
def test_p_replays_the_call_runs_stream_in_and_escape_cancels(tmux: Tmux, tmp_path: Path) -> None:
    db = start_up(tmux, tmp_path, "Name one colour of the rainbow.", "Red.")
    open_detail(tmux)
    keys(tmux, "p")
    shown = tmux.wait_for(lambda shown: re.search(r"[23] of 10 runs", shown) is not None, 120)
    assert "Spread of call 1" in shown and "llama.cpp" in shown
    assert "distinct answer" in shown and "output tokens" in shown and "p95" in shown
    keys(tmux, "Escape")
    shown = tmux.wait_for(lambda shown: "runs done" in shown, 60)
    match = re.search(r"(\d+) runs done", shown)
    assert match is not None and 2 <= int(match.group(1)) < 10
    assert "cancelled after" in shown
    with Store(db).reader() as conn:
        assert len(replays_of(conn, 1)) == int(match.group(1))
    keys(tmux, "Escape")
    tmux.wait_for(lambda shown: "p Replay" in shown)


def test_s_saves_the_screen_as_svg_beside_the_database(tmux: Tmux, tmp_path: Path) -> None:
    prompt = "[bold]not markup[/bold] <b>tag</b>"
    db = start_up(tmux, tmp_path, prompt, "ok")
    open_detail(tmux)
    keys(tmux, "s")
    shown = tmux.wait_for(lambda shown: "Screenshot" in shown and "Saved" in shown)
    # The toast says where (the path wraps over its lines).
    toast = "".join(line.rsplit("▌", 1)[-1].strip() for line in shown.splitlines() if "▌" in line)
    assert "localobs-calldetail-" in toast and tmp_path.name in toast
    deadline = time.monotonic() + 10
    while not (found := sorted(tmp_path.glob("localobs-calldetail-*.svg"))):
        assert time.monotonic() < deadline, "no SVG file was written"
        time.sleep(0.1)
    svg = found[0].read_text()
    assert svg.startswith("<svg")
    # The prompt as typed: no markup applied, the angle brackets escaped for SVG.
    assert "[bold]not" in svg and "markup[/bold]" in svg
    assert "&lt;b&gt;tag&lt;/b&gt;" in svg
    assert db.parent == found[0].parent
