"""Dialect 4: OpenLLMetry's indexed attributes, as its older releases set them
(shared/chat_wrappers.py: _set_prompts / _set_completions), and traceloop-sdk's span kinds."""

from __future__ import annotations

import json

import orjson

from tests.fixtures.genai.check import START, run

ARGS = '{"city": "Paris"}'
INDEXED = {
    "gen_ai.system": "openai",
    "llm.request.type": "chat",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.prompt_tokens": 40,
    "gen_ai.usage.completion_tokens": 9,
    "llm.usage.total_tokens": 49,
    "gen_ai.prompt.0.role": "system",
    "gen_ai.prompt.0.content": "You are a weather bot.",
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": json.dumps(
        [
            {"type": "text", "text": "Weather here?"},
            {"type": "image_url", "image_url": {"url": "https://x/p.png"}},
        ]
    ),
    "gen_ai.prompt.2.role": "assistant",
    "gen_ai.prompt.2.tool_calls.0.id": "call_1",
    "gen_ai.prompt.2.tool_calls.0.name": "get_weather",
    "gen_ai.prompt.2.tool_calls.0.arguments": ARGS,
    "gen_ai.prompt.3.role": "tool",
    "gen_ai.prompt.3.content": "9C, rain",
    "gen_ai.prompt.3.tool_call_id": "call_1",
    "gen_ai.prompt.prompt_filter_results": "[]",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "Rain in Paris.",
}


def test_indexed_prompts_and_completions() -> None:
    row, stored = run(INDEXED)
    assert row is not None
    assert row["dialect"] == "openllmetry"
    assert (row["span_role"], row["operation"], row["provider"]) == ("llm", "chat", "openai")
    assert (row["input_tokens"], row["output_tokens"]) == (40, 9)
    assert orjson.loads(row["finish_reasons"]) == ["stop"]
    assert orjson.loads(row["input_messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "You are a weather bot."}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "Weather here?"},
                {"type": "uri", "modality": "image", "uri": "https://x/p.png"},
            ],
        },
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": ARGS}
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "9C, rain"}],
        },
    ]
    assert orjson.loads(row["output_messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Rain in Paris."}],
            "finish_reason": "stop",
        }
    ]
    # Verbatim values moved; the converted multi-part content and unknown keys stay.
    assert set(stored) == {
        *(key for key in INDEXED if not key.startswith(("gen_ai.prompt.", "gen_ai.completion."))),
        "gen_ai.prompt.1.content",
        "gen_ai.prompt.prompt_filter_results",
        "localobs.moved",
    }


def test_completion_tool_calls_and_streamed_chunks() -> None:
    attributes = {
        "gen_ai.system": "openai",
        "llm.request.type": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Weather?",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.finish_reason": "tool_calls",
        "gen_ai.completion.0.tool_calls.0.id": "call_9",
        "gen_ai.completion.0.tool_calls.0.name": "get_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": ARGS,
    }
    chunks = [
        {"name": "llm.content.completion.chunk", "time_unix_nano": START + i * 10_000_000}
        for i in range(3, 6)
    ]
    row, _ = run(attributes, chunks)
    assert row is not None
    assert row["ttft_ms"] == 30.0
    assert orjson.loads(row["output_messages"])[0]["parts"] == [
        {"type": "tool_call", "id": "call_9", "name": "get_weather", "arguments": ARGS}
    ]


def test_request_types() -> None:
    row, _ = run({"llm.request.type": "embedding", "gen_ai.request.model": "e"})
    assert row is not None
    assert (row["span_role"], row["operation"]) == ("embedding", "embeddings")
    row, _ = run({"llm.request.type": "completion", "gen_ai.request.model": "m"})
    assert row is not None
    assert row["operation"] == "text_completion"
    row, _ = run({"llm.request.type": "rerank", "gen_ai.request.model": "r"})
    assert row is not None
    assert (row["span_role"], row["operation"]) == ("reranker", None)


def test_traceloop_workflow_spans_get_a_role() -> None:
    attributes = {
        "traceloop.span.kind": "workflow",
        "traceloop.workflow.name": "answer_question",
        "traceloop.entity.input": '{"question": "Weather?"}',
    }
    row, stored = run(attributes, name="answer_question.workflow")
    assert row is not None
    assert (row["span_role"], row["operation"], row["dialect"]) == (
        "workflow",
        None,
        "openllmetry",
    )
    assert stored == attributes
