"""The demo bot end to end: a real `python -m demo_bot` run with real llama.cpp inference,
exporting over OTLP/HTTP to a real `localobs up --headless`, checked in the SQLite file."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo_bot.dataset import load_questions, load_sessions
from demo_bot.flow import FOLLOW_UPS
from localobs.store.agents import get_run, list_runs
from localobs.store.contents import attributes_sql
from localobs.store.conversations import get_conversation, list_conversations
from tests.conftest import start_localobs

pytestmark = pytest.mark.slow

QUESTION = load_questions()[0]  # the first visitor's first question, then a follow-up
LISTED = re.compile(r"^\s+\d+\. (?P<title>.+) \([^()]+, (?:beginner|intermediate|advanced)\)")
BOT_TIMEOUT_S = 240


@dataclass(frozen=True)
class BotRun:
    db: Path
    stdout: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BotRun]:
    """One bot run with content capture (a question and its follow-up) and one with
    --no-content (one question), each into its own store.

    Both run at once: most of a run is single-threaded start-up (imports, the index).
    """
    flags = {"content": ("--questions", "2"), "no_content": ("--questions", "1", "--no-content")}
    env = {**os.environ}
    env.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
    env.pop("OTEL_SDK_DISABLED", None)
    receivers = {
        name: start_localobs(tmp_path_factory.mktemp(name) / "localobs.db") for name in flags
    }
    bots: dict[str, subprocess.Popen[str]] = {}
    try:
        bots = {
            name: subprocess.Popen(
                [sys.executable, "-m", "demo_bot", "--max-tokens", "12", *extra],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": receivers[name].url},
            )
            for name, extra in flags.items()
        }
        outputs = {name: bot.communicate(timeout=BOT_TIMEOUT_S) for name, bot in bots.items()}
        for name, bot in bots.items():
            assert bot.returncode == 0, "".join(outputs[name])
    finally:
        for bot in bots.values():
            if bot.poll() is None:
                bot.kill()
        for receiver in receivers.values():
            assert receiver.stop() == 0
    return {name: BotRun(receivers[name].db, outputs[name][0]) for name in flags}


def _stored(db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        tables = [
            [dict(row) for row in conn.execute(f"SELECT * FROM {table}")]
            for table in ("spans", "logs", "metric_points")
        ]
        # Message columns hold references to stored-once content: their text is read, as
        # docs/schema.md says, through the llm_calls view.
        texts = {
            row["span_id"]: dict(row)
            for row in conn.execute(
                "SELECT span_id, input_messages, output_messages FROM llm_calls"
            )
        }
        # Attributes as sent: those a typed column holds are put back from it (docs/schema.md).
        sent = {
            (trace_id, span_id): attributes
            for trace_id, span_id, attributes in conn.execute(
                f"SELECT trace_id, span_id, {attributes_sql()} FROM spans"
            )
        }
    finally:
        conn.close()
    for span in tables[0]:
        span.update(texts.get(span["span_id"], {}))
    for span in tables[0]:
        span["attrs"] = json.loads(sent[span["trace_id"], span["span_id"]] or "{}")
    return tables[0], tables[1], tables[2]


def _all_text(db: Path) -> str:
    """Every stored byte: the database file and its WAL, plus every text value read via SQL."""
    raw = b"".join(p.read_bytes() for p in db.parent.glob(f"{db.name}*"))
    conn = sqlite3.connect(db)
    try:
        values: list[str] = []
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )  # a virtual (full-text) table is read through its shadow tables, and the raw bytes
        for (table,) in tables.fetchall():
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                values.extend(v for v in row if isinstance(v, str))
    finally:
        conn.close()
    return raw.decode("utf-8", errors="replace") + "\n".join(values)


def _start(span: dict[str, Any]) -> int:
    return int(span["start_time_unix_nano"])


def _children(spans: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in spans if s["parent_span_id"] == parent["span_id"]]


def test_a_question_round_fills_the_store_with_one_semconv_trace(runs: dict[str, BotRun]) -> None:
    spans, logs, metric_points = _stored(runs["content"].db)

    roots = sorted((s for s in spans if not s["parent_span_id"]), key=_start)
    assert len(roots) == 2, "one trace per question"
    root = roots[0]
    assert root["name"] == "invoke_agent session-recommender"
    assert root["attrs"]["gen_ai.operation.name"] == "invoke_agent"
    assert len({s["trace_id"] for s in spans}) == 2
    spans = [s for s in spans if s["trace_id"] == root["trace_id"]]
    assert all(s["service_name"] == "session-bot" for s in spans)

    retrievals = [s for s in spans if s["attrs"].get("gen_ai.operation.name") == "retrieval"]
    assert retrievals and all(s["parent_span_id"] == root["span_id"] for s in retrievals)
    for retrieval in retrievals:
        (embedding,) = _children(spans, retrieval)
        assert embedding["name"] == "embeddings all-MiniLM-L6-v2"
        assert embedding["attrs"]["gen_ai.operation.name"] == "embeddings"
        assert embedding["attrs"]["gen_ai.usage.input_tokens"] > 0

    chats = [s for s in spans if s["attrs"].get("gen_ai.operation.name") == "chat"]
    assert len(chats) >= 2
    for chat in chats:
        attrs = chat["attrs"]
        assert chat["name"] == f"chat {attrs['gen_ai.request.model']}"
        assert chat["kind"] == 3  # SPAN_KIND_CLIENT
        assert attrs["gen_ai.provider.name"] == "llama.cpp"
        assert attrs["gen_ai.request.seed"] == 42
        assert attrs["gen_ai.response.id"] and attrs["gen_ai.response.model"]
        assert attrs["gen_ai.response.finish_reasons"]
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert 0 < attrs["llama_cpp.context_used"] <= attrs["llama_cpp.context_size"]
        assert attrs["llama_cpp.generation_tokens_per_s"] > 0
        # Captured content, wherever the store keeps it (attributes or its GenAI columns).
        assert QUESTION in (chat["input_messages"] or attrs.get("gen_ai.input.messages", ""))
        assert chat["output_messages"] or attrs.get("gen_ai.output.messages")
        assert chat["system_instructions"] or attrs.get("gen_ai.system_instructions")

    steps = {s["span_id"]: s["name"] for s in spans if s["parent_span_id"] == root["span_id"]}
    assert {"judge", "evaluate", "respond"} <= set(steps.values())
    (responder,) = [c for c in chats if steps.get(c["parent_span_id"]) == "respond"]
    assert responder["attrs"]["gen_ai.response.time_to_first_chunk"] > 0
    assert responder["attrs"]["llama_cpp.usage_source"] == "tokenizer"
    judges = [c for c in chats if steps.get(c["parent_span_id"]) == "judge"]
    assert judges and all(j["attrs"]["llama_cpp.usage_source"] == "llama.cpp" for j in judges)

    # The answer lists only sessions of the dataset, the same ones the trace records.
    sessions = {s.title: s for s in load_sessions()}
    stdout = runs["content"].stdout.split(f"> {FOLLOW_UPS[0]}")[0]  # the first answer
    listed = [m["title"] for line in stdout.splitlines() if (m := LISTED.match(line))]
    assert listed and all(title in sessions for title in listed)
    assert [sessions[t].id for t in listed] == root["attrs"]["session_bot.session_ids"]

    assert any(log["trace_id"] == root["trace_id"] and log["span_id"] for log in logs)
    names = {m["name"] for m in metric_points}
    assert {
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.server.time_per_output_token",
    } <= names
    (usage,) = {m["explicit_bounds"] for m in metric_points if m["name"].endswith("token.usage")}
    assert json.loads(usage)[:4] == [1, 4, 16, 64]


def test_the_follow_up_is_a_second_turn_of_the_same_conversation(runs: dict[str, BotRun]) -> None:
    """The agent runs, the retrieval as a step with its query and results, and one
    conversation whose second turn's answer was sent the first turn (its context grew)."""
    conn = sqlite3.connect(runs["content"].db)
    try:
        runs_found = list_runs(conn)
        (summary,) = list_conversations(conn)
        conversation = get_conversation(conn, summary.conversation_id)
        first_run = get_run(conn, runs_found[-1].run_id)
    finally:
        conn.close()
    assert [run.agent_name for run in runs_found] == ["session-recommender"] * 2
    assert all(run.model_calls >= 2 and run.input_tokens for run in runs_found)
    assert summary.turns == 2 and conversation is not None
    first, second = conversation.turns
    assert QUESTION in first.question and FOLLOW_UPS[0] in second.question
    assert first.run_id == runs_found[-1].run_id and second.run_id == runs_found[0].run_id
    assert first_run is not None
    retrievals = [step for step in first_run.steps if step.kind == "retrieval"]
    assert retrievals and QUESTION in (retrievals[0].arguments or "")
    assert '"id"' in (retrievals[0].result or "")
    # The follow-up's answer was sent the first turn too: its context is larger.
    assert (second.calls[-1].input_tokens or 0) > (first.calls[-1].input_tokens or 0) > 0


def test_no_content_sends_no_message_text_at_all(runs: dict[str, BotRun]) -> None:
    db = runs["no_content"].db
    spans, logs, _ = _stored(db)
    assert len([s for s in spans if s["attrs"].get("gen_ai.operation.name") == "chat"]) >= 2
    assert logs, "log lines still go out, without content"

    stored = _all_text(db)
    for text in [QUESTION, "observability for LLM", "program assistant", "Rate each session"]:
        assert text not in stored
    assert not [s.title for s in load_sessions() if s.title in stored]
