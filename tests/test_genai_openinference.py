"""Dialect 5 beyond the captured OpenAI calls: multi-part contents, tool calls, completions,
plain-text input.value, and non-LLM span kinds (names from openinference-semantic-conventions)."""

from __future__ import annotations

import orjson
import pytest

from tests.fixtures.genai.check import START, run

ARGS = '{"city": "Paris"}'
MULTIPART = {
    "openinference.span.kind": "LLM",
    "llm.provider": "anthropic",
    "llm.system": "anthropic",
    "llm.model_name": "claude-x-20250101",
    "llm.invocation_parameters": '{"model": "claude-x", "max_tokens": 64, "temperature": 0.5}',
    "llm.input_messages.0.message.role": "user",
    "llm.input_messages.0.message.contents.0.message_content.type": "text",
    "llm.input_messages.0.message.contents.0.message_content.text": "What is in this picture?",
    "llm.input_messages.0.message.contents.1.message_content.type": "image",
    "llm.input_messages.0.message.contents.1.message_content.image.image.url": "https://x/cat.png",
    "llm.input_messages.1.message.role": "assistant",
    "llm.input_messages.1.message.tool_calls.0.tool_call.id": "toolu_1",
    "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "zoom",
    "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": ARGS,
    "llm.input_messages.2.message.role": "tool",
    "llm.input_messages.2.message.tool_call_id": "toolu_1",
    "llm.input_messages.2.message.content": "a cat",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "A cat.",
    "llm.token_count.prompt": 310,
    "llm.token_count.completion": 4,
    "llm.token_count.total": 314,
    "input.value": '{"messages": "..."}',
    "input.mime_type": "application/json",
}


def test_multipart_contents_and_tool_calls() -> None:
    first_token = {"name": "First Token Stream Event", "time_unix_nano": START + 120_000_000}
    row, stored = run(MULTIPART, [first_token])
    assert row is not None
    assert (row["span_role"], row["operation"], row["dialect"]) == ("llm", "chat", "openinference")
    assert row["provider"] == "anthropic"
    assert (row["request_model"], row["response_model"]) == ("claude-x", "claude-x-20250101")
    assert (row["temperature"], row["max_tokens"]) == (0.5, 64)
    assert (row["input_tokens"], row["output_tokens"]) == (310, 4)
    assert row["ttft_ms"] == 120.0
    assert orjson.loads(row["input_messages"]) == [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "What is in this picture?"},
                {"type": "uri", "modality": "image", "uri": "https://x/cat.png"},
            ],
        },
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "toolu_1", "name": "zoom", "arguments": ARGS}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "a cat"}],
        },
    ]
    assert orjson.loads(row["output_messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "A cat."}]}
    ]
    # Everything about the messages moved except the image part's type ("image" vs "uri"); the
    # raw request in input.value stays for a byte-exact export.
    leftover = {key for key in stored if key.startswith(("llm.input_", "llm.output_"))}
    assert leftover == {"llm.input_messages.0.message.contents.1.message_content.type"}
    assert stored["input.value"] == MULTIPART["input.value"]


def test_completions_api_prompts_and_choices() -> None:
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "davinci",
        "llm.prompts.0.prompt.text": "Once upon",
        "llm.choices.0.completion.text": " a time",
    }
    row, _ = run(attributes)
    assert row is not None
    assert row["operation"] == "text_completion"
    assert orjson.loads(row["input_messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Once upon"}]}
    ]
    assert orjson.loads(row["output_messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": " a time"}]}
    ]


def test_plain_text_values_are_the_messages_when_nothing_else_is_sent() -> None:
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "local",
        "input.value": "Say hi",
        "output.value": "Hi!",
        "output.mime_type": "text/plain",
    }
    row, stored = run(attributes)
    assert row is not None
    assert orjson.loads(row["input_messages"])[0]["parts"][0]["content"] == "Say hi"
    assert orjson.loads(row["output_messages"])[0]["parts"][0]["content"] == "Hi!"
    assert stored["localobs.moved"] == {
        "input.value": "in/0/parts/0/content",
        "output.value": "out/0/parts/0/content",
    }


@pytest.mark.parametrize(
    ("kind", "role"),
    [("CHAIN", "chain"), ("AGENT", "agent"), ("TOOL", "tool"), ("RETRIEVER", "retriever")],
)
def test_other_kinds_keep_their_values(kind: str, role: str) -> None:
    attributes = {"openinference.span.kind": kind, "input.value": "q", "output.value": "a"}
    row, stored = run(attributes)
    assert row is not None
    assert (row["span_role"], row["operation"], row["input_messages"]) == (role, None, None)
    assert stored == attributes
