"""Dialect 2: GenAI log events to patches (the captured ones are in test_genai_fixtures)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from localobs.receiver.genai import normalize_log_event


def patch(event_name: str | None, attributes: dict[str, Any], body: Any) -> dict[str, Any]:
    text = normalize_log_event(event_name, attributes, body)
    assert text is not None
    result: dict[str, Any] = orjson.loads(text)
    return result


def test_details_event_with_structured_messages() -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.response.time_to_first_chunk": 0.05,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}],
        "gen_ai.system_instructions": [{"type": "text", "content": "Be kind."}],
    }
    result = patch("gen_ai.client.inference.operation.details", attributes, None)
    assert result == {
        "span_role": "llm",
        "operation": "chat",
        "provider": "openai",
        "request_model": "gpt-4o",
        "ttft_ms": 50.0,
        "ttft_source": "gen_ai.response.time_to_first_chunk",
        "input_tokens": 5,
        "finish_reasons": ["stop"],
        "input_messages": attributes["gen_ai.input.messages"],
        "system_instructions": attributes["gen_ai.system_instructions"],
    }


def test_event_name_may_come_from_the_attribute() -> None:
    result = patch(None, {"event.name": "gen_ai.user.message"}, {"content": "Hello"})
    assert result["input_messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "Hello"}]}
    ]


def test_per_message_events() -> None:
    assistant = patch(
        "gen_ai.assistant.message",
        {"gen_ai.system": "openai"},
        {
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]
        },
    )
    assert assistant["provider"] == "openai"
    assert assistant["input_messages"] == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": "{}"}],
        }
    ]
    tool = patch("gen_ai.tool.message", {}, {"content": "42", "id": "c1"})
    assert tool["input_messages"] == [
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "42"}]}
    ]


def test_choice_event() -> None:
    result = patch(
        "gen_ai.choice",
        {"gen_ai.system": "openai"},
        {"index": 1, "finish_reason": "stop", "message": {"content": "Done."}},
    )
    assert result["index"] == 1
    assert result["finish_reasons"] == ["stop"]
    assert result["output_messages"] == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Done."}],
            "finish_reason": "stop",
        }
    ]


@pytest.mark.parametrize(
    ("event_name", "body"),
    [
        ("gen_ai.user.message", None),  # content capture off: nothing to add
        ("gen_ai.evaluation.result", {"score": 1}),
        ("http.request", {"content": "x"}),
        (None, {"content": "x"}),
    ],
)
def test_events_that_bring_nothing(event_name: str | None, body: Any) -> None:
    assert normalize_log_event(event_name, {}, body) is None
