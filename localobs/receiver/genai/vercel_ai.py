"""Dialect 6: the Vercel AI SDK's own telemetry (`ai.*` spans, AI SDK 3 to 6; AI SDK 7's
`LegacyOpenTelemetry`), recognized by `ai.operationId`.

One SDK function call makes a wrapper span (`ai.generateText`, `ai.streamText`,
`ai.generateObject`, `ai.streamObject`, `ai.embed`, `ai.embedMany`, ...) holding one inner span
per provider call (`ai.generateText.doGenerate`, `ai.streamText.doStream`, `ai.embed.doEmbed`,
...) and one `ai.toolCall` span per executed tool. The inner spans are the model calls; the
wrappers repeat their children's usage, so they are never calls: `ai.generateText` and
`ai.streamText` are agent runs (a loop of model calls and tools, as AI SDK 7 names them
`invoke_agent`), the others workflows. Their usage is left out of their row.

Read: prompts from `ai.prompt.messages` (the SDK's message shape; `ai.prompt` on wrappers),
completions from `ai.response.text` / `ai.response.object`, `ai.response.toolCalls`,
`ai.response.reasoning`; usage from `gen_ai.usage.*` else `ai.usage.*` (both generations of
names); model, provider, settings and finish reason from `gen_ai.*` else `ai.*`. TTFT
(`ai.response.msToFirstChunk`, the `ai.stream.firstChunk` event) is read by `ttft`.

Only `ai.response.text` / `ai.response.object` are moved out of the attributes (the column holds
them verbatim); the JSON attributes are converted, not moved, so they stay as sent for export.
"""

from __future__ import annotations

from typing import Any

import orjson

from localobs.receiver.genai import moved
from localobs.receiver.genai.messages import (
    Message,
    Part,
    text_part,
    tool_call_part,
    tool_response_part,
)
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

OPERATION_KEY = "ai.operationId"
DIALECT = "vercel_ai"
_AGENT_WRAPPERS = frozenset({"ai.generateText", "ai.streamText"})
_CALL_SUFFIXES = (".doGenerate", ".doStream")


def role_of(operation_id: str) -> tuple[str, str | None]:
    """(span role, operation when a model call) of an `ai.operationId`."""
    if operation_id.endswith(_CALL_SUFFIXES):
        return "llm", "chat"
    if operation_id.endswith(".doEmbed"):
        return "embedding", "embeddings"
    if operation_id == "ai.toolCall":
        return "tool", None
    if operation_id.endswith(".doRerank"):
        return "reranker", None
    if operation_id in _AGENT_WRAPPERS:
        return "agent", None
    return "workflow", None


def _first(a: dict[str, Any], keys: tuple[str, ...], read: Any) -> Any:
    for key in keys:
        value = a.get(key)
        if value is not None:
            value = read(value)
            if value is not None:
                return value
    return None


def normalize(
    name: str,
    a: dict[str, Any],
    events: list[dict[str, Any]],
    start_ns: int,
    end_ns: int,
    moves: moved.Moves,
) -> Call:
    """The span's call columns; the content attributes it moved are added to `moves`."""
    operation_id = as_str(a.get(OPERATION_KEY)) or ""
    role, operation = role_of(operation_id)
    is_call = operation is not None
    if operation == "embeddings":
        input_tokens = _first(a, ("gen_ai.usage.input_tokens", "ai.usage.tokens"), as_count)
        output_tokens = None
        input_messages = _values(a.get("ai.values"))
    else:
        input_tokens = _first(
            a,
            ("gen_ai.usage.input_tokens", "ai.usage.inputTokens", "ai.usage.promptTokens"),
            as_count,
        )
        output_tokens = _first(
            a,
            ("gen_ai.usage.output_tokens", "ai.usage.outputTokens", "ai.usage.completionTokens"),
            as_count,
        )
        input_messages = _prompt_messages(a.get("ai.prompt.messages"))
    system = None
    if input_messages is None and "ai.prompt" in a:
        input_messages, system = _prompt(a["ai.prompt"])
    finish = _first(a, ("gen_ai.response.finish_reasons",), str_list) or _first(
        a, ("ai.response.finishReason", "ai.finishReason"), str_list
    )
    output_messages = _output(a, finish, moves) if role in ("llm", "agent", "workflow") else None
    return (
        role,
        operation,
        _first(a, ("gen_ai.system", "gen_ai.provider.name", "ai.model.provider"), as_str),
        _first(a, ("gen_ai.request.model", "ai.model.id"), as_str),
        _first(a, ("gen_ai.response.model", "ai.response.model"), as_str),
        None,  # ttft_ms: filled by dispatch (receiver/genai/ttft.py)
        input_tokens if is_call else None,  # a wrapper repeats its children's usage
        output_tokens if is_call else None,
        _first(a, ("gen_ai.request.temperature", "ai.settings.temperature"), as_float),
        _first(a, ("gen_ai.request.top_p", "ai.settings.topP"), as_float),
        _first(
            a,
            ("gen_ai.request.max_tokens", "ai.settings.maxOutputTokens", "ai.settings.maxTokens"),
            as_count,
        ),
        finish,
        as_str(a.get("error.type")),
        input_messages,
        output_messages,
        system,
        DIALECT,
    )


def _json(value: Any) -> Any:
    """A JSON attribute parsed; None when it is no JSON text."""
    if type(value) is not str:
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def _prompt_messages(value: Any) -> str | None:
    messages = _json(value)
    if type(messages) is not list:
        return None
    try:
        return dumps_parsed([_message(message) for message in messages])
    except TooDeep:
        return None


def _prompt(value: Any) -> tuple[str | None, str | None]:
    """(input messages, system instructions) from a wrapper's `ai.prompt`: {system, prompt,
    messages}, where prompt is a text or a list of messages."""
    prompt = _json(value)
    if type(prompt) is str:
        return dumps([{"role": "user", "parts": [text_part(prompt)]}]), None
    if type(prompt) is not dict:
        return None, None
    system = prompt.get("system")
    system_text = dumps([text_part(system)]) if type(system) is str and system else None
    body = prompt.get("messages", prompt.get("prompt"))
    try:
        if type(body) is str:
            return dumps([{"role": "user", "parts": [text_part(body)]}]), system_text
        if type(body) is list:
            return dumps_parsed([_message(message) for message in body]), system_text
    except TooDeep:
        return None, system_text
    return None, system_text


def _message(message: Any) -> Message:
    """One AI SDK message ({role, content: text | [part]}) in the normalized shape."""
    if type(message) is not dict:
        return {"role": "user", "parts": [text_part(dumps_parsed(message))]}
    role = as_str(message.get("role")) or "user"
    content = message.get("content")
    if type(content) is str:
        return {"role": role, "parts": [text_part(content)]}
    blocks = content if type(content) is list else []
    return {"role": role, "parts": [_part(block) for block in blocks]}


def _part(block: Any) -> Part:
    """An AI SDK content part: text, reasoning, tool-call, tool-result, image or file."""
    if type(block) is not dict:
        return text_part(dumps_parsed(block))
    kind = block.get("type")
    if kind == "text":
        return text_part(block.get("text", ""))
    if kind == "reasoning":
        return {"type": "reasoning", "content": block.get("text", "")}
    if kind == "tool-call":
        arguments = block.get("input", block.get("args"))
        return tool_call_part(block.get("toolCallId"), block.get("toolName"), arguments)
    if kind == "tool-result":
        output = block.get("output", block.get("result"))
        if type(output) is dict and "value" in output:  # AI SDK 5+: {type, value}
            output = output["value"]
        return tool_response_part(block.get("toolCallId"), output)
    if kind in ("image", "file"):
        data = block.get("image", block.get("data"))
        mime = block.get("mediaType", block.get("mimeType"))
        modality = "image" if kind == "image" else _modality(mime)
        if type(data) is str and data.startswith(("http://", "https://")):
            return {"type": "uri", "modality": modality, "mime_type": mime, "uri": data}
        return {"type": "blob", "modality": modality, "mime_type": mime, "content": data}
    return dict(block)


def _modality(mime: Any) -> str | None:
    if type(mime) is str and "/" in mime:
        head = mime.split("/", 1)[0]
        return head if head in ("image", "audio", "video") else None
    return None


def _values(value: Any) -> str | None:
    """An embedding call's inputs (`ai.values`: each value as JSON text) as one user message."""
    if type(value) is not list:
        return None
    parts = []
    for item in value:
        parsed = _json(item)
        parts.append(text_part(parsed if type(parsed) is str else item))
    try:
        return dumps_parsed([{"role": "user", "parts": parts}]) if parts else None
    except TooDeep:
        return None


def _output(a: dict[str, Any], finish: str | None, moves: moved.Moves) -> str | None:
    """One assistant message: the text (or object) first, then reasoning and tool calls."""
    parts: list[Part] = []
    for key in ("ai.response.text", "ai.response.object"):
        text = a.get(key)
        if type(text) is str:
            moves[key] = f"out/0/parts/{len(parts)}/content"
            parts.append(text_part(text))
    reasoning = a.get("ai.response.reasoning")
    if type(reasoning) is str and reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    calls = _json(a.get("ai.response.toolCalls"))
    for call in calls if type(calls) is list else ():
        if type(call) is dict:
            arguments = call.get("input", call.get("args"))
            parts.append(tool_call_part(call.get("toolCallId"), call.get("toolName"), arguments))
    if not parts:
        return None
    message: Message = {"role": "assistant", "parts": parts}
    reasons = orjson.loads(finish) if finish else None
    if reasons:
        message["finish_reason"] = reasons[0]
    try:
        return dumps_parsed([message])
    except TooDeep:
        for key in ("ai.response.text", "ai.response.object"):
            moves.pop(key, None)
        return None
