"""Gemini CLI's telemetry as captured (tests/fixtures/gemini_cli/otlp.json: its OTLP/JSON bodies
from two real headless runs), sent to the real receiver: its log events become calls, tool steps
and turns, its own spans and `gen_ai.*` events add no call, and hostile values in its events cost
nothing but themselves. The real CLI itself runs in test_gemini_cli.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from localobs.cli import main
from localobs.receiver.faults import FAULTS
from localobs.receiver.genai.gemini_content import from_contents, from_stream
from localobs.store.agents import get_run, list_runs
from localobs.store.calls import get_call, list_calls
from localobs.store.conversations import get_conversation
from tests.conftest import RunningReceiver
from tests.hostile import CLEAR, SHOWN_PROMPT

CAPTURED = json.loads(
    (Path(__file__).parent / "fixtures" / "gemini_cli" / "otlp.json").read_text(encoding="utf-8")
)
SESSION = "0a43f9cb-4f5b-4e0e-9a5c-000000000000"  # a session of its own per test body


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        record
        for resource in body["resourceLogs"]
        for scope in resource["scopeLogs"]
        for record in scope["logRecords"]
    ]


def _attr(record: dict[str, Any], key: str) -> Any:
    return next((a["value"] for a in record["attributes"] if a["key"] == key), None)


def _set(record: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    record["attributes"] = [a for a in record["attributes"] if a["key"] != key]
    record["attributes"].append({"key": key, "value": value})


def _event(record: dict[str, Any]) -> str:
    return str(_attr(record, "event.name")["stringValue"])


def _post(receiver: RunningReceiver, signal: str, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{receiver.url}/v1/{signal}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    assert "partialSuccess" not in answer.json() or not answer.json()["partialSuccess"]


def _send_captured(receiver: RunningReceiver, logs: dict[str, Any] | None = None) -> None:
    _post(receiver, "traces", CAPTURED["traces"])
    _post(receiver, "logs", logs or CAPTURED["logs"])
    _post(receiver, "metrics", CAPTURED["metrics"])


def _session_of(prompt_word: str) -> str:
    for record in _records(CAPTURED["logs"]):
        prompt = _attr(record, "prompt")
        if _event(record) == "gemini_cli.user_prompt" and prompt_word in prompt["stringValue"]:
            return str(_attr(record, "session.id")["stringValue"])
    raise AssertionError(prompt_word)


def test_captured_calls_tool_and_turns_each_stored_once(receiver: RunningReceiver) -> None:
    _send_captured(receiver)
    _send_captured(receiver)  # the same bodies again: nothing twice
    session = _session_of("Which files")
    conn = receiver.store.reader()
    try:
        calls = list_calls(conn)
        own_spans = conn.execute(
            "SELECT count(*), count(operation) FROM spans WHERE name = 'llm_call'"
        ).fetchone()
        dialects = {
            row[0] for row in conn.execute("SELECT dialect FROM spans WHERE operation IS NOT NULL")
        }
        (run,) = [r for r in list_runs(conn) if r.conversation_id == session and r.tool_calls]
        detail = get_run(conn, run.run_id)
        conversation = get_conversation(conn, session)
        refused = get_call(conn, next(c.call_id for c in calls if c.is_error))
        points = conn.execute("SELECT count(*) FROM metric_points").fetchone()[0]
        metrics = {row[0] for row in conn.execute("SELECT DISTINCT name FROM metric_points")}
    finally:
        conn.close()
    # Everything it sends is taken: its metrics (sums and histograms, empty values) too.
    assert points >= 10 and {"gemini_cli.token.usage", "gen_ai.client.token.usage"} <= metrics
    # Three calls answered or refused; Gemini CLI's three llm_call spans are stored, no call.
    assert len(calls) == 3 and own_spans == (3, 0) and dialects == {"gemini_cli"}
    assert (run.agent_name, run.model_calls, run.tool_calls) == ("Gemini CLI", 2, 1)
    assert detail is not None
    (tool,) = [step for step in detail.steps if step.kind == "tool"]
    assert (tool.tool_name, tool.arguments, tool.decision) == (
        "list_directory",
        '{"dir_path":"."}',
        "accept",
    )
    assert conversation is not None and [t.question for t in conversation.turns] == [
        "Which files are in this folder?"
    ]
    assert refused is not None and refused.error_type == "ApiError"
    assert "Request refused" in (refused.status_message or "")
    assert [m.role for m in refused.input_messages] == ["user"]


def _hostile_logs() -> dict[str, Any]:
    """The captured logs with every value a mapper reads made hostile or malformed."""
    logs = copy.deepcopy(CAPTURED["logs"])
    deep = "[" * 3000 + "]" * 3000
    for record in _records(logs):
        _set(record, "session.id", {"stringValue": SESSION})
        name = _event(record)
        if name == "gemini_cli.user_prompt":
            _set(record, "prompt", {"stringValue": f"BEFORE {CLEAR} [bold red]x[/] \x9b31m AFTER"})
        elif name == "gemini_cli.api_request":
            _set(record, "request_text", {"stringValue": deep})
        elif name == "gemini_cli.api_response":
            _set(record, "input_token_count", {"stringValue": "12"})
            _set(record, "output_token_count", {"intValue": "-5"})
            _set(record, "cached_content_token_count", {"doubleValue": 1e30})
            _set(record, "thoughts_token_count", {"boolValue": True})
            _set(record, "duration_ms", {"stringValue": "soon"})
            _set(record, "response_text", {"stringValue": '{"candidates": "x"'})
            _set(record, "model", {"arrayValue": {"values": [{"stringValue": "m"}]}})
        elif name == "gemini_cli.tool_call":
            _set(record, "function_args", {"stringValue": deep})
            _set(record, "success", {"stringValue": "false"})
            _set(record, "prompt_id", {"intValue": "7"})
        elif name == "gemini_cli.api_error":
            _set(record, "error.message", {"kvlistValue": {"values": []}})
            _set(record, "duration_ms", {"doubleValue": -1e300})
    return logs


def test_hostile_values_cost_only_themselves(receiver: RunningReceiver) -> None:
    before = FAULTS.counts()
    logs = _hostile_logs()
    _send_captured(receiver, logs)
    conn = receiver.store.reader()
    try:
        stored_logs = conn.execute("SELECT count(*) FROM logs").fetchone()[0]
        calls = [c for c in list_calls(conn) if get_call(conn, c.call_id) is not None]
        mine = conn.execute(
            "SELECT input_tokens, output_tokens, cache_read_tokens, reasoning_tokens"
            " FROM spans WHERE conversation_id = ? AND span_role = 'llm' AND status_code = 1",
            (SESSION,),
        ).fetchall()
    finally:
        conn.close()
    assert stored_logs == len(_records(logs))  # every record kept as sent
    assert FAULTS.counts() == before  # no mapper failed on them
    assert len(calls) == 3
    assert mine and all(row == (12, None, None, None) for row in mine)
    shown = CliRunner().invoke(
        main, ["conversation", SESSION, "--db", str(receiver.store.path)], catch_exceptions=False
    )
    assert shown.exit_code == 0, shown.output
    assert SHOWN_PROMPT in shown.output and "\x1b" not in shown.output


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (
            [
                {"candidates": [{"content": {"parts": [{"text": "a", "thought": True}]}}]},
                {"candidates": [{"content": {"parts": [{"text": "b", "thought": True}]}}]},
                {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]},
                {"candidates": [{"content": {"parts": [{"text": "lo"}]}, "finishReason": "STOP"}]},
            ],
            [
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "reasoning", "content": "ab"},
                        {"type": "text", "content": "Hello"},
                    ],
                    "finish_reason": "stop",
                }
            ],
        ),
        (
            "not json at all",
            [{"role": "assistant", "parts": [{"type": "text", "content": "not json at all"}]}],
        ),
        ([{"candidates": "x"}, 7, None], []),
    ],
)
def test_a_streamed_answer_is_one_readable_message(chunks: Any, expected: Any) -> None:
    assert from_stream(chunks) == expected


def test_gemini_contents_become_messages_by_part_type() -> None:
    contents = [
        {
            "role": "user",
            "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "image/png", "data": "QUJD"}}],
        },
        {
            "role": "model",
            "parts": [{"functionCall": {"id": "1", "name": "ls", "args": {"p": "."}}}],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "1", "name": "ls", "response": {"output": "a.txt"}}}
            ],
        },
        {
            "role": "model",
            "parts": [
                {"fileData": {"mimeType": "text/plain", "fileUri": "gs://b/f"}},
                {"executableCode": {"code": "print(1)"}},
            ],
        },
        "plain",
    ]
    assert from_contents(contents) == [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "hi"},
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "QUJD"},
            ],
        },
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "1", "name": "ls", "arguments": {"p": "."}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "1", "response": {"output": "a.txt"}}],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "uri", "modality": None, "mime_type": "text/plain", "uri": "gs://b/f"},
                {"type": "generic", "content": '{"executableCode":{"code":"print(1)"}}'},
            ],
        },
        {"role": "user", "parts": [{"type": "text", "content": "plain"}]},
    ]


def test_a_failed_tool_and_a_response_without_its_request(receiver: RunningReceiver) -> None:
    """A tool that failed is a failed step with Gemini CLI's error; a response whose request
    never arrived (sent before localobs started) is a call without its input, nothing worse."""
    logs = copy.deepcopy(CAPTURED["logs"])
    session = "0a43f9cb-4f5b-4e0e-9a5c-000000000001"
    for scope in (s for r in logs["resourceLogs"] for s in r["scopeLogs"]):
        scope["logRecords"] = [
            r for r in scope["logRecords"] if _event(r) != "gemini_cli.api_request"
        ]
    for record in _records(logs):
        _set(record, "session.id", {"stringValue": session})
        if _event(record) == "gemini_cli.tool_call":
            _set(record, "success", {"boolValue": False})
            _set(record, "error", {"stringValue": "Path not found: missing.txt"})
            _set(record, "error_type", {"stringValue": "file_not_found"})
    _post(receiver, "logs", logs)
    conn = receiver.store.reader()
    try:
        (run,) = [r for r in list_runs(conn) if r.conversation_id == session and r.tool_calls]
        detail = get_run(conn, run.run_id)
        details = [get_call(conn, c.call_id) for c in list_calls(conn)]
    finally:
        conn.close()
    assert detail is not None
    (tool,) = [step for step in detail.steps if step.kind == "tool"]
    assert tool.error == "file_not_found"
    assert run.errors >= 1
    assert len(details) == 3
    assert all(d is not None and d.input_messages == [] for d in details)
