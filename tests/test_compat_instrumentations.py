"""End to end with the real libraries: llama.cpp's OpenAI-compatible server, the real `openai`
client instrumented by each library in its own process, exporting OTLP/HTTP to the real receiver.

One llama server and one receiver serve all scenarios. Each scenario makes a plain chat call, a
streamed chat call and an embeddings call; the `llm_calls` rows must carry the model and the token
counts the server returned (llama.cpp reports no usage for streamed calls: NULL, not 0), the prompt
and the completion, and a TTFT for the streamed call where the library gives any signal:
OpenLLMetry (first `gen_ai.content.completion.chunk` event) and OpenInference ("First Token Stream
Event") do; openai-v2 2.4b0 does not (its stream wrapper never records the first chunk, so no
`gen_ai.response.time_to_first_chunk`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from localobs.receiver import create_receiver_app
from localobs.server import ReceiverServer
from localobs.store import Store
from tests.fixtures.genai.capture import (
    CHAT_MODEL,
    SYSTEM_PROMPT,
    USER_PROMPT,
    llama_server,
    run_scenario,
)

pytestmark = pytest.mark.slow

# The signal each library's streamed call carries its TTFT in (the `ttft_source` stored).
TTFT_ON_STREAM = {
    "openllmetry": "event gen_ai.content.completion.chunk",
    "openinference": "event First Token Stream Event",
}
SCENARIOS = [
    "openai_v2_span_only",
    "openai_v2_event_only",
    "openai_v2_default",
    "openllmetry",
    "openinference",
]


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with llama_server(tmp_path_factory.mktemp("llama")) as url:
        yield url


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    store = Store(tmp_path_factory.mktemp("store") / "localobs.db")
    store.start_writer()
    server = ReceiverServer(create_receiver_app(store, max_body=16 << 20), "127.0.0.1", 0)
    server.start()
    yield server.url, store
    server.stop()
    store.close()


def calls_of(conn: sqlite3.Connection, service: str) -> list[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT * FROM llm_calls WHERE service_name = ? ORDER BY start_time_unix_nano", (service,)
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def texts(column: str | None) -> str:
    messages = orjson.loads(column) if column else []
    return " ".join(
        str(part.get("content")) for message in messages for part in message.get("parts", [])
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_llm_calls_match_what_the_server_answered(
    scenario: str, llm_url: str, receiver: tuple[str, Store]
) -> None:
    url, store = receiver
    answers = run_scenario(scenario, url, llm_url)
    conn = store.reader()
    try:
        rows = calls_of(conn, f"compat-{scenario}")
    finally:
        conn.close()
    assert [row["operation"] for row in rows] == ["chat", "chat", "embeddings"]
    for row, answer in zip(rows, answers, strict=True):
        usage = answer["usage"] or {}
        assert row["response_model"] == answer["model"]
        assert row["input_tokens"] == usage.get("prompt_tokens")
        if answer["call"] == "embeddings":
            continue
        assert row["request_model"] == CHAT_MODEL
        assert row["output_tokens"] == usage.get("completion_tokens")
        prompt = texts(row["input_messages"])
        assert SYSTEM_PROMPT in prompt and USER_PROMPT in prompt
        assert answer["text"] and answer["text"] in texts(row["output_messages"])
        if answer["call"] == "chat_stream" and scenario in TTFT_ON_STREAM:
            assert 0 < row["ttft_ms"] < row["duration_ms"]
            assert row["ttft_source"] == TTFT_ON_STREAM[scenario]
            assert row["output_tokens_per_s"] is None  # no usage from the server: no speed
        else:
            assert row["ttft_ms"] is None and row["ttft_source"] is None
