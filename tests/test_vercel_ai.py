"""The real Vercel AI SDK (Node) against llama.cpp's OpenAI-compatible server, its telemetry
exported by the OpenTelemetry JS SDK to the real receiver: the provider calls are the model calls
(prompts, completions, tokens, TTFT with its source), the wrappers are runs counted once, and the
executed tool is a tool step with its arguments and result.

AI SDK 6 sends its own `ai.*` spans (`experimental_telemetry`); AI SDK 7 sends GenAI-convention
spans through `@ai-sdk/otel`. AI SDK 7 declares Node >= 22; it runs on the Node 20 here. Each
major runs once per module (tests/vercel_ai.mjs) behind a proxy that refuses every host but
loopback, asserted to have seen no request; as Node 20's fetch and http ignore proxy variables, the
script also refuses and reports any request to a host other than loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from localobs.receiver import create_receiver_app
from localobs.receiver.genai import restore
from localobs.receiver.genai.moved import MOVED_KEY
from localobs.receiver.genai.vercel_ai import role_of
from localobs.server import ReceiverServer
from localobs.store import Store
from localobs.store.agents import get_run, list_runs
from localobs.store.calls import CallSummary, get_call, list_calls
from localobs.store.contents import attributes_sql, expand_sql
from tests.fixtures.genai.capture import llama_server
from tests.fixtures.genai.check import run
from tests.node_clients import install, require_node
from tests.refusing_proxy import proxy_env, refusing_proxy

HERE = Path(__file__).resolve().parent
OTEL = {
    "@opentelemetry/api": "1.9.1",
    "@opentelemetry/sdk-trace-node": "2.12.1",
    "@opentelemetry/exporter-trace-otlp-proto": "0.223.1",
    "@opentelemetry/resources": "2.12.1",
    "zod": "3.25.76",
}
PACKAGES = {
    "6": {"ai": "6.0.333", "@ai-sdk/openai-compatible": "2.0.92", **OTEL},
    "7": {
        "ai": "7.0.173",
        "@ai-sdk/openai-compatible": "3.0.92",
        "@ai-sdk/otel": "1.0.173",
        **OTEL,
    },
}
PROMPTS = ("Name one colour of the sky.", "Name one fruit.", "What is the weather in Paris?")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_node()
    with llama_server(tmp_path_factory.mktemp("llama")) as url:
        yield url


class Ran:
    def __init__(self, store: Store, said: dict[str, Any]) -> None:
        self.store = store
        self.said = said

    def calls(self) -> dict[str, CallSummary]:
        """The model calls by the prompt they were sent."""
        conn = self.store.reader()
        try:
            found = {}
            for call in list_calls(conn):
                for prompt in PROMPTS:
                    if prompt in call.preview:
                        found[prompt] = call
            assert len(list_calls(conn)) == 3
            return found
        finally:
            conn.close()

    def reader(self) -> sqlite3.Connection:
        return self.store.reader()


@pytest.fixture(scope="module", params=sorted(PACKAGES))
def ran(
    request: pytest.FixtureRequest, llm_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ran]:
    major = request.param
    root = install(PACKAGES[major])
    work = tmp_path_factory.mktemp(f"vercel{major}")
    # The script beside a link to the pinned packages: Node resolves imports from the script.
    (work / "node_modules").symlink_to(root / "node_modules")
    shutil.copy(HERE / "vercel_ai.mjs", work / "vercel_ai.mjs")
    store = Store(work / "localobs.db")
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store), "127.0.0.1", 0)
    server.start()
    try:
        with refusing_proxy() as (proxy, attempts):
            env = {**os.environ, **proxy_env(proxy), "HOME": str(work), "TMPDIR": str(work)}
            env["NODE_USE_ENV_PROXY"] = "1"  # Node 24+: fetch and http use the proxy too
            done = subprocess.run(
                ["node", str(work / "vercel_ai.mjs"), server.url, llm_url, major],
                capture_output=True,
                text=True,
                cwd=work,
                env=env,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            assert attempts == []  # nothing tried to leave the machine
        said = json.loads(done.stdout.splitlines()[-1])
        assert said["outbound"] == []  # nor did any fetch or http request in Node
        yield Ran(store, said)
    finally:
        server.stop()
        store.close()


def _text(messages: Any) -> str:
    """The text parts of stored messages (the store's Message objects)."""
    return "".join(
        part.content or "" for message in messages for part in message.parts if part.type == "text"
    )


def test_each_provider_call_is_one_model_call_with_its_prompt_completion_and_tokens(
    ran: Ran,
) -> None:
    calls = ran.calls()
    generated, streamed = calls[PROMPTS[0]], calls[PROMPTS[1]]
    assert generated.model == streamed.model == "smollm2"
    usage = ran.said["generated"]["usage"]
    assert (generated.input_tokens, generated.output_tokens) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    # llama.cpp's server reports no usage on a stream: not reported, never 0.
    assert ran.said["streamed"]["usage"].get("outputTokens") is None
    assert (streamed.input_tokens, streamed.output_tokens) == (None, None)
    conn = ran.reader()
    try:
        detail = get_call(conn, generated.call_id)
        streamed_detail = get_call(conn, streamed.call_id)
    finally:
        conn.close()
    assert detail is not None and streamed_detail is not None
    assert _text(detail.output_messages) == ran.said["generated"]["text"]
    assert _text(streamed_detail.output_messages) == ran.said["streamed"]["text"]
    assert detail.input_messages[-1].role == "user"
    assert _text(detail.input_messages[-1:]) == PROMPTS[0]
    system = [part.content for part in detail.system_instructions] + [
        _text([message]) for message in detail.input_messages if message.role == "system"
    ]
    assert "You are a terse assistant." in system
    assert detail.finish_reasons == ["length"]


def test_the_streamed_call_has_a_ttft_with_its_source(ran: Ran) -> None:
    calls = ran.calls()
    streamed = calls[PROMPTS[1]]
    assert streamed.ttft_ms is not None and 0 < streamed.ttft_ms < streamed.duration_ms
    expected = {
        "6": "ai.response.msToFirstChunk",
        "7": "gen_ai.client.operation.time_to_first_chunk",
    }
    assert streamed.ttft_source in expected.values()
    # A non-streamed call carries no TTFT (AI SDK 7 sends none; 6 sends none either).
    assert calls[PROMPTS[0]].ttft_ms is None and calls[PROMPTS[0]].ttft_source is None


def test_wrappers_are_runs_not_calls_and_the_tool_is_a_step(ran: Ran) -> None:
    conn = ran.reader()
    try:
        runs = list_runs(conn)
        assert len(runs) == 3
        assert {run.agent_name for run in runs} == {"vercel-test"}
        # Tokens counted once: a run's usage is its one model call's.
        total_in = sum(run.input_tokens or 0 for run in runs)
        usage = [ran.said["generated"]["usage"]["inputTokens"]]
        assert total_in == sum(c.input_tokens or 0 for c in list_calls(conn)) and usage[0] > 0
        with_tool = next(run for run in runs if run.tool_calls)
        detail = get_run(conn, with_tool.run_id)
    finally:
        conn.close()
    assert detail is not None
    tools = [step for step in detail.steps if step.kind == "tool"]
    assert len(tools) == 1
    tool = tools[0]
    assert tool.tool_name == "get_weather"
    assert json.loads(tool.arguments or "{}") == {"city": ran.said["tool"]["executed"][0]}
    assert "sunny, 21 C" in (tool.result or "")
    assert ran.said["tool"]["calls"][0]["name"] == "get_weather"


def test_the_forced_tool_call_is_in_the_model_calls_output(ran: Ran) -> None:
    call = ran.calls()[PROMPTS[2]]
    conn = ran.reader()
    try:
        detail = get_call(conn, call.call_id)
    finally:
        conn.close()
    assert detail is not None
    parts = [part for message in detail.output_messages for part in message.parts]
    assert [part.name for part in parts if part.type == "tool_call"] == ["get_weather"]


def test_every_stored_span_rebuilds_the_attributes_the_sdk_set(ran: Ran) -> None:
    """Content moved into the call columns comes back exactly (what export sends)."""
    conn = ran.reader()
    try:
        rows = conn.execute(
            f"SELECT span_id, {attributes_sql()}, {expand_sql('input_messages')},"
            f" {expand_sql('output_messages')}, {expand_sql('system_instructions')} FROM spans"
        ).fetchall()
        stored = {
            span_id: restore(orjson.loads(attributes), *columns)
            for span_id, attributes, *columns in rows
        }
        moved = sum(MOVED_KEY in orjson.loads(row[1]) for row in rows)
    finally:
        conn.close()
    sent = {span["span_id"]: span["attributes"] for span in ran.said["sent"]}
    assert set(stored) == set(sent)
    for span_id, attributes in sent.items():
        assert stored[span_id] == attributes, span_id
    assert moved >= 2  # the generated and the streamed text, at least, are stored once


# The shapes of older AI SDK releases and of the parts a real app sends, without Node.
V4_CALL = {
    "ai.operationId": "ai.generateText.doGenerate",
    "ai.model.id": "gpt-4o",
    "ai.model.provider": "openai.chat",
    "ai.settings.maxTokens": 50,
    "ai.usage.promptTokens": 12,
    "ai.usage.completionTokens": 3,
    "ai.finishReason": "stop",
    "ai.prompt.messages": json.dumps(
        [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool-call", "toolCallId": "c1", "toolName": "w", "args": {"q": 1}}
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "type": "tool-result",
                        "toolCallId": "c1",
                        "toolName": "w",
                        "output": {"type": "text", "value": "9C"},
                    }
                ],
            },
            {"role": "user", "content": [{"type": "image", "image": "https://x/y.png"}]},
        ]
    ),
    "ai.response.text": "Rainy.",
}


def test_older_names_and_every_part_kind_are_read_and_restored() -> None:
    row, stored = run(V4_CALL, name="ai.generateText.doGenerate")
    assert row is not None
    assert (row["span_role"], row["operation"], row["dialect"]) == ("llm", "chat", "vercel_ai")
    assert (row["input_tokens"], row["output_tokens"], row["max_tokens"]) == (12, 3, 50)
    assert (row["request_model"], row["provider"]) == ("gpt-4o", "openai.chat")
    assert json.loads(row["finish_reasons"]) == ["stop"]
    messages = json.loads(row["input_messages"])
    assert messages[1]["parts"] == [
        {"type": "tool_call", "id": "c1", "name": "w", "arguments": {"q": 1}}
    ]
    assert messages[2]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "9C"}]
    assert messages[3]["parts"][0]["type"] == "uri"
    assert json.loads(row["output_messages"])[0]["parts"] == [{"type": "text", "content": "Rainy."}]
    # The text is moved (stored once); the message JSON stays as sent: run() checked the rebuild.
    assert stored[MOVED_KEY] == {"ai.response.text": "out/0/parts/0/content"}
    assert "ai.prompt.messages" in stored


@pytest.mark.parametrize(
    ("operation_id", "role"),
    [
        ("ai.generateText", ("agent", None)),
        ("ai.streamObject", ("workflow", None)),
        ("ai.embedMany", ("workflow", None)),
        ("ai.streamObject.doStream", ("llm", "chat")),
        ("ai.embed.doEmbed", ("embedding", "embeddings")),
        ("ai.toolCall", ("tool", None)),
    ],
)
def test_only_provider_calls_are_model_calls(operation_id: str, role: tuple[str, Any]) -> None:
    assert role_of(operation_id) == role


def test_a_tool_span_and_a_run_named_by_function_id_with_the_callers_session() -> None:
    tool, _ = run(
        {
            "ai.operationId": "ai.toolCall",
            "ai.toolCall.name": "get_weather",
            "ai.toolCall.id": "c1",
            "ai.toolCall.args": '{"city":"Paris"}',
            "ai.toolCall.result": '"sunny"',
            "ai.telemetry.metadata.sessionId": "s-1",
        },
        name="ai.toolCall",
    )
    assert tool is not None
    assert (tool["span_role"], tool["operation"]) == ("tool", None)
    step = tool  # the row holds the agent fields after the call fields
    assert step["tool_name"] == "get_weather" and step["tool_call_id"] == "c1"
    assert (step["tool_arguments"], step["tool_result"]) == ('{"city":"Paris"}', '"sunny"')
    assert step["conversation_id"] == "s-1"
    wrapper, _ = run(
        {
            "ai.operationId": "ai.streamText",
            "ai.telemetry.functionId": "support",
            "ai.usage.inputTokens": 9,
        },
        name="ai.streamText",
    )
    assert wrapper is not None
    assert (wrapper["span_role"], wrapper["agent_name"]) == ("agent", "support")
    assert wrapper["input_tokens"] is None  # its model call's usage, counted there
