"""Stored message JSON (the normalized GenAI shape) to frozen Message and Part values.

The shape: `[{"role", "parts": [{"type": "text", "content"}, {"type": "tool_call", "id", "name",
"arguments"}, {"type": "tool_call_response", "id", "response"}, ...], "finish_reason"?}]`.
Anything else a part carries is kept as JSON text in `content`, so nothing is hidden. Binary
data (a blob's base64, a `data:` URI) also gets its MIME type and decoded size, which screens show
instead of the data.
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
    mime_type: str | None = None  # blob, uri, file: the data's MIME type (or modality) if sent
    size: int | None = None  # blob or data URI: bytes of the data it holds


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


def base64_size(text: str) -> int:
    """Bytes that base64 text decodes to (without decoding it)."""
    text = text.strip()
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def _kind_of_data(raw: dict[str, Any], sniffed: str | None = None) -> str | None:
    """The data's MIME type as sent, else `sniffed` (from a data URI), else its modality."""
    for key in ("mime_type", "mimeType", "media_type"):
        if isinstance(raw.get(key), str) and raw[key]:
            return str(raw[key])
    modality = raw.get("modality")
    return sniffed or (modality if isinstance(modality, str) and modality else None)


def _uri(raw: dict[str, Any], kind: str) -> Part:
    """A uri part; of a `data:` URI also the type and size of the data it holds."""
    uri = raw["uri"]
    sniffed = size = None
    if uri.startswith("data:") and "," in uri[:200]:
        head, data = uri.split(",", 1)
        sniffed = head[5:].split(";")[0] or None
        size = base64_size(data) if head.endswith(";base64") else len(data)
    return Part(kind, uri, mime_type=_kind_of_data(raw, sniffed), size=size)


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
    if kind == "blob":
        data = raw.get("content")
        size = base64_size(data) if isinstance(data, str) else None
        return Part(kind, _text(data), mime_type=_kind_of_data(raw), size=size)
    if kind == "file":
        file_id = raw.get("file_id", raw.get("uri"))
        return Part(kind, _str_or_none(file_id), mime_type=_kind_of_data(raw))
    if kind == "server_tool_call":
        details = raw.get("server_tool_call")
        return Part(
            kind,
            name=_str_or_none(raw.get("name")),
            id=_str_or_none(raw.get("id")),
            arguments=_text(details),
        )
    if kind == "server_tool_call_response":
        details = raw.get("server_tool_call_response")
        return Part(kind, _text(details), id=_str_or_none(raw.get("id")))
    if isinstance(raw.get("uri"), str):
        return _uri(raw, kind)
    if "content" in raw:
        return Part(kind, _text(raw["content"]))
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
            text = " ".join(p.content for p in message.parts if p.type == "text" and p.content)
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
