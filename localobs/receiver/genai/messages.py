"""Builders of the one message shape every dialect is normalized to (GenAI semconv 1.37+).

A message is `{"role": str, "parts": [part, ...]}` (output messages add `"finish_reason"`); a
part is `{"type": "text", "content"}`, `{"type": "tool_call", "id", "name", "arguments"}`,
`{"type": "tool_call_response", "id", "response"}`, `{"type": "uri", "modality", "uri"}`, or any
other `{"type": ...}` dict kept as sent. Tool call arguments are kept as sent (a JSON string from
flattened dialects, an object from structured ones), so stored values stay verbatim.
"""

from __future__ import annotations

from typing import Any

from localobs.receiver.genai.record import TooDeep

Message = dict[str, Any]
Part = dict[str, Any]


def text_part(content: Any) -> Part:
    return {"type": "text", "content": content}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> Part:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response_part(call_id: Any, response: Any) -> Part:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def is_message_list(value: Any) -> bool:
    """True when `value` already has the normalized shape (a list of {role, parts} dicts)."""
    if type(value) is not list:
        return False
    for item in value:
        if type(item) is not dict or type(item.get("parts")) is not list:
            return False
    return True


def is_part_list(value: Any) -> bool:
    return type(value) is list and all(type(item) is dict and "type" in item for item in value)


def openai_content_parts(content: Any) -> list[Part]:
    """Parts from an OpenAI-style `content`: a string, a list of content blocks, or nothing."""
    if content is None or content == "":
        return []
    if type(content) is list:
        return [_openai_block(block) for block in content]
    return [text_part(content if type(content) is str else _text(content))]


def _text(value: Any) -> str:
    """A non-string content value as text. Parsed from attribute text, it may be nested past
    Python's recursion limit (orjson reads 1024 levels): that is TooDeep, not a failure."""
    try:
        return str(value)
    except RecursionError as exc:
        raise TooDeep("content nested too deep to show as text") from exc


def _openai_block(block: Any) -> Part:
    if type(block) is not dict:
        return text_part(_text(block))
    kind = block.get("type")
    if kind == "text":
        return text_part(block.get("text", ""))
    if kind == "image_url":
        image = block.get("image_url")
        url = image.get("url") if type(image) is dict else image
        return {"type": "uri", "modality": "image", "uri": url}
    return dict(block)


def openai_tool_calls(tool_calls: Any) -> list[Part]:
    """tool_call parts from OpenAI `tool_calls` ([{id, type, function: {name, arguments}}])."""
    parts = []
    for call in tool_calls if type(tool_calls) is list else ():
        if type(call) is not dict:
            continue
        function = call.get("function")
        function = function if type(function) is dict else {}
        parts.append(
            tool_call_part(call.get("id"), function.get("name"), function.get("arguments"))
        )
    return parts


def from_openai_message(message: Any, role: str | None = None) -> Message:
    """One OpenAI chat message ({role, content, tool_calls, tool_call_id}) in normalized shape."""
    if type(message) is not dict:
        return {"role": role or "user", "parts": openai_content_parts(message)}
    role = message.get("role") or role or "user"
    content = message.get("content")
    if role == "tool":
        call_id = message.get("tool_call_id", message.get("id"))
        return {"role": role, "parts": [tool_response_part(call_id, content)]}
    parts = openai_content_parts(content)
    parts.extend(openai_tool_calls(message.get("tool_calls")))
    normalized: Message = {"role": role, "parts": parts}
    if message.get("finish_reason") is not None:
        normalized["finish_reason"] = message["finish_reason"]
    return normalized


def from_openai_messages(messages: Any, role: str) -> list[Message]:
    """A list of OpenAI-style messages (or one) in normalized shape; `role` when none is given."""
    if type(messages) is not list:
        messages = [messages]
    return [from_openai_message(message, role) for message in messages]
