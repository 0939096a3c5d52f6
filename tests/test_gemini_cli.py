"""The real Gemini CLI, run headless against a local stand-in of the Gemini API
(tests/gemini_api.py), exporting its own telemetry (OTLP/JSON over HTTP) to the real receiver.

Each prompt shows up as one turn of its session's conversation, an agent run `Gemini CLI` holding
its model calls (model, input, output, cached and thought tokens, duration, Gemini's content as
readable messages) and its tool step; a refused request is a failed call. Gemini CLI also sends
spans and `gen_ai.*` events for the same calls: no call may appear twice. Its HOME and TMPDIR are
temporary, and a proxy that refuses every host but loopback proves nothing phoned home.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.agents import get_run, list_runs
from localobs.store.calls import get_call, list_calls
from localobs.store.conversations import get_conversation
from tests.conftest import start_localobs
from tests.gemini_api import (
    ANSWER,
    CACHED_TOKENS,
    CANDIDATE_TOKENS,
    FAIL_WORD,
    PROMPT_TOKENS,
    THOUGHT,
    THOUGHT_TOKENS,
    TOOL,
    Recorded,
    gemini_stand_in,
)
from tests.node_clients import bin_path, install
from tests.refusing_proxy import proxy_env, refusing_proxy
from tests.test_grpc_up import free_port

pytestmark = pytest.mark.slow

GEMINI_CLI = {"@google/gemini-cli": "0.61.0"}  # engines: node >= 20
MODEL = "gemini-2.5-pro"
PROMPT = "Which files are in this folder?"
FOLLOW_UP = "And which of them is the newest?"
REFUSED = f"Please {FAIL_WORD} now."


def settings(otlp_endpoint: str) -> dict[str, Any]:
    """~/.gemini/settings.json as the README gives it (telemetry to localobs, prompts logged,
    usage statistics and update checks off), plus the API-key sign-in the stand-in takes."""
    return {
        "telemetry": {
            "enabled": True,
            "target": "local",
            "otlpEndpoint": otlp_endpoint,
            "otlpProtocol": "http",
            "logPrompts": True,
        },
        "privacy": {"usageStatisticsEnabled": False},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "security": {"auth": {"selectedType": "gemini-api-key"}},
    }


@dataclass
class Runs:
    store: Store
    session_id: str  # two prompts, the second resuming the session of the first
    refused_session_id: str
    api_requests: list[Recorded]
    attempts: list[str]


def _home(home: Path, settings_json: dict[str, Any]) -> Path:
    """A fresh HOME holding `settings_json`, a TMPDIR and a folder to work in."""
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings_json))
    (home / "work").mkdir()
    (home / "work" / "notes.txt").write_text("hello\n")
    (home / "tmp").mkdir()
    return home


def _run_gemini(
    gemini: Path, home: Path, prompt: str, urls: tuple[str, str], resume: str | None = None
) -> str:
    """Runs one prompt headless in a new session, or in session `resume`; `urls`: the Gemini
    stand-in's and the refusing proxy's. Returns the session id."""
    api_url, proxy_url = urls
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "GEMINI_API_KEY": "dummy",
        "GOOGLE_GEMINI_BASE_URL": api_url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",  # headless runs need a trusted folder
        **proxy_env(proxy_url),
    }
    session = resume or str(uuid.uuid4())
    done = subprocess.run(
        [str(gemini), "-p", prompt, "-m", MODEL, "--yolo"]
        + (["--resume", session] if resume else ["--session-id", session]),
        capture_output=True,
        text=True,
        cwd=home / "work",
        env=env,
        timeout=180,
    )
    if FAIL_WORD not in prompt:
        assert done.returncode == 0, done.stderr[-3000:]
        assert ANSWER in done.stdout
    else:
        assert done.returncode != 0 and "Request refused" in done.stderr, done.stderr[-3000:]
    return session


def _wait_for_calls(store: Store, count: int) -> None:
    """The CLI exports before it exits; the writer stores what the receiver took shortly after."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = store.reader()
        try:
            if len(list_calls(conn)) >= count:
                time.sleep(0.5)  # anything that would come twice has come by now
                return
        finally:
            conn.close()
        time.sleep(0.2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    gemini = bin_path(install(GEMINI_CLI), "gemini")
    store = Store(tmp_path_factory.mktemp("store") / "localobs.db")
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store, max_body=16 << 20), "127.0.0.1", 0)
    server.start()
    try:
        with gemini_stand_in() as api, refusing_proxy() as (proxy_url, attempts):
            urls = (api.url, proxy_url)
            home = _home(tmp_path_factory.mktemp("home"), settings(server.url))
            session = _run_gemini(gemini, home, PROMPT, urls)
            _run_gemini(gemini, home, FOLLOW_UP, urls, resume=session)
            home = _home(tmp_path_factory.mktemp("home"), settings(server.url))
            refused = _run_gemini(gemini, home, REFUSED, urls)
            _wait_for_calls(store, 5)
            yield Runs(store, session, refused, api.requests, attempts)
    finally:
        server.stop()
        store.close()


def test_nothing_left_the_machine_and_the_tool_really_ran(runs: Runs) -> None:
    assert runs.attempts == []
    streamed = [r for r in runs.api_requests if ":streamGenerateContent" in r.path]
    assert len(streamed) == 5  # tool call and answer for each prompt; the refused prompt
    sent_back = json.dumps(streamed[1].body["contents"][-1])
    assert "functionResponse" in sent_back and "notes.txt" in sent_back
    resumed = json.dumps(streamed[2].body["contents"])
    assert PROMPT in resumed and FOLLOW_UP in resumed  # the second prompt resumed the first


def test_each_model_call_is_stored_once_with_its_tokens(runs: Runs) -> None:
    conn = runs.store.reader()
    try:
        calls = list_calls(conn)
        usage = {
            call.call_id: conn.execute(
                "SELECT cache_read_tokens, reasoning_tokens, dialect FROM spans WHERE rowid = ?",
                (call.call_id,),
            ).fetchone()
            for call in calls
        }
    finally:
        conn.close()
    # Four calls answered, one refused; Gemini CLI's own spans for them are no extra calls.
    assert len(calls) == 5
    ok = [call for call in calls if not call.is_error]
    assert len(ok) == 4
    for call in ok:
        assert call.model == MODEL and call.service_name == "gemini-cli"
        assert call.agent_name == "Gemini CLI"
        assert (call.input_tokens, call.output_tokens) == (PROMPT_TOKENS, CANDIDATE_TOKENS)
        assert usage[call.call_id] == (CACHED_TOKENS, THOUGHT_TOKENS, "gemini_cli")
        assert call.duration_ms > 0
    (refused,) = [call for call in calls if call.is_error]
    assert refused.model == MODEL and refused.status_code == 2


def test_gemini_content_is_readable_text(runs: Runs) -> None:
    conn = runs.store.reader()
    try:
        first, second = sorted(
            (c for c in list_calls(conn) if not c.is_error), key=lambda c: c.start_time_unix_nano
        )[:2]
        asked, answered = get_call(conn, first.call_id), get_call(conn, second.call_id)
    finally:
        conn.close()
    assert asked is not None and answered is not None
    (out,) = asked.output_messages
    assert out.role == "assistant"
    assert [part.type for part in out.parts] == ["reasoning", "tool_call"]
    assert THOUGHT in (out.parts[0].content or "")
    assert out.parts[1].name == TOOL and json.loads(out.parts[1].arguments or "") == {
        "dir_path": "."
    }
    (final,) = answered.output_messages
    assert [(p.type, p.content) for p in final.parts if p.type == "text"] == [("text", ANSWER)]
    roles = [message.role for message in answered.input_messages]
    assert roles == ["user", "assistant", "tool"]
    user_text = " ".join(part.content or "" for part in answered.input_messages[0].parts)
    assert PROMPT in user_text
    (response,) = answered.input_messages[2].parts
    assert response.type == "tool_call_response" and "notes.txt" in (response.content or "")
    assert "functionResponse" not in json.dumps([str(m) for m in answered.input_messages])


def test_each_prompt_is_a_turn_an_agent_run_with_its_tool_step(runs: Runs) -> None:
    conn = runs.store.reader()
    try:
        mine = [r for r in list_runs(conn) if r.conversation_id == runs.session_id]
        details = [get_run(conn, run.run_id) for run in mine]
        conversation = get_conversation(conn, runs.session_id)
    finally:
        conn.close()
    assert len(mine) == 2
    for run, detail in zip(mine, details, strict=True):
        assert run.agent_name == "Gemini CLI"
        assert (run.model_calls, run.tool_calls) == (2, 1)
        assert run.input_tokens == 2 * PROMPT_TOKENS
        assert detail is not None
        (tool,) = [step for step in detail.steps if step.kind == "tool"]
        assert tool.tool_name == TOOL and tool.decision == "accept" and tool.error is None
        assert json.loads(tool.arguments or "") == {"dir_path": "."}
    assert conversation is not None
    assert [turn.question for turn in conversation.turns] == [PROMPT, FOLLOW_UP]
    assert [len(turn.calls) for turn in conversation.turns] == [2, 2]


def _cli(db: Path, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "localobs", *args, "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_cli_json_lists_the_calls_and_conversations(runs: Runs) -> None:
    calls = _cli(runs.store.path, "calls")
    assert len(calls) == 5
    assert {call["model"] for call in calls} == {MODEL}
    assert sorted(call["input_tokens"] or 0 for call in calls) == [0] + [PROMPT_TOKENS] * 4
    conversations = {c["conversation_id"]: c for c in _cli(runs.store.path, "conversations")}
    assert set(conversations) == {runs.session_id, runs.refused_session_id}
    mine = conversations[runs.session_id]
    assert (mine["turns"], mine["model_calls"]) == (2, 4)
    assert mine["input_tokens"] == 4 * PROMPT_TOKENS
    assert conversations[runs.refused_session_id]["errors"] == 1


def test_over_grpc_the_same_calls_arrive(tmp_path: Path) -> None:
    """otlpProtocol grpc, to `localobs up`'s gRPC listener; with `traces` on, Gemini CLI's own
    spans carry token counts too, and still no call appears twice."""
    gemini = bin_path(install(GEMINI_CLI), "gemini")
    grpc_port = free_port()
    running = start_localobs(tmp_path / "grpc.db", "--grpc-port", str(grpc_port))
    grpc = settings(f"http://127.0.0.1:{grpc_port}")
    grpc["telemetry"] |= {"otlpProtocol": "grpc", "traces": True}
    try:
        with gemini_stand_in() as api, refusing_proxy() as (proxy_url, attempts):
            home = _home(tmp_path / "home", grpc)
            session = _run_gemini(gemini, home, PROMPT, (api.url, proxy_url))
        deadline = time.monotonic() + 30
        calls: list[Any] = []
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
            calls = _cli(running.db, "calls")
    finally:
        running.stop()
    assert attempts == []
    assert len(calls) == 2
    assert [(c["model"], c["input_tokens"], c["output_tokens"]) for c in calls] == [
        (MODEL, PROMPT_TOKENS, CANDIDATE_TOKENS)
    ] * 2
    (conversation,) = _cli(running.db, "conversations")
    assert conversation["conversation_id"] == session and conversation["turns"] == 1
