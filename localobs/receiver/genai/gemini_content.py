"""Gemini's content shape turned into the one message shape every dialect is normalized to.

Gemini speaks `contents`: `[{"role": "user" | "model", "parts": [part, ...]}]`, a part being
`{"text"}` (with `"thought": true` when it is the model's reasoning), `{"functionCall": {name,
args, id}}`, `{"functionResponse": {name, response, id}}`, `{"inlineData": {mimeType, data}}` or
`{"fileData": {mimeType, fileUri}}`. A streamed answer is a list of chunks, each with
`candidates[0].content` holding a piece. Shown as sent this is a screen of JSON; here it becomes
readable messages (messages.py's shape): text as text, thoughts as `reasoning` parts, function
calls and responses as tool calls and tool responses, inline data and files as the conventions'
`blob` and `uri` parts, a streamed answer as one message.
"""

from __future__ import annotations

from typing import Any

import orjson

from localobs.receiver.genai.messages import (
    Message,
    Part,
    text_part,
    tool_call_part,
    tool_response_part,
)

_ROLES = {"model": "assistant", "user": "user", "system": "system", "function": "tool"}


def parse_json_text(text: Any) -> Any:
    """`text` parsed when it is JSON text; otherwise `text` itself (shown literally)."""
    if type(text) is not str:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def from_contents(contents: Any) -> list[Message]:
    """Gemini `contents` (a list of {role, parts}, one content, or plain text) as messages."""
    if type(contents) is dict:
        contents = [contents]
    if type(contents) is not list:
        return [{"role": "user", "parts": [text_part(_as_text(contents))]}] if contents else []
    return [_message(content) for content in contents]


def from_stream(chunks: Any) -> list[Message]:
    """A streamed answer (a list of GenerateContentResponse chunks, or one) as one assistant
    message: its pieces joined, in order; its finish reason the last one sent."""
    if type(chunks) is dict:
        chunks = [chunks]
    if type(chunks) is not list:
        return [{"role": "assistant", "parts": [text_part(_as_text(chunks))]}] if chunks else []
    parts: list[Part] = []
    reason = None
    for chunk in chunks:
        candidate = _first_candidate(chunk)
        if candidate is None:
            continue
        content = candidate.get("content")
        if type(content) is dict:
            parts.extend(_parts(content.get("parts")))
        if type(candidate.get("finishReason")) is str:
            reason = candidate["finishReason"].lower()
    message: Message = {"role": "assistant", "parts": _joined(parts)}
    if reason is not None:
        message["finish_reason"] = reason
    return [message] if message["parts"] or reason is not None else []


def _first_candidate(chunk: Any) -> dict[str, Any] | None:
    if type(chunk) is not dict:
        return None
    candidates = chunk.get("candidates")
    if type(candidates) is not list or not candidates or type(candidates[0]) is not dict:
        return None
    return candidates[0]


def _message(content: Any) -> Message:
    if type(content) is not dict:
        return {"role": "user", "parts": [text_part(_as_text(content))]}
    parts = _joined(_parts(content.get("parts")))
    role = content.get("role")
    role = _ROLES.get(role, role) if type(role) is str and role else "user"
    if parts and all(part["type"] == "tool_call_response" for part in parts):
        role = "tool"  # Gemini sends function responses as the user's turn
    return {"role": role, "parts": parts}


def _parts(parts: Any) -> list[Part]:
    if type(parts) is not list:
        return [text_part(_as_text(parts))] if parts is not None else []
    return [_part(part) for part in parts]


def _part(part: Any) -> Part:
    if type(part) is not dict:
        return text_part(_as_text(part))
    if "text" in part:
        text = _as_text(part["text"])
        if part.get("thought") is True:
            return {"type": "reasoning", "content": text}
        return text_part(text)
    call = part.get("functionCall")
    if type(call) is dict:
        return tool_call_part(call.get("id"), call.get("name"), call.get("args"))
    response = part.get("functionResponse")
    if type(response) is dict:
        return tool_response_part(response.get("id"), response.get("response"))
    blob = part.get("inlineData")
    if type(blob) is dict:
        mime = blob.get("mimeType")
        return {
            "type": "blob",
            "modality": _modality(mime),
            "mime_type": mime,
            "content": blob.get("data"),
        }
    file = part.get("fileData")
    if type(file) is dict:
        mime = file.get("mimeType")
        return {
            "type": "uri",
            "modality": _modality(mime),
            "mime_type": mime,
            "uri": file.get("fileUri"),
        }
    return {"type": "generic", "content": _as_text(part)}


def _modality(mime: Any) -> str | None:
    """The conventions' modality (image, video, audio) of a MIME type; None for others."""
    if type(mime) is not str:
        return None
    kind = mime.partition("/")[0]
    return kind if kind in ("image", "video", "audio") else None


def _joined(parts: list[Part]) -> list[Part]:
    """Consecutive text (or reasoning) pieces of a stream as one part each."""
    joined: list[Part] = []
    for part in parts:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and part["type"] in ("text", "reasoning")
            and previous["type"] == part["type"]
            and type(previous.get("content")) is str
            and type(part.get("content")) is str
        ):
            joined[-1] = {**previous, "content": previous["content"] + part["content"]}
        else:
            joined.append(part)
    return joined


def _as_text(value: Any) -> str:
    """A value that should have been text, as text (JSON for structures), shown literally."""
    if type(value) is str:
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # nested deeper than orjson writes (parsed JSON reads 1024 levels)
        return "(a value nested too deep to show)"
