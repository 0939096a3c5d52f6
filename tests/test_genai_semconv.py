"""Dialects 1 and 3 beyond what the captured libraries send: structured values, escaped and broken
JSON, older names and span events, roles of agent and tool spans, non-GenAI spans."""

from __future__ import annotations

import copy
import json

import orjson
import pytest

from localobs.receiver.genai import normalize_span, restore
from tests.fixtures.genai.check import END, START, run

LATEST = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 24,
    "gen_ai.usage.output_tokens": 7,
    "gen_ai.request.temperature": 0.2,
    "gen_ai.request.top_p": 0.9,
    "gen_ai.request.max_tokens": 100,
    "gen_ai.response.finish_reasons": ["tool_calls"],
    "gen_ai.response.time_to_first_chunk": 0.25,
}
INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"c": "P"}}
        ],
    },
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "9C"}]},
]
OUTPUT = [
    {"role": "assistant", "parts": [{"type": "text", "content": "Rainy."}], "finish_reason": "stop"}
]
SYSTEM = [{"type": "text", "content": "You are a weather bot."}]


def test_latest_structured_values_fill_every_column() -> None:
    attributes = {
        **LATEST,
        "gen_ai.input.messages": INPUT,
        "gen_ai.output.messages": OUTPUT,
        "gen_ai.system_instructions": SYSTEM,
    }
    row, stored = run(attributes)
    assert row is not None
    assert row["span_role"] == "llm"
    assert row["operation"] == "chat"
    assert row["provider"] == "openai"
    assert row["request_model"] == "gpt-4o"
    assert row["response_model"] == "gpt-4o-2024-08-06"
    assert row["ttft_ms"] == 250.0
    assert (row["input_tokens"], row["output_tokens"]) == (24, 7)
    assert (row["temperature"], row["top_p"], row["max_tokens"]) == (0.2, 0.9, 100)
    assert orjson.loads(row["finish_reasons"]) == ["tool_calls"]
    assert orjson.loads(row["input_messages"]) == INPUT
    assert orjson.loads(row["output_messages"]) == OUTPUT
    assert orjson.loads(row["system_instructions"]) == SYSTEM
    assert row["dialect"] == "genai"
    assert stored["localobs.moved"] == {
        "gen_ai.input.messages": "in!v",
        "gen_ai.output.messages": "out!v",
        "gen_ai.system_instructions": "sys!v",
    }


def test_json_string_in_normalized_shape_is_stored_byte_for_byte() -> None:
    text = json.dumps(INPUT, separators=(",", ":"))
    row, stored = run({**LATEST, "gen_ai.input.messages": text})
    assert row is not None
    assert row["input_messages"] == text
    assert stored["localobs.moved"] == "i"  # the short record of {"gen_ai.input.messages": "in"}
    assert restore(stored, row["input_messages"], None, None) == {
        **LATEST,
        "gen_ai.input.messages": text,
    }


@pytest.mark.parametrize(
    ("separators", "form"),
    [((",", ":"), "in!j"), ((", ", ": "), "in!J")],
    ids=["compact", "default"],
)
def test_ascii_escaped_json_is_stored_readable(separators: tuple[str, str], form: str) -> None:
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Météo à Zürich ? 天气"}]}]
    text = json.dumps(messages, separators=separators)
    assert "\\u" in text
    row, stored = run({**LATEST, "gen_ai.input.messages": text})
    assert row is not None
    assert "Météo à Zürich ? 天气" in row["input_messages"]
    assert stored["localobs.moved"] == {"gen_ai.input.messages": form}


def test_escaped_json_of_unknown_formatting_stays_in_the_attributes() -> None:
    text = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "é"}]}], indent=1)
    row, stored = run({**LATEST, "gen_ai.input.messages": text})
    assert row is not None
    assert "é" in row["input_messages"]
    assert stored["gen_ai.input.messages"] == text
    assert "localobs.moved" not in stored


def test_truncated_json_becomes_a_text_part_and_is_still_moved() -> None:
    text = json.dumps(INPUT)[:40]  # as cut by an attribute length limit
    row, stored = run({**LATEST, "gen_ai.input.messages": text})
    assert row is not None
    assert orjson.loads(row["input_messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": text}]}
    ]
    assert stored["localobs.moved"] == {"gen_ai.input.messages": "in/0/parts/0/content"}


def test_openai_style_messages_are_converted_and_kept() -> None:
    openai_style = json.dumps(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ]
    )
    row, stored = run({**LATEST, "gen_ai.input.messages": openai_style})
    assert row is not None
    assert orjson.loads(row["input_messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
    ]
    assert stored["gen_ai.input.messages"] == openai_style


def test_plain_text_system_instructions() -> None:
    row, stored = run({**LATEST, "gen_ai.system_instructions": "Answer in French."})
    assert row is not None
    assert orjson.loads(row["system_instructions"]) == [
        {"type": "text", "content": "Answer in French."}
    ]
    assert stored["localobs.moved"] == {"gen_ai.system_instructions": "sys/0/content"}


@pytest.mark.parametrize(
    "system",
    [
        json.dumps(SYSTEM),  # stored as sent
        json.dumps([{"type": "text", "content": "Réponds en français."}]),  # escaped: "!J"
        "Answer in French.",  # plain text: wrapped in a part
        json.dumps({"role": "system"}),  # another shape: converted, kept in the attributes
    ],
    ids=["as-sent", "escaped", "plain", "converted"],
)
def test_a_repeated_system_prompt_is_read_the_same_every_time(system: str) -> None:
    """The column text and move of a system prompt are computed once and reused: the second
    and third spans with it get the same row and attributes as the first."""
    seen = [run({**LATEST, "gen_ai.system_instructions": system}) for _ in range(3)]
    assert seen[0][0] is not None
    assert seen[1] == seen[0] and seen[2] == seen[0]
    row, stored = seen[0]
    assert restore(stored, None, None, row["system_instructions"]) == {
        **LATEST,
        "gen_ai.system_instructions": system,
    }


def test_ttft_longer_than_the_span_is_dropped() -> None:
    row, _ = run({**LATEST, "gen_ai.response.time_to_first_chunk": 5.0})
    assert row is not None
    assert row["ttft_ms"] is None


def test_older_names_and_content_span_events() -> None:
    attributes = {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-3.5-turbo",
        "gen_ai.usage.prompt_tokens": 12,
        "gen_ai.usage.completion_tokens": 3,
    }
    events = [
        {
            "name": "gen_ai.content.prompt",
            "time_unix_nano": START,
            "attributes": {"gen_ai.prompt": json.dumps([{"role": "user", "content": "Hello"}])},
        },
        {
            "name": "gen_ai.content.completion",
            "time_unix_nano": END,
            "attributes": {"gen_ai.completion": "Hi there"},
        },
    ]
    row, stored = run(attributes, events, name="chat gpt-3.5-turbo")
    assert row is not None
    assert (row["operation"], row["provider"], row["dialect"]) == ("chat", "openai", "genai_legacy")
    assert (row["input_tokens"], row["output_tokens"]) == (12, 3)
    assert orjson.loads(row["input_messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hello"}]}
    ]
    assert orjson.loads(row["output_messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi there"}]}
    ]
    assert "localobs.moved" not in stored  # span events are kept as sent


def test_operation_from_the_span_name_before_operation_names_existed() -> None:
    row, _ = run({"gen_ai.system": "openai", "gen_ai.request.model": "e"}, name="embeddings e")
    assert row is not None
    assert (row["span_role"], row["operation"]) == ("embedding", "embeddings")


@pytest.mark.parametrize(
    ("operation", "role"),
    [("invoke_agent", "agent"), ("execute_tool", "tool"), ("retrieval", "retriever")],
)
def test_agent_tool_and_retrieval_spans_get_a_role_but_no_operation(
    operation: str, role: str
) -> None:
    row, _ = run({"gen_ai.operation.name": operation, "gen_ai.provider.name": "openai"})
    assert row is not None
    assert (row["span_role"], row["operation"]) == (role, None)


def test_custom_operation_with_a_model_is_a_call() -> None:
    row, _ = run({"gen_ai.operation.name": "image_generation", "gen_ai.request.model": "dall-e"})
    assert row is not None
    assert (row["span_role"], row["operation"]) == ("llm", "image_generation")


def test_error_type_from_the_attribute_or_the_exception_event() -> None:
    row, _ = run({**LATEST, "error.type": "RateLimitError"}, status_code=2)
    assert row is not None
    assert row["error_type"] == "RateLimitError"
    exception = {
        "name": "exception",
        "time_unix_nano": END,
        "attributes": {"exception.type": "openai.APITimeoutError"},
    }
    row, _ = run(LATEST, [exception], status_code=2)
    assert row is not None
    assert row["error_type"] == "openai.APITimeoutError"
    row, _ = run(LATEST, [exception], status_code=0)
    assert row is not None
    assert row["error_type"] is None


def test_bad_values_do_not_reach_typed_columns() -> None:
    row, _ = run(
        {
            **LATEST,
            "gen_ai.usage.input_tokens": "12",
            "gen_ai.usage.output_tokens": "many",
            "gen_ai.request.temperature": float("nan"),
            "gen_ai.request.max_tokens": True,
        }
    )
    assert row is not None
    assert (row["input_tokens"], row["output_tokens"]) == (12, None)
    assert (row["temperature"], row["max_tokens"]) == (None, None)


def test_non_genai_span_is_left_alone() -> None:
    attributes = {"http.request.method": "GET", "url.full": "http://x/", "llm": "not a marker"}
    row, stored = run(attributes, name="GET /")
    assert row is None
    assert stored == attributes


def test_a_span_that_already_has_a_moved_record_keeps_its_content() -> None:
    attributes = {**LATEST, "gen_ai.input.messages": INPUT, "localobs.moved": {"x": "in"}}
    stored = copy.deepcopy(attributes)
    call = normalize_span("chat", stored, [], START, END, 0)
    assert call is not None
    assert stored == attributes


def test_message_attributes_mark_the_latest_conventions_even_with_the_old_system_name() -> None:
    openai_style = json.dumps([{"role": "user", "content": "Hi"}])
    attributes = {"gen_ai.system": "openai", "gen_ai.input.messages": openai_style}
    row, _ = run({**attributes, "gen_ai.request.model": "m"})
    assert row is not None
    assert (row["dialect"], row["provider"]) == ("genai", "openai")
