"""The real Codex CLI (`codex exec`, offline against a Responses stand-in) exporting to localobs.

Codex runs one turn: the stand-in's first answer makes it run `echo hi` with its shell tool, the
second is text; then `codex exec resume --last` adds a second turn (one call) to the session. Its
own log events, traces and metrics go to a real receiver on loopback; the session must come out as
one conversation of two turns, each a Codex agent run holding its model calls (model, tokens and
TTFT as the stand-in's stream gave them) and tool steps, each exactly once, and nothing may leave
the machine. All of it over both of Codex's transports: HTTP with SSE, and the Responses API's
WebSocket (the default of OpenAI's own provider), where Codex logs other events.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localobs.receiver import create_receiver_app
from localobs.receiver.genai.codex import TTFT_SOURCE
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.agents import get_run, list_runs
from localobs.store.calls import get_call, list_calls
from localobs.store.contents import attributes_sql
from localobs.store.conversations import get_conversation
from tests.codex_cli import PROMPT, TRANSPORTS, CodexRun, run_codex
from tests.hostile import C1_CSI, CLEAR
from tests.responses_standin import (
    ANSWER_TEXT,
    MODEL,
    PAUSE_S,
    TEXT_USAGE,
    TOOL_CALL_USAGE,
    TOOL_COMMAND,
)

REPO = Path(__file__).resolve().parents[1]


# Terminal escapes and Rich markup in a prompt: stored and returned exactly as typed.
FOLLOW_UP = f"Say bye. {CLEAR}[bold red]x[/] {C1_CSI}"


@dataclass
class Ran:
    store: Store
    run: CodexRun
    resumed: CodexRun
    session_id: str
    transport: str


@pytest.fixture(scope="module", params=TRANSPORTS)
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    transport: str = request.param
    websocket = TRANSPORTS[transport]
    store = Store(tmp_path_factory.mktemp("store") / "localobs.db")
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store, max_body=16 << 20), "127.0.0.1", 0)
    server.start()
    try:
        home = tmp_path_factory.mktemp("codex")
        run = run_codex(home, server.url, websocket=websocket)
        resumed = run_codex(home, server.url, FOLLOW_UP, "resume", "--last", websocket=websocket)
        sessions = []
        for done in (run, resumed):
            assert done.completed.returncode == 0, done.completed.stderr[-3000:]
            found = re.search(r"session id: (\S+)", done.completed.stderr)
            assert found, done.completed.stderr[-3000:]
            sessions.append(found.group(1))
        assert sessions[0] == sessions[1]
        yield Ran(store, run, resumed, sessions[0], transport)
    finally:
        server.stop()
        store.close()


def test_codex_runs_the_tool_and_nothing_leaves_the_machine(ran: Ran) -> None:
    assert ANSWER_TEXT in ran.run.completed.stdout
    assert ran.run.outbound == [] and ran.resumed.outbound == []
    # Over a WebSocket each process first sends a warm-up (`generate: false`) request.
    requests, resumed = (
        [request for request in done.model.responses if request.get("generate") is not False]
        for done in (ran.run, ran.resumed)
    )
    assert len(requests) == 2 and len(resumed) == 1
    assert bool(ran.run.model.websocket_paths) == TRANSPORTS[ran.transport]
    assert any(item.get("type") == "function_call_output" for item in requests[1]["input"])
    # The turn-cost analytics call goes to the provider's URL (the stand-in), nowhere else.
    assert all(path.startswith("/v1/") for path in ran.run.model.other_paths)


def test_each_request_is_one_call_with_its_model_and_tokens(ran: Ran) -> None:
    conn = ran.store.reader()
    calls = sorted(list_calls(conn), key=lambda call: call.start_time_unix_nano)
    # Codex's own spans arrived too (its internal tracing, tokens on per-SSE-event spans):
    # they are stored, but never counted as calls a second time.
    native = conn.execute(
        "SELECT count(*) FROM spans WHERE derived_from IS NULL"
        f" AND json_extract({attributes_sql()}, '$.\"gen_ai.usage.input_tokens\"') IS NOT NULL"
    ).fetchone()[0]
    assert native == 3
    assert len(calls) == 3
    for call, usage in zip(calls, (TOOL_CALL_USAGE, TEXT_USAGE, TEXT_USAGE), strict=True):
        assert call.model == MODEL
        assert call.service_name == "codex_exec"
        assert (call.input_tokens, call.output_tokens) == (usage.input_tokens, usage.output_tokens)
        assert call.status_code == 0
        # The stand-in pauses before the first output item and again before the completion:
        # the TTFT Codex measured covers the first pause, the duration both (Codex reports whole
        # milliseconds, and the two ends come from different clocks: a few ms of slack).
        assert call.ttft_ms is not None and call.ttft_ms >= PAUSE_S * 1000 - 5
        assert call.duration_ms - call.ttft_ms >= PAUSE_S * 1000 - 5
        assert call.agent_name == "Codex"
        detail = get_call(conn, call.call_id)
        assert detail is not None and detail.dialect == "codex"
        cached, reasoning, ttft_source = conn.execute(
            "SELECT cache_read_tokens, reasoning_tokens, ttft_source FROM llm_calls"
            " WHERE call_id = ?",
            (call.call_id,),
        ).fetchone()
        assert (cached, reasoning) == (usage.cached_tokens, usage.reasoning_tokens)
        assert ttft_source == TTFT_SOURCE


def test_each_turn_is_a_codex_run_the_first_with_its_tool_step(ran: Ran) -> None:
    conn = ran.store.reader()
    runs = sorted(list_runs(conn), key=lambda run: run.start_time_unix_nano)
    assert [(run.agent_name, run.conversation_id) for run in runs] == [
        ("Codex", ran.session_id)
    ] * 2
    assert [(run.model_calls, run.tool_calls, run.errors) for run in runs] == [(2, 1, 0), (1, 0, 0)]
    detail = get_run(conn, runs[0].run_id)
    assert detail is not None
    tools = [step for step in detail.steps if step.kind == "tool"]
    assert len(tools) == 1
    tool = tools[0]
    assert tool.tool_name is not None and tool.tool_call_id is not None
    assert tool.arguments is not None and TOOL_COMMAND in tool.arguments
    assert tool.result is not None and "hi" in tool.result.splitlines()
    assert tool.decision == "approved" and tool.error is None
    steps = [step.kind for step in detail.steps]
    assert steps.index("tool") > steps.index("model call")  # it ran between the two calls


def test_the_session_is_one_conversation_whose_turns_hold_the_prompts(ran: Ran) -> None:
    conversation = get_conversation(ran.store.reader(), ran.session_id)
    assert conversation is not None
    assert conversation.summary.model_calls == 3
    first, second = conversation.turns
    assert (first.kind, first.name, first.question) == ("agent", "Codex", PROMPT)
    assert (second.kind, second.name, second.question) == ("agent", "Codex", FOLLOW_UP)
    assert [call.input_tokens for call in first.calls] == [
        TOOL_CALL_USAGE.input_tokens,
        TEXT_USAGE.input_tokens,
    ]
    assert [call.input_tokens for call in second.calls] == [TEXT_USAGE.input_tokens]


def test_log_rows_are_named_by_codex_event_names(ran: Ran) -> None:
    names = {name for (name,) in ran.store.reader().execute("SELECT DISTINCT event_name FROM logs")}
    request = "codex.websocket_request" if TRANSPORTS[ran.transport] else "codex.api_request"
    assert {"codex.user_prompt", request, "codex.sse_event", "codex.tool_result"} <= names
    located = {name for name in names if name and name.startswith("event ")}
    # Only records with no event.name attribute keep the location Codex put in event_name.
    assert all("metrics" in name for name in located), located


def _cli(*args: str, db: Path) -> object:
    done = subprocess.run(
        [sys.executable, "-m", "localobs", *args, "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_cli_lists_the_calls_their_stats_and_the_conversation(ran: Ran) -> None:
    db = ran.store.path
    calls = _cli("calls", db=db)
    assert isinstance(calls, list)
    assert sorted(
        (call["model"], call["input_tokens"], call["output_tokens"]) for call in calls
    ) == [
        (MODEL, TOOL_CALL_USAGE.input_tokens, TOOL_CALL_USAGE.output_tokens),
        (MODEL, TEXT_USAGE.input_tokens, TEXT_USAGE.output_tokens),
        (MODEL, TEXT_USAGE.input_tokens, TEXT_USAGE.output_tokens),
    ]
    stats = _cli("stats", "--window", "all", db=db)
    assert isinstance(stats, dict)
    (per_model,) = stats["totals"]["per_model"]
    assert (per_model["model"], per_model["calls"], per_model["input_tokens"]) == (
        MODEL,
        3,
        TOOL_CALL_USAGE.input_tokens + 2 * TEXT_USAGE.input_tokens,
    )
    conversations = _cli("conversations", db=db)
    assert isinstance(conversations, list)
    assert [(c["conversation_id"], c["turns"], c["model_calls"]) for c in conversations] == [
        (ran.session_id, 2, 3)
    ]
