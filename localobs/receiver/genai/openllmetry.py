"""Dialect 4: OpenLLMetry (traceloop) indexed attributes.

Older opentelemetry-instrumentation-openai releases flattened prompts and completions:
`gen_ai.prompt.<i>.role|content|tool_call_id`, `gen_ai.prompt.<i>.tool_calls.<j>.id|name|arguments`,
`gen_ai.completion.<i>.role|content|finish_reason|refusal|tool_calls.<j>.*`, with
`llm.request.type` (chat, completion, embedding, rerank), `llm.usage.total_tokens` and the older
token names. A multi-part `content` was sent as a JSON string of OpenAI content blocks.
traceloop-sdk decorators add `traceloop.span.kind` (workflow, task, agent, tool) to spans that are
no model call. Recent releases (0.62.4 here) send the latest semconv attributes instead, which
`semconv` handles (and labels `openllmetry`).
"""

from __future__ import annotations

from typing import Any

import orjson

from localobs.receiver.genai import moved, semconv
from localobs.receiver.genai.flat import Fields, FlatMessages, group_indexed, subgroups
from localobs.receiver.genai.messages import openai_content_parts
from localobs.receiver.genai.record import Call, TooDeep, as_str, dumps_parsed, str_list
from localobs.receiver.genai.roles import LLM_REQUEST_TYPES, TRACELOOP_KINDS

_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.")
_PROMPT = "prompt"  # the groups of `group_indexed`
_COMPLETION = "completion"
_TOOL_CALLS = ("tool_calls.",)


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
    fields = semconv.scalar_fields(a)
    request_model, response_model = fields[1], fields[2]
    # Looked up only as strings: any other value (a list, a map) is no kind, and unhashable.
    kind = TRACELOOP_KINDS.get(as_str(a.get("traceloop.span.kind")) or "")
    request_type = as_str(a.get("llm.request.type"))
    if kind is not None:
        role, operation = kind, None
    elif request_type == "rerank":
        role, operation = "reranker", None
    else:
        op = LLM_REQUEST_TYPES.get(request_type or "", a.get("gen_ai.operation.name"))
        role, operation = semconv.role_and_operation(op, name, request_model, response_model)

    groups = group_indexed(a, _PREFIXES)
    input_messages = _messages(groups.get(_PROMPT), "in", "user", moves)
    output_messages = _messages(groups.get(_COMPLETION), "out", "assistant", moves)
    finish_reasons = fields[8]
    if finish_reasons is None and _COMPLETION in groups:
        finish_reasons = str_list(
            [f["finish_reason"][1] for f in groups[_COMPLETION].values() if "finish_reason" in f]
        )
    return (
        role,
        operation,
        fields[0],
        request_model,
        response_model,
        None,  # ttft_ms: filled by dispatch
        fields[3],
        fields[4],
        fields[5],
        fields[6],
        fields[7],
        finish_reasons,
        fields[9],
        input_messages,
        output_messages,
        None,
        "openllmetry",
    )


def _messages(
    groups: dict[int, Fields] | None, column: str, default_role: str, moves: moved.Moves
) -> str | None:
    if not groups:
        return None
    builder = FlatMessages(column, moves)
    for index in sorted(groups):
        message = groups[index]
        builder.start(message.get("role"), default_role)
        content = message.get("content")
        call_id = message.get("tool_call_id")
        if call_id is not None:
            builder.part("tool_call_response", id=call_id, response=content)
        elif content is not None:
            blocks = _content_blocks(content[1])
            if blocks is None:
                builder.part("text", content=content)
            else:
                builder.extend(openai_content_parts(blocks))
        if "refusal" in message:
            builder.part("refusal", content=message["refusal"])
        calls = subgroups(message, _TOOL_CALLS).get("tool_calls.", {})
        for call in (calls[j] for j in sorted(calls)):
            builder.part(
                "tool_call",
                id=call.get("id"),
                name=call.get("name"),
                arguments=call.get("arguments"),
            )
        if "finish_reason" in message:
            builder.field("finish_reason", message["finish_reason"])
    return builder.text()


def _content_blocks(value: Any) -> list[Any] | None:
    """OpenAI content blocks when `value` is their JSON string (multi-part content), else None."""
    if type(value) is not str or not value.startswith("[{"):
        return None
    try:
        blocks = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(blocks) is list and all(type(b) is dict and "type" in b for b in blocks):
        try:
            dumps_parsed(blocks)
        except TooDeep:
            return None  # kept as text
        return blocks
    return None
