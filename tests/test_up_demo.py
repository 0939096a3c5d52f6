"""`localobs up --demo --headless`: the bot is a child process localobs owns, restarts and stops."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from localobs.conditions import read_status_file
from localobs.store import Store
from localobs.store.agents import list_runs
from localobs.store.calls import list_calls
from localobs.store.conversations import list_conversations
from tests.conftest import start_localobs

pytestmark = pytest.mark.slow


def bot_pids(parent: int) -> list[int]:
    """Processes running `-m demo_bot` whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"demo_bot" in command:
            found.append(int(entry.name))
    return found


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_demo_fills_the_store_restarts_a_dead_bot_and_stops_it_on_exit(tmp_path: Path) -> None:
    running = start_localobs(tmp_path / "demo.db", "--demo", "--demo-args", "--max-tokens 24")
    front = running.process.pid
    try:
        wait_for(lambda: bot_pids(front), 30, "the demo bot process")
        (first_bot,) = bot_pids(front)
        command = Path(f"/proc/{first_bot}/cmdline").read_bytes().split(b"\0")
        assert command[-3:-1] == [b"--max-tokens", b"24"]
        conn = Store(running.db).reader()
        wait_for(lambda: len(list_calls(conn)) >= 2, 180, "the bot's calls in the store")
        calls = list_calls(conn)
        assert {call.service_name for call in calls} == {"session-bot"}
        assert any(call.operation == "chat" for call in calls)
        # The question is an agent run of a visitor's conversation: both screens have content.
        wait_for(lambda: list_runs(conn) and list_conversations(conn), 60, "a run, a conversation")
        assert list_runs(conn)[0].agent_name == "session-recommender"

        os.kill(first_bot, signal.SIGKILL)
        found: list[int] = []

        def restarted() -> bool:
            # One look at /proc per check: the killed bot vanishes from it between two looks.
            found[:] = bot_pids(front)
            return bool(found) and found != [first_bot]

        wait_for(restarted, 30, "a restarted bot")
        (second_bot,) = found
    finally:
        exit_code = running.stop(signal.SIGTERM, timeout=60)
    assert exit_code == 0
    assert (
        not Path(f"/proc/{second_bot}").exists()
        or b"Z" in Path(f"/proc/{second_bot}/stat").read_bytes().split(b")")[1][:3]
    )
    assert "restarting" in (tmp_path / "demo-bot.log").read_text()


def test_a_demo_bot_that_cannot_start_is_given_up_on_and_said_so(tmp_path: Path) -> None:
    """A real bot that dies at start (its model file is missing): three tries, then it stays
    down; headless `up` prints each state, the board says why, and receiving goes on."""
    missing = tmp_path / "missing.gguf"
    running = start_localobs(tmp_path / "demo.db", "--demo", "--demo-args", f"--model {missing}")
    printed: list[str] = []
    assert running.process.stdout is not None
    reader = threading.Thread(target=lambda: printed.extend(running.process.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("demo bot gave up" in line for line in printed), 120, "giving up")
        time.sleep(1)
        text = "".join(printed)
        assert text.count("demo bot starting") == 1 and text.count("demo bot restarting") == 2
        assert text.count("demo bot exited with status 1; restarting") == 2
        assert f"Model path does not exist: {missing}" in text
        assert running.process.poll() is None
        conditions = read_status_file(running.db)
        assert conditions is not None
        (demo,) = [condition for condition in conditions if condition.source == "demo"]
        assert demo.level == "error" and demo.details["exit_status"] == 1
        assert not bot_pids(running.process.pid)
    finally:
        exit_code = running.stop(signal.SIGTERM, timeout=60)
    assert exit_code == 0
