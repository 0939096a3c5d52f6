"""Stored message JSON (the normalized GenAI shape) to frozen Message and Part values.

The shape: `[{"role", "parts": [{"type": "text", "content"}, {"type": "tool_call", "id", "name",
"arguments"}, {"type": "tool_call_response", "id", "response"}, ...], "finish_reason"?}]`.
Anything else a part carries is kept as JSON text in `content`, so nothing is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PREVIEW_CHARS = 200


@dataclass(frozen=True, slots=True)
class Part:
    type: str
    content: str | None = None
    name: str | None = None
    id: str | None = None
    arguments: str | None = None  # JSON text, as the model produced it


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    parts: tuple[Part, ...]
    finish_reason: str | None = None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


# What libraries call a tool response's value: the conventions' `response`, then the variants
# real senders use (Pydantic AI and others `result`, OpenAI-style `content`, `output`).
_TOOL_RESPONSE_FIELDS = ("response", "result", "content", "output")


def _tool_response(raw: dict[str, Any]) -> Any:
    for field in _TOOL_RESPONSE_FIELDS:
        if field in raw:
            return raw[field]
    return None


def parse_part(raw: Any) -> Part:
    if not isinstance(raw, dict):
        return Part("text", _text(raw))
    kind = raw.get("type")
    kind = kind if isinstance(kind, str) else "unknown"
    if kind == "text":
        return Part(kind, _text(raw.get("content")))
    if kind == "tool_call":
        return Part(
            kind,
            name=_str_or_none(raw.get("name")),
            id=_str_or_none(raw.get("id")),
            arguments=_text(raw.get("arguments")),
        )
    if kind == "tool_call_response":
        return Part(kind, _text(_tool_response(raw)), id=_str_or_none(raw.get("id")))
    if "content" in raw:
        return Part(kind, _text(raw["content"]))
    if isinstance(raw.get("uri"), str):
        return Part(kind, raw["uri"])
    rest = {key: value for key, value in raw.items() if key != "type"}
    return Part(kind, _text(rest) if rest else None)


def _load(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def parse_messages(text: str | None) -> list[Message]:
    value = _load(text)
    if value is None:
        return []
    if not isinstance(value, list):
        return [Message("unknown", (parse_part(value),))]
    messages = []
    for raw in value:
        if isinstance(raw, dict) and isinstance(raw.get("parts"), list):
            finish = raw.get("finish_reason")
            messages.append(
                Message(
                    str(raw.get("role") or "unknown"),
                    tuple(parse_part(part) for part in raw["parts"]),
                    finish if isinstance(finish, str) else None,
                )
            )
        else:
            messages.append(Message("unknown", (parse_part(raw),)))
    return messages


def parse_parts(text: str | None) -> list[Part]:
    """System instructions: a list of parts (messages, if sent that way, are flattened)."""
    value = _load(text)
    if value is None:
        return []
    if not isinstance(value, list):
        return [parse_part(value)]
    parts: list[Part] = []
    for raw in value:
        if isinstance(raw, dict) and isinstance(raw.get("parts"), list):
            parts.extend(parse_part(part) for part in raw["parts"])
        else:
            parts.append(parse_part(raw))
    return parts


def preview(input_messages: str | None) -> str:
    """The start of the last user message, on one line; '' when there is none."""
    for message in reversed(parse_messages(input_messages)):
        if message.role == "user":
            text = " ".join(part.content for part in message.parts if part.content)
            return " ".join(text[: PREVIEW_CHARS * 4].split())[:PREVIEW_CHARS]
    return ""


def tool_calls_preview(output_messages: str | None) -> str:
    """The tools a call asked for, as `name(arguments)` on one line; '' when it asked none.

    Most answers are text: a substring check spares them the JSON parse.
    """
    if not output_messages or '"tool_call"' not in output_messages:
        return ""
    calls = [
        f"{part.name or '?'}({part.arguments or ''})"
        for message in parse_messages(output_messages)
        for part in message.parts
        if part.type == "tool_call"
    ]
    return " ".join(", ".join(calls).split())[:PREVIEW_CHARS]
