"""Normalizing what the real libraries sent (captured by tests/fixtures/genai/capture.py).

Each fixture holds one plain chat, one streamed chat and one embeddings call, plus what the server
answered: token counts must equal the server's usage, prompt and completion texts must be found in
the message columns, and the moved attributes must be rebuilt exactly.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from localobs.receiver.genai import CALL_FIELDS, normalize_log_event, normalize_span, restore
from localobs.store.schema import SPAN_COLUMNS
from tests.fixtures.genai.capture import SYSTEM_PROMPT, USER_PROMPT
from tests.fixtures.genai.load import CAPTURED, Span, fixture, log_records, spans

DIALECTS = {
    "openai_v2_span_only": "genai",
    "openai_v2_event_only": "genai",
    "openai_v2_default": "genai_legacy",
    "openllmetry": "openllmetry",
    "openinference": "openinference",
}
# Content on the span itself (the other two modes send it as log events, see test_genai_join).
CONTENT_ON_SPAN = {"openai_v2_span_only", "openllmetry", "openinference"}
# Libraries that mark the first streamed chunk; openai-v2 2.4b0 sets no time_to_first_chunk.
TTFT_ON_STREAM = {"openllmetry", "openinference"}
CONTENT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "llm.input_messages.",
    "llm.output_messages.",
    "embedding.embeddings.0.embedding.text",
)


def _normalized(span: Span) -> tuple[dict[str, Any], dict[str, Any]]:
    attributes = copy.deepcopy(span.attributes)
    call = normalize_span(
        span.name, attributes, span.events, span.start_ns, span.end_ns, span.status_code
    )
    assert call is not None, f"{span.name} was not recognized"
    assert len(call) == len(CALL_FIELDS)
    return dict(zip(CALL_FIELDS, call, strict=True)), attributes


def _texts(column: str | None) -> list[str]:
    messages = orjson.loads(column) if column else []
    return [part.get("content") for message in messages for part in message["parts"]]


def test_call_fields_are_the_tail_of_the_span_columns() -> None:
    assert SPAN_COLUMNS[-len(CALL_FIELDS) :] == CALL_FIELDS


@pytest.mark.parametrize("name", CAPTURED)
def test_captured_calls_normalize_to_the_servers_answers(name: str) -> None:
    calls = fixture(name)["calls"]
    found = spans(name)
    assert len(found) == len(calls) == 3
    for span, answer in zip(found, calls, strict=True):
        row, _ = _normalized(span)
        assert row["dialect"] == DIALECTS[name]
        assert row["provider"] == "openai"
        assert row["response_model"] == answer["model"]
        usage = answer["usage"] or {}
        assert row["input_tokens"] == usage.get("prompt_tokens")
        if answer["call"] == "embeddings":
            assert (row["span_role"], row["operation"]) == ("embedding", "embeddings")
            assert row["output_tokens"] is None
            continue
        assert (row["span_role"], row["operation"]) == ("llm", "chat")
        assert row["request_model"] == "smollm2"
        assert row["max_tokens"] == 8
        assert row["temperature"] == 0.0
        assert row["output_tokens"] == usage.get("completion_tokens")
        if name in CONTENT_ON_SPAN:
            assert _texts(row["input_messages"]) == [SYSTEM_PROMPT, USER_PROMPT]
            assert _texts(row["output_messages"]) == [answer["text"]]
        else:
            assert row["input_messages"] is None and row["output_messages"] is None
        if answer["call"] == "chat_stream" and name in TTFT_ON_STREAM:
            duration_ms = (span.end_ns - span.start_ns) / 1e6
            assert 0 < row["ttft_ms"] < duration_ms
        else:
            assert row["ttft_ms"] is None


@pytest.mark.parametrize("name", CAPTURED)
def test_moved_content_is_rebuilt_exactly(name: str) -> None:
    for span in spans(name):
        row, stored = _normalized(span)
        if row["input_messages"] is not None:
            assert "localobs.moved" in stored
        assert not [key for key in stored if key.startswith(CONTENT_KEYS)]
        rebuilt = restore(
            stored, row["input_messages"], row["output_messages"], row["system_instructions"]
        )
        assert rebuilt == span.attributes


def test_openllmetry_embeddings_keep_their_input_text() -> None:
    embeddings = spans("openllmetry")[2]
    row, _ = _normalized(embeddings)
    assert _texts(row["input_messages"]) == ["the sky is blue"]


@pytest.mark.parametrize("name", ["openai_v2_event_only", "openai_v2_default"])
def test_captured_log_events_carry_the_content(name: str) -> None:
    pairs = zip(spans(name), fixture(name)["calls"], strict=True)
    answers = {span.span_id: answer for span, answer in pairs}
    patches: dict[str, list[dict[str, Any]]] = {}
    for record in log_records(name):
        patch = normalize_log_event(record.event_name, record.attributes, record.body)
        assert patch is not None, record.event_name
        patches.setdefault(record.span_id, []).append(orjson.loads(patch))
    assert len(patches) == 2  # the two chat calls; embeddings send no events
    for span_id, span_patches in patches.items():
        inputs = [m for p in span_patches for m in p.get("input_messages", [])]
        outputs = [m for p in span_patches for m in p.get("output_messages", [])]
        assert [part["content"] for m in inputs for part in m["parts"]] == [
            SYSTEM_PROMPT,
            USER_PROMPT,
        ]
        assert [part["content"] for m in outputs for part in m["parts"]] == [
            answers[span_id]["text"]
        ]
