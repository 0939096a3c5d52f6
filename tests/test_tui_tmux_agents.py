"""Both new screens in the real `localobs up` in a real terminal (tmux): an agent conversation
sent over HTTP shows as runs (g), a run's tree with the tool loop, and the conversation (o)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.agent_payloads import CONVERSATION, FOLLOW_UP, QUESTION, TOOL, genai_conversation
from tests.test_tui_tmux import start_localobs_up
from tests.tmux_terminal import Tmux, exit_code

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def keys(terminal: Tmux, *pressed: str) -> None:
    terminal.run("send-keys", "-t", terminal.session, *pressed)


def test_agents_and_conversations_screens_in_the_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    url, exit_file = start_localobs_up(tmux, tmp_path)
    response = httpx.post(
        f"{url}/v1/traces",
        content=genai_conversation(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    shown = tmux.wait_for(lambda shown: "Agents" in shown and "Conversations" in shown)
    keys(tmux, "g")
    shown = tmux.wait_for(lambda shown: "2 runs, newest first" in shown)
    assert shown.count("weather") >= 2 and CONVERSATION in shown
    keys(tmux, "Down")
    time.sleep(0.5)  # as a person types: Down arrives as an escape sequence, then Enter
    keys(tmux, "Enter")
    shown = tmux.wait_for(lambda shown: "⟲ loop" in shown)
    assert f"tool: {TOOL}" in shown and "2 model calls  3 tool calls" in shown
    keys(tmux, "o")
    tmux.wait_for(lambda shown: "1, most recent first" in shown)
    keys(tmux, "Enter")
    shown = tmux.wait_for(lambda shown: QUESTION in shown and FOLLOW_UP in shown)
    assert "2 turns  3 model calls" in shown
    keys(tmux, "q")
    assert exit_code(exit_file) == "0"
