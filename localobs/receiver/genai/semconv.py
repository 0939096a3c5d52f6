"""Dialects 1 and 3: the GenAI semantic conventions on span attributes, latest and older.

Latest (1.37+, `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`): `gen_ai.provider.name`,
`gen_ai.input.messages` / `gen_ai.output.messages` / `gen_ai.system_instructions` as JSON strings
or structured values. Older (up to 1.36):
`gen_ai.system`, `gen_ai.usage.prompt_tokens` / `completion_tokens`, no operation name before 1.27,
and content in the span events `gen_ai.content.prompt` / `gen_ai.content.completion` (attributes
`gen_ai.prompt` / `gen_ai.completion`: JSON messages or plain text; those events stay untouched).

This is the hot path for the most common spans: a handful of dict lookups, one JSON validation per
content attribute, no per-message work when the content already has the normalized shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from localobs.receiver.genai import moved
from localobs.receiver.genai.messages import from_openai_messages, text_part
from localobs.receiver.genai.record import (
    MAX_COUNT,
    Call,
    TooDeep,
    as_count,
    as_float,
    as_str,
    dumps,
    dumps_parsed,
    str_list,
)
from localobs.receiver.genai.roles import OPERATIONS, operation_from_name


def scalar_fields(a: dict[str, Any]) -> tuple[Any, ...]:
    """(provider, request_model, response_model, input_tokens, output_tokens, temperature, top_p,
    max_tokens, finish_reasons, error_type), from either generation of attribute names.

    Well-typed values (the common case) are taken without a coercion call: this runs per span.
    A value of the wrong type or out of range (a list as model name, a negative token count) is
    left out of its column; it stays in the attributes.
    """
    get = a.get
    provider = get("gen_ai.provider.name")
    if provider is None:
        provider = get("gen_ai.system")
    request_model = get("gen_ai.request.model")
    response_model = get("gen_ai.response.model")
    input_tokens = get("gen_ai.usage.input_tokens")
    if input_tokens is None:
        input_tokens = get("gen_ai.usage.prompt_tokens")
    output_tokens = get("gen_ai.usage.output_tokens")
    if output_tokens is None:
        output_tokens = get("gen_ai.usage.completion_tokens")
    max_tokens = get("gen_ai.request.max_tokens")
    return (
        provider if type(provider) is str and provider else None,
        request_model if type(request_model) is str and request_model else None,
        response_model if type(response_model) is str and response_model else None,
        input_tokens
        if type(input_tokens) is int and 0 <= input_tokens <= MAX_COUNT
        else as_count(input_tokens),
        output_tokens
        if type(output_tokens) is int and 0 <= output_tokens <= MAX_COUNT
        else as_count(output_tokens),
        as_float(get("gen_ai.request.temperature")),
        as_float(get("gen_ai.request.top_p")),
        max_tokens
        if type(max_tokens) is int and 0 <= max_tokens <= MAX_COUNT
        else as_count(max_tokens),
        str_list(get("gen_ai.response.finish_reasons")),
        as_str(get("error.type")),
    )


def role_and_operation(
    op: Any, name: str, request_model: Any, response_model: Any
) -> tuple[str, str | None]:
    """The span role, and the operation when the span is a model call."""
    if type(op) is str and op:
        known = OPERATIONS.get(op)
        if known is not None:
            role, is_call = known
            return role, op if is_call else None
        # A custom operation name: a model call when a model is named.
        if request_model or response_model:
            return "llm", op
        return "other", None
    if request_model or response_model:
        operation = operation_from_name(name)
        return ("embedding" if operation == "embeddings" else "llm"), operation
    return "other", None


def normalize(
    name: str,
    a: dict[str, Any],
    events: list[dict[str, Any]],
    start_ns: int,
    end_ns: int,
    moves: moved.Moves,
) -> Call:
    """The span's call columns; the content attributes it moved are added to `moves` (the
    caller removes them from `a` once the whole span is normalized)."""
    fields = scalar_fields(a)
    provider, request_model, response_model = fields[0], fields[1], fields[2]
    role, operation = role_and_operation(
        a.get("gen_ai.operation.name"), name, request_model, response_model
    )
    latest = (
        "gen_ai.provider.name" in a or "gen_ai.input.messages" in a or "gen_ai.output.messages" in a
    )
    input_messages = moved.take_json(a, "gen_ai.input.messages", "in", moved.INPUT, moves)
    output_messages = moved.take_json(a, "gen_ai.output.messages", "out", moved.OUTPUT, moves)
    system = moved.take_json(a, "gen_ai.system_instructions", "sys", moved.SYSTEM, moves)
    if input_messages is None and output_messages is None and events:
        input_messages, output_messages = content_events(events)

    # Attributes only OpenLLMetry sets next to the semconv ones: they name the dialect.
    if "gen_ai.is_streaming" in a or "llm.is_streaming" in a or "llm.usage.total_tokens" in a:
        dialect = "openllmetry"
    elif latest:
        dialect = "genai"
    else:
        dialect = "genai_legacy"
    return (
        role,
        operation,
        provider,
        request_model,
        response_model,
        None,  # ttft_ms: filled by dispatch (receiver/genai/ttft.py, for every dialect)
        fields[3],
        fields[4],
        fields[5],
        fields[6],
        fields[7],
        fields[8],
        fields[9],
        input_messages,
        output_messages,
        system,
        dialect,
    )


def content_events(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """Input and output messages from `gen_ai.content.prompt` / `.completion` span events."""
    prompt = completion = None
    for event in events:
        event_name = event.get("name")
        if event_name == "gen_ai.content.prompt":
            prompt = _event_messages(event, "gen_ai.prompt", "user")
        elif event_name == "gen_ai.content.completion":
            completion = _event_messages(event, "gen_ai.completion", "assistant")
    return prompt, completion


def _event_messages(event: dict[str, Any], key: str, role: str) -> str | None:
    attributes = event.get("attributes")
    value = attributes.get(key) if type(attributes) is dict else None
    if value is None:
        return None
    if type(value) is str:
        try:
            return dumps_parsed(from_openai_messages(orjson.loads(value), role))
        except (orjson.JSONDecodeError, TooDeep):  # the text itself is the message
            return dumps([{"role": role, "parts": [text_part(value)]}])
    return dumps(from_openai_messages(value, role))
