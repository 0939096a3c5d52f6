"""Dialect 5: OpenInference (Arize Phoenix), recognized by `openinference.span.kind`.

Messages are flattened: `llm.input_messages.<i>.message.role|content|name|tool_call_id`, multi-part
`...message.contents.<j>.message_content.type|text|image.image.url`, tool calls
`...message.tool_calls.<j>.tool_call.id|function.name|function.arguments`, the same under
`llm.output_messages`; completions use `llm.prompts.<i>.prompt.text` and
`llm.choices.<i>.completion.text`, embeddings `embedding.embeddings.<i>.embedding.text`.
Parameters are a JSON string in `llm.invocation_parameters`; usage is
`llm.token_count.prompt|completion`; `llm.model_name` is the model that answered.
Streaming spans get one "First Token Stream Event" (read by `ttft`).

`input.value` / `output.value` hold the raw request and response (JSON) next to the messages; they
stay in the attributes (a lossless export needs them byte for byte) unless they are the only source
of the text (`text/plain`), in which case they are moved into the messages.
"""

from __future__ import annotations

from typing import Any

import orjson

from localobs.receiver.genai import moved
from localobs.receiver.genai.flat import Fields, FlatMessages, group_indexed, subgroups
from localobs.receiver.genai.messages import from_openai_messages
from localobs.receiver.genai.record import (
    Call,
    TooDeep,
    as_count,
    as_float,
    as_str,
    dumps,
    dumps_parsed,
    str_list,
)
from localobs.receiver.genai.roles import OPENINFERENCE_KINDS

_PREFIXES = (
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
    "llm.choices.",
    "embedding.embeddings.",
)
# The groups `group_indexed` returns: the prefixes' second segments.
_INPUT = "input_messages"
_OUTPUT = "output_messages"
_PROMPTS = "prompts"
_CHOICES = "choices"
_EMBEDDINGS = "embeddings"
_CONTENTS = "message.contents."
_TOOL_CALLS = "message.tool_calls."
_NESTED = (_CONTENTS, _TOOL_CALLS)


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
    role = OPENINFERENCE_KINDS.get(as_str(a.get("openinference.span.kind")) or "", "other")
    groups = group_indexed(a, _PREFIXES)
    if role == "llm":
        operation: str | None = "text_completion" if _PROMPTS in groups else "chat"
    elif role == "embedding":
        operation = "embeddings"
    else:
        operation = None
    params = _parameters(a.get("llm.invocation_parameters"))
    model_name = as_str(a.get("llm.model_name")) or as_str(a.get("embedding.model_name"))
    request_model = (
        as_str(a.get("llm.request.model_name")) or as_str(params.get("model")) or model_name
    )
    response_model = as_str(a.get("llm.response.model_name")) or model_name
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        max_tokens = params.get("max_completion_tokens")

    input_messages = output_messages = None
    if _INPUT in groups:
        input_messages = _chat(groups[_INPUT], "in", "user", moves)
    elif _PROMPTS in groups:
        input_messages = _texts(groups[_PROMPTS], "prompt.text", "in", "user", moves)
    elif _EMBEDDINGS in groups:
        input_messages = _texts(groups[_EMBEDDINGS], "embedding.text", "in", "user", moves)
    elif operation is not None:
        input_messages = _value(a, "input", "in", "user", moves)
    if _OUTPUT in groups:
        output_messages = _chat(groups[_OUTPUT], "out", "assistant", moves)
    elif _CHOICES in groups:
        output_messages = _texts(groups[_CHOICES], "completion.text", "out", "assistant", moves)
    elif operation == "chat" or operation == "text_completion":
        output_messages = _value(a, "output", "out", "assistant", moves)

    provider = a.get("llm.provider")
    return (
        role,
        operation,
        as_str(provider) or as_str(a.get("llm.system")),
        request_model,
        response_model,
        None,  # ttft_ms: filled by dispatch
        as_count(a.get("llm.token_count.prompt")),
        as_count(a.get("llm.token_count.completion")),
        as_float(params.get("temperature")),
        as_float(params.get("top_p")),
        as_count(max_tokens),
        str_list(a.get("llm.finish_reason")),
        None,
        input_messages,
        output_messages,
        None,
        "openinference",
    )


def _parameters(value: Any) -> dict[str, Any]:
    if type(value) is str:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if type(value) is dict else {}


def _chat(
    groups: dict[int, Fields], column: str, default_role: str, moves: moved.Moves
) -> str | None:
    builder = FlatMessages(column, moves)
    for index in sorted(groups):
        message = groups[index]
        builder.start(message.get("message.role"), default_role)
        content = message.get("message.content")
        call_id = message.get("message.tool_call_id")
        if call_id is not None:
            builder.part("tool_call_response", id=call_id, response=content)
        elif content is not None:
            builder.part("text", content=content)
        nested = subgroups(message, _NESTED) if len(message) > 2 else {}
        contents = nested.get(_CONTENTS, {})
        for block in (contents[j] for j in sorted(contents)):
            _content_part(builder, block)
        calls = nested.get(_TOOL_CALLS, {})
        for call in (calls[j] for j in sorted(calls)):
            builder.part(
                "tool_call",
                id=call.get("tool_call.id"),
                name=call.get("tool_call.function.name"),
                arguments=call.get("tool_call.function.arguments"),
            )
        if "message.function_call_name" in message:
            builder.part(
                "tool_call",
                extra={"id": None},
                name=message["message.function_call_name"],
                arguments=message.get("message.function_call_arguments_json"),
            )
    return builder.text()


def _content_part(builder: FlatMessages, block: Fields) -> None:
    kind = block.get("message_content.type")
    kind_value = kind[1] if kind else None
    if "message_content.text" in block or kind_value == "text":
        builder.part("text", type_item=kind, content=block.get("message_content.text"))
    elif "message_content.image.image.url" in block:
        builder.part(
            "uri", extra={"modality": "image"}, uri=block["message_content.image.image.url"]
        )
    elif kind_value:
        builder.part(str(kind_value), type_item=kind)


def _texts(
    groups: dict[int, Fields], field: str, column: str, role: str, moves: moved.Moves
) -> str | None:
    """One message holding each indexed text as a part (prompts, choices, embedding inputs)."""
    builder = FlatMessages(column, moves)
    builder.start(None, role)
    for index in sorted(groups):
        text = groups[index].get(field)
        if text is not None:
            builder.part("text", content=text)
    return builder.text()


def _value(
    a: dict[str, Any], prefix: str, column: str, role: str, moves: moved.Moves
) -> str | None:
    """Messages from `input.value` / `output.value` when no flattened messages were sent."""
    key = f"{prefix}.value"
    value = a.get(key)
    if type(value) is not str:
        return None
    mime = a.get(f"{prefix}.mime_type")
    if mime is None or mime == "text/plain":
        moves[key] = f"{column}/0/parts/0/content"
        return dumps([{"role": role, "parts": [{"type": "text", "content": value}]}])
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(data) is dict and type(data.get("messages")) is list:
        try:
            return dumps_parsed(from_openai_messages(data["messages"], role))
        except TooDeep:
            return None
    return None
