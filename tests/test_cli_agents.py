"""`localobs agents`, `agent`, `conversations` and `conversation` on payloads sent to the real
receiver: the JSON keys scripts rely on, the tree, and sent text printed inertly."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from localobs.cli import main
from tests.agent_payloads import (
    ARGUMENTS,
    CONVERSATION,
    DIALECTS,
    RESULT,
    TOOL,
    USAGE,
    genai_conversation,
)
from tests.conftest import RunningReceiver

RUN_KEYS = {
    "run_id",
    "trace_id",
    "agent_name",
    "conversation_id",
    "model_calls",
    "tool_calls",
    "input_tokens",
    "output_tokens",
    "duration_ms",
    "error",
}
TOOL_STEP_KEYS = {"tool_name", "arguments", "result", "duration_ms", "error"}
CONVERSATION_KEYS = {
    "conversation_id",
    "turns",
    "model_calls",
    "input_tokens",
    "output_tokens",
    "first_seen",
    "last_seen",
}


@pytest.fixture
def sent(receiver: RunningReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    response = httpx.post(
        f"{receiver.url}/v1/traces",
        content=DIALECTS["genai"](),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    monkeypatch.setenv("LOCALOBS_DB", str(receiver.store.path))


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json"))


def test_agents_json_has_the_documented_keys(sent: None) -> None:
    runs = run_json("agents")
    assert len(runs) == 2
    assert all(set(item) >= RUN_KEYS for item in runs)
    first = runs[1]
    assert (first["agent_name"], first["conversation_id"]) == ("weather", CONVERSATION)
    assert (first["model_calls"], first["tool_calls"]) == (2, 3)
    assert first["input_tokens"] == USAGE[0][0] + USAGE[1][0]
    assert len(run_json("agents", "--limit", "1")) == 1
    assert run_json("agents", "--since", "1h") == []  # the payload is from 2026-05


def test_agent_json_is_the_tree_with_tool_steps(sent: None) -> None:
    run_id = run_json("agents")[1]["run_id"]
    tree = run_json("agent", run_id)
    assert RUN_KEYS | {"steps"} <= set(tree)
    tools = [step for step in tree["steps"] if step["kind"] == "tool"]
    assert len(tools) == 3 and all(set(step) >= TOOL_STEP_KEYS for step in tools)
    assert (tools[0]["tool_name"], tools[0]["arguments"], tools[0]["result"]) == (
        TOOL,
        ARGUMENTS,
        RESULT,
    )
    assert tree["transitions"][0]["is_loop"] is True


def test_agent_text_marks_the_loop(sent: None) -> None:
    run_id = run_json("agents")[1]["run_id"]
    text = run("agent", run_id)
    assert f"tool: {TOOL}" in text and "LOOP" in text
    assert "Paris" in text and RESULT in text


def test_unknown_run_is_a_clear_error(sent: None) -> None:
    result = CliRunner().invoke(main, ["agent", "ffffffffffffffff"])
    assert result.exit_code == 1 and "no agent run ffffffffffffffff" in result.output


def test_conversations_json_and_one_conversation(sent: None) -> None:
    (summary,) = run_json("conversations")
    assert set(summary) >= CONVERSATION_KEYS
    assert (summary["turns"], summary["model_calls"]) == (2, 3)
    assert summary["first_seen"].startswith("2026-")
    detail = run_json("conversation", CONVERSATION)
    assert set(detail) >= CONVERSATION_KEYS
    assert [turn["number"] for turn in detail["turns"]] == [1, 2]
    assert [call["input_tokens"] for call in detail["turns"][0]["calls"]] == [
        USAGE[0][0],
        USAGE[1][0],
    ]
    text = run("conversation", CONVERSATION)
    assert "What is the weather in Paris?" in text and "context 30" in text


def test_sent_text_cannot_drive_the_terminal(receiver: RunningReceiver, monkeypatch: Any) -> None:
    hostile = "evil\x1b]0;owned\x07\x1b[2J"
    payload = genai_conversation(agent=hostile)
    assert (
        httpx.post(
            f"{receiver.url}/v1/traces",
            content=payload,
            headers={"Content-Type": "application/json"},
        ).status_code
        == 200
    )
    monkeypatch.setenv("LOCALOBS_DB", str(receiver.store.path))
    text = run("agents")
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b]0;owned\\x07" in text
