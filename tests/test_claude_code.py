"""The real Claude Code CLI (npm, pinned) against a local stand-in of the Anthropic API,
exporting its telemetry to the real receiver: its log events become model calls, a tool step, a
decision and a turn in a conversation, its metrics the agent's figures in `localobs stats`.

Two runs: one whose model asks for three tools in turn (`echo`, writing a file, committing it in
a git repository of its own; OTLP over http/protobuf, with its beta traces on), and one whose
only request the stand-in refuses (OTLP over http/json). Both behind a proxy that
refuses every other host: the test fails if the CLI tried to reach anything else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.agents import get_run, list_runs
from localobs.store.coding_agents import CodingAgentTotals, coding_agent_totals
from localobs.store.conversations import get_conversation
from tests.anthropic_standin import ANSWER, ECHO, TOOL_COMMAND, USAGE, anthropic_standin
from tests.node_clients import bin_path, install
from tests.refusing_proxy import proxy_env, refusing_proxy

pytestmark = pytest.mark.slow

CLAUDE_CODE = {"@anthropic-ai/claude-code": "2.1.197"}  # the last release allowing Node 20
PROMPT = "Run echo for me"
FAILING_PROMPT = "This one will fail"
REPO = Path(__file__).resolve().parent.parent
NOTES = "one\ntwo\nthree\n"
GIT_USER = {
    "GIT_AUTHOR_NAME": "localobs test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "localobs test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def _tools(work: Path) -> list[tuple[str, dict[str, Any]]]:
    """What the stand-in's model asks for, in turn: its metrics count lines and commits."""
    commit = {
        "command": "git add notes.txt && git commit -q -m 'Add notes'",
        "description": "Commit",
    }
    return [
        ECHO,
        ("Write", {"file_path": str(work / "notes.txt"), "content": NOTES}),
        ("Bash", commit),
    ]


@dataclass
class Run:
    result: dict[str, Any]  # the CLI's --output-format json answer

    @property
    def session_id(self) -> str:
        return str(self.result["session_id"])


@dataclass
class Captured:
    store: Store
    db: Path
    tool_run: Run
    failed_run: Run
    work: Path  # the tool run's working directory
    attempts: list[str]
    api_paths: list[str]


def _env(home: Path, api_url: str, receiver_url: str, protocol: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": "dummy",
        # Every other outbound feature off (the proxy proves it).
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        # Telemetry to localobs, flushed quickly.
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_LOGS_EXPORT_INTERVAL": "500",
        "OTEL_LOG_USER_PROMPTS": "1",
        "OTEL_LOG_TOOL_DETAILS": "1",
        **GIT_USER,
    }


def _claude(claude: Path, work: Path, env: dict[str, str], prompt: str) -> Run:
    done = subprocess.run(
        [
            str(claude),
            "-p",
            prompt,
            "--output-format",
            "json",
            "--allowedTools",
            "Bash(echo:*)",
            "Bash(git add:*)",
            "Bash(git commit:*)",
            "Write",
            "--max-turns",
            "6",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.stdout, done.stderr[-3000:]
    return Run(json.loads(done.stdout.strip().splitlines()[-1]))


def _wait_for(store: Store, sql: str, wanted: int, timeout: float = 30) -> None:
    """The CLI flushes its exporters on exit; the writer commits a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        conn = store.reader()
        try:
            found = conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
        if found >= wanted or time.monotonic() > deadline:
            assert found >= wanted, f"{sql}: {found} < {wanted}"
            return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    claude = bin_path(install(CLAUDE_CODE), "claude")
    base = tmp_path_factory.mktemp("claude")
    db = base / "localobs.db"
    store = Store(db)
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store, max_body=16 << 20), "127.0.0.1", 0)
    server.start()
    try:
        with anthropic_standin() as api, refusing_proxy() as (proxy_url, attempts):
            runs = []
            for name, protocol, fail, prompt in (
                ("tool", "http/protobuf", None, PROMPT),
                ("failed", "http/json", 400, FAILING_PROMPT),
            ):
                home, work = base / f"home-{name}", base / f"work-{name}"
                (home / "tmp").mkdir(parents=True)
                work.mkdir()
                env = _env(home, api.url, server.url, protocol) | proxy_env(proxy_url)
                api.tools = _tools(work)
                if name == "tool":  # its beta traces too: they must not count calls twice
                    subprocess.run(["git", "init", "-q"], cwd=work, check=True, env=env)
                    env |= {
                        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
                        "OTEL_TRACES_EXPORTER": "otlp",
                        "OTEL_TRACES_EXPORT_INTERVAL": "500",
                    }
                api.fail_next = fail
                runs.append(_claude(claude, work, env, prompt))
            _wait_for(store, "SELECT count(*) FROM logs WHERE event_name = 'api_request'", 4)
            _wait_for(store, "SELECT count(*) FROM logs WHERE event_name = 'api_error'", 1)
            _wait_for(
                store, "SELECT count(*) FROM metric_points WHERE name LIKE 'claude_code.%'", 1
            )
            _wait_for(store, "SELECT count(*) FROM spans WHERE name LIKE 'claude_code.%'", 1)
            _wait_for(
                store,
                "SELECT count(*) FROM metric_points WHERE name = 'claude_code.commit.count'",
                1,
            )
            yield Captured(
                store, db, runs[0], runs[1], base / "work-tool", list(attempts), list(api.paths)
            )
    finally:
        server.stop()
        store.close()


def _cli(db: Path, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "localobs", *args, "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_cli_ran_offline_and_as_scripted(captured: Captured) -> None:
    assert captured.attempts == []  # nothing tried to leave the machine
    assert captured.tool_run.result["result"] == ANSWER
    assert captured.failed_run.result["is_error"] is True
    assert captured.api_paths.count("POST /v1/messages?beta=true") == 5
    # Its tools really ran: the file is written and committed.
    assert (captured.work / "notes.txt").read_text() == NOTES
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=captured.work, capture_output=True, text=True
    )
    assert log.stdout.strip() == "Add notes"


def test_each_request_is_a_model_call_with_its_tokens_cache_and_reported_cost(
    captured: Captured,
) -> None:
    calls = _cli(captured.db, "calls", "--limit", "50")
    ok = [call for call in calls if call["error_type"] is None]
    assert len(calls) == 5 and len(ok) == 4  # the traces' llm_request spans are not calls
    for call in ok:
        assert call["provider"] == "anthropic" and call["operation"] == "chat"
        assert call["model"].startswith("claude-")
        assert call["service_name"] == "claude-code"
        assert (call["input_tokens"], call["output_tokens"]) == (
            USAGE["input_tokens"],
            USAGE["output_tokens"],
        )
        assert call["cost_source"] == "reported" and call["cost_usd"] > 0
        assert call["duration_ms"] > 0
    # What the calls JSON does not list yet: the cache columns and the reported cost.
    conn = captured.store.reader()
    try:
        rows = conn.execute(
            "SELECT cache_read_tokens, cache_write_tokens, reported_cost_usd, dialect,"
            " derived_from FROM llm_calls WHERE error_type IS NULL"
        ).fetchall()
    finally:
        conn.close()
    total_reported = captured.tool_run.result["total_cost_usd"]
    assert [row[:2] for row in rows] == [
        (USAGE["cache_read_input_tokens"], USAGE["cache_creation_input_tokens"])
    ] * 4
    assert sum(row[2] for row in rows) == pytest.approx(total_reported)
    assert {row[3:] for row in rows} == {("claude_code", "logs")}


def test_a_refused_request_is_an_errored_call(captured: Captured) -> None:
    (failed,) = _cli(captured.db, "calls", "--errors")
    assert failed["error_type"] == "400" and failed["status_code"] == 2
    assert failed["input_tokens"] is None  # no usage was reported: none is made up


def test_each_prompt_is_a_claude_code_run_with_its_tool_step(captured: Captured) -> None:
    conn = captured.store.reader()
    try:
        runs = {run.conversation_id: run for run in list_runs(conn)}
        run = runs[captured.tool_run.session_id]
        detail = get_run(conn, run.run_id)
    finally:
        conn.close()
    assert detail is not None
    assert run.agent_name == "Claude Code"
    assert (run.model_calls, run.tool_calls) == (4, 3)
    assert run.input_tokens == 4 * USAGE["input_tokens"]
    tools = [step for step in detail.steps if step.kind == "tool"]
    assert [tool.tool_name for tool in tools] == ["Bash", "Write", "Bash"]
    echo = tools[0]
    assert json.loads(echo.arguments or "{}")["command"] == TOOL_COMMAND
    for tool in tools:
        assert tool.error is None and tool.duration_ms > 0
        assert tool.decision == "accept (config)"  # its tool_decision event, on the same step
    kinds = [step.kind for step in detail.steps]
    assert kinds == ["agent", *["model call", "tool"] * 3, "model call"]  # in time order
    failed = runs[captured.failed_run.session_id]
    assert failed.model_calls == 1 and failed.errors >= 1


def test_each_session_is_a_conversation_whose_turn_shows_the_prompt(captured: Captured) -> None:
    listed = {c["conversation_id"]: c for c in _cli(captured.db, "conversations")}
    summary = listed[captured.tool_run.session_id]
    assert (summary["turns"], summary["model_calls"]) == (1, 4)
    conn = captured.store.reader()
    try:
        conversation = get_conversation(conn, captured.failed_run.session_id)
        shown = _cli(captured.db, "conversation", captured.tool_run.session_id)
    finally:
        conn.close()
    assert conversation is not None and conversation.turns[0].question == FAILING_PROMPT
    assert PROMPT in json.dumps(shown)


def test_its_metrics_are_the_agents_own_figures_in_stats(captured: Captured) -> None:
    conn = captured.store.reader()
    try:
        (found,) = coding_agent_totals(conn, time.time_ns, None)
    finally:
        conn.close()
    assert isinstance(found, CodingAgentTotals) and found.agent == "Claude Code"
    usage = captured.tool_run.result["usage"]
    assert found.input_tokens == usage["input_tokens"]
    assert found.output_tokens == usage["output_tokens"]
    assert found.cache_read_tokens == usage["cache_read_input_tokens"]
    assert found.cache_write_tokens == usage["cache_creation_input_tokens"]
    assert found.cost_usd == pytest.approx(captured.tool_run.result["total_cost_usd"])
    assert found.sessions is not None and found.sessions >= 1
    assert found.active_time_s is not None and found.active_time_s > 0
    # Claude Code counts the text's pieces between newlines: the empty one after the last too.
    assert (found.lines_added, found.lines_removed, found.commits) == (NOTES.count("\n") + 1, 0, 1)
    stats = _cli(captured.db, "stats")
    (agent,) = stats["coding_agents"]
    assert agent["agent"] == "Claude Code" and agent["input_tokens"] == usage["input_tokens"]
    text = subprocess.run(
        [sys.executable, "-m", "localobs", "stats", "--db", str(captured.db)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    ).stdout
    assert "Claude Code: " in text and "reported (the same spending as its calls)" in text
