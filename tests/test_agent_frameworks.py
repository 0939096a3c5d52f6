"""Real agent frameworks against llama.cpp's OpenAI-compatible server, exporting to the real
receiver: each run is a named agent with its real tool call (arguments, result), its tokens
counted once, and both turns in one conversation.

Pydantic AI speaks the GenAI conventions natively; the OpenAI Agents SDK goes through
OpenInference. Each runs in its own process (tests/agent_frameworks.py) behind a proxy that
refuses every host but loopback, so nothing here can phone home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.agents import get_run, list_runs
from localobs.store.conversations import context_change, get_conversation, list_conversations
from tests.agent_frameworks import AGENT, CONVERSATION, FOLLOW_UP, FORECAST, QUESTION, TOOL
from tests.fixtures.genai.capture import llama_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SERVICES = {"pydantic_ai": "pydantic-ai-agent", "openai_agents": "openai-agents-agent"}


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server(tmp_path_factory.mktemp("llama")) as url:
        yield url


@pytest.fixture(scope="module")
def stored(llm_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Both frameworks' conversations, each in its own database."""
    store = Store(tmp_path_factory.mktemp("store") / "localobs.db")
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store, max_body=16 << 20), "127.0.0.1", 0)
    server.start()
    refuse = "http://127.0.0.1:9"  # nothing listens: any other host fails
    env = {**os.environ, "HTTP_PROXY": refuse, "HTTPS_PROXY": refuse}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "OPENAI_API_KEY": "unused"}
    try:
        for framework in SERVICES:
            done = subprocess.run(
                [sys.executable, "-m", "tests.agent_frameworks", framework, server.url, llm_url],
                capture_output=True,
                text=True,
                cwd=REPO,
                env=env,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            said = json.loads(done.stdout.splitlines()[-1])
            assert said["tool_calls"] == [{"city": "Paris"}] * 2, said  # one real call a turn
        yield store
    finally:
        server.stop()
        store.close()


def _runs(store: Store, service: str) -> list[Any]:
    conn = store.reader()
    try:
        return [
            (run, get_run(conn, run.run_id))
            for run in list_runs(conn)
            if conn.execute(
                "SELECT service_name FROM spans WHERE span_id = ?", (run.run_id,)
            ).fetchone()[0]
            == service
        ]
    finally:
        conn.close()


@pytest.mark.parametrize("framework", sorted(SERVICES))
def test_each_turn_is_a_named_run_with_its_real_tool_call(stored: Store, framework: str) -> None:
    runs = _runs(stored, SERVICES[framework])
    assert len(runs) == 2
    for run, detail in runs:
        assert detail is not None
        # The run itself, or the agent the SDK's workflow ran.
        assert run.agent_name == AGENT or run.sub_agents == (AGENT,)
        assert run.conversation_id == CONVERSATION
        assert (run.model_calls, run.tool_calls) == (2, 1)
        calls = [step for step in detail.steps if step.kind == "model call"]
        assert run.input_tokens == sum(step.input_tokens or 0 for step in calls) > 0
        (tool,) = [step for step in detail.steps if step.kind == "tool"]
        assert tool.tool_name == TOOL
        assert json.loads(tool.arguments or "{}") == {"city": "Paris"}
        assert tool.result == FORECAST and tool.error is None
        assert calls[0].tool_calls and calls[0].tool_calls[0].name == TOOL
        assert any(FORECAST in (link.text or "") for link in calls[1].tool_responses)
        if tool.tool_call_id is not None:  # Pydantic AI sends the id on the tool span
            assert calls[0].tool_calls[0].step_span_id == tool.span_id


def test_both_turns_are_one_conversation_whose_context_grows(stored: Store) -> None:
    conn = stored.reader()
    try:
        (summary,) = list_conversations(conn)
        conversation = get_conversation(conn, CONVERSATION)
        assert conversation is not None
        follow_ups = [turn for turn in conversation.turns if FOLLOW_UP in turn.question]
        change = context_change(conn, follow_ups[0].calls[0].call_id)
    finally:
        conn.close()
    # Both frameworks used the same conversation id: four turns, two per framework.
    assert summary.conversation_id == CONVERSATION and summary.turns == 4
    questions = [turn.question for turn in conversation.turns]
    assert questions.count(QUESTION) == 2 and len(follow_ups) == 2
    for turn in conversation.turns:
        sizes = [call.input_tokens or 0 for call in turn.calls]
        assert len(sizes) == 2 and sizes[1] > sizes[0]  # the tool result was added
    assert change is not None and change.previous_call_id is not None
    assert any(
        FOLLOW_UP in (part.content or "") for message in change.added for part in message.parts
    )
